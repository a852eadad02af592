"""The housekeeping custom resource: deleted before the policies the flows' roles use, and allowed
to delete only what the deployer names with the stack's prefix."""

from __future__ import annotations

from infra_synth import Synthesized

PREFIXED = {
    "states:DeleteStateMachine": "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:Stratoflow-*",
    "cloudwatch:DeleteAlarms": "arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:Stratoflow-*",
    "pipes:DeletePipe": "arn:<AWS::Partition>:pipes:<AWS::Region>:<AWS::AccountId>:pipe/Stratoflow-*",
    # boundaries built on an operator's policy that an update of the template left to roles
    "iam:DeletePolicy": "arn:<AWS::Partition>:iam::<AWS::AccountId>:policy/stratoflow/Stratoflow-flow-boundary-*",
}
# The flows' roles and their pipes' roles.
ROLES = [
    "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/stratoflow/Stratoflow-flow-*",
    "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/stratoflow/Stratoflow-pipe-*",
]


def test_the_custom_resource_goes_before_the_flow_policies_and_roles(synth: Synthesized) -> None:
    housekeeping = synth.platform.housekeeping
    resource = synth.cfn["Resources"][
        synth.stack.resolve(synth.stack.get_logical_id(housekeeping.resource.node.default_child))
    ]
    deployer = synth.platform.deployer

    # CloudFormation deletes a resource before those it depends on
    assert resource["Type"] == "Custom::StratoflowHousekeeping"
    assert {
        synth.logical_id(deployer.flow_role_boundary.policy),
        synth.logical_id(deployer.state_machine_role.base_policy),
        synth.logical_id(deployer.state_machine_role.role),
        synth.logical_id(synth.platform.triggers.pipe_role_boundary),
    } <= set(resource["DependsOn"])


def test_the_function_deletes_only_what_the_stack_prefix_names(synth: Synthesized) -> None:
    role = synth.platform.housekeeping.role
    for action, resource in PREFIXED.items():
        assert synth.resources_allowed(role, action) == [resource], action
    assert synth.resources_allowed(role, "iam:DeleteRole") == ROLES
    rules = synth.resources_allowed(role, "events:DeleteRule")
    assert sorted(rules) == [
        "arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/*/Stratoflow-*",
        "arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:rule/Stratoflow-*",
    ]
    assert synth.resources_allowed(role, "cloudformation:DescribeStacks") == ["<AWS::StackId>"]


def test_the_function_knows_the_stack_it_cleans(synth: Synthesized) -> None:
    environment = synth.environment(synth.platform.housekeeping.function)

    assert environment["STRATOFLOW_STACK_NAME"] == "Stratoflow"
