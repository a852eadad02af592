"""The five platform functions: runtime, code, layer, limits, observability and settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from infra_synth import REPO_ROOT, Synthesized
from stratoflow._platform.infra.constructs.functions import FUNCTION_SPECS, RUNTIME_ENVIRONMENT

from bench.cold_start import handler_env

NAMES = ("task_runner", "deployer", "admission", "execution_events", "webhook")

# The settings each function reads (stratoflow.cloud.config.settings.Settings); the stack sets exactly these.
COMMON = {
    "STRATOFLOW_HISTORY_DAYS",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "LOG_LEVEL",
    "STRATOFLOW_STACK_NAME",
    "STRATOFLOW_TABLE_NAME",
    "STRATOFLOW_DATA_BUCKET",
    "PYDANTIC_DISABLE_PLUGINS",
}
EXPECTED_ENVIRONMENT = {
    "task_runner": COMMON
    | {
        "STRATOFLOW_ADMISSION_ARN",
        "STRATOFLOW_SECRETS_BACKEND",
        "STRATOFLOW_SECRETS_PREFIX",
        "STRATOFLOW_FLOW_ROLE_PREFIX",
        "STRATOFLOW_EVENT_BUS_NAME",  # "Execution Paused" (Flow triggers on PAUSED)
        "STRATOFLOW_SCRIPT_SANDBOXES",  # scripts run in their flow's sandbox function
    },
    "deployer": COMMON
    | {
        "STRATOFLOW_FLOWS_BUCKET",
        "STRATOFLOW_TASK_RUNNER_ARN",
        "STRATOFLOW_ADMISSION_ARN",
        "STRATOFLOW_STATE_MACHINE_ROLE_ARN",
        "STRATOFLOW_STATE_MACHINE_LOG_GROUP_ARN",
        "STRATOFLOW_SCHEDULER_ROLE_ARN",
        "STRATOFLOW_SCHEDULE_GROUP",
        "STRATOFLOW_ALERT_TOPIC_ARN",
        "STRATOFLOW_EVENT_BUS_NAME",
        "STRATOFLOW_DLQ_ARN",
        "STRATOFLOW_EVENTS_RULE_PREFIX",
        "STRATOFLOW_PIPE_BOUNDARY_ARN",
        "STRATOFLOW_TASK_RUNNER_ROLE_ARN",
        "STRATOFLOW_FLOW_BASE_POLICY_ARN",
        "STRATOFLOW_FLOW_BOUNDARY_ARN",
        # What the deployer needs to create each script flow's sandbox function
        "STRATOFLOW_SANDBOX_CODE_BUCKET",
        "STRATOFLOW_SANDBOX_CODE_KEY",
        "STRATOFLOW_SANDBOX_LOG_DAYS",
        "STRATOFLOW_PLATFORM_LAYER_ARN",
    },
    "admission": COMMON,
    "execution_events": COMMON
    | {
        "STRATOFLOW_EVENT_BUS_NAME",
        "STRATOFLOW_ALERT_TOPIC_ARN",
        # Delayed flow retries: a one-time schedule that calls admission.
        "STRATOFLOW_ADMISSION_ARN",
        "STRATOFLOW_SCHEDULER_ROLE_ARN",
        "STRATOFLOW_SCHEDULE_GROUP",
        "STRATOFLOW_DLQ_ARN",
    },
    "webhook": COMMON
    | {"STRATOFLOW_ADMISSION_ARN", "STRATOFLOW_SECRETS_BACKEND", "STRATOFLOW_SECRETS_PREFIX"},
}


def test_there_is_one_function_per_handler_folder(synth: Synthesized) -> None:
    assert [spec.name for spec in FUNCTION_SPECS] == list(NAMES)
    assert set(synth.platform.functions.by_name) == set(NAMES)
    # The platform's functions, housekeeping's, the console's (infra/constructs/console.py), CDK's
    # page copier and CDK's provider framework (housekeeping's custom resource)
    synth.template.resource_count_is("AWS::Lambda::Function", len(NAMES) + 4)
    folders = {path.parent.name for path in (REPO_ROOT / "functions").glob("*/handler.py")}
    # script_sandbox is no stack function: its code is an asset the deployer gives each script flow's
    # own sandbox function (infra/constructs/script_sandbox.py)
    assert folders == {*NAMES, "housekeeping", "console", "script_sandbox"}
    for name in folders:
        assert (REPO_ROOT / "functions" / name / "__init__.py").is_file()


@pytest.mark.parametrize("name", NAMES)
def test_function_runs_the_thin_handler_on_python_312_arm64(synth: Synthesized, name: str) -> None:
    function = synth.platform.functions.by_name[name]
    properties = synth.resource(function)["Properties"]

    assert properties["Runtime"] == "python3.12"
    assert properties["Architectures"] == ["arm64"]
    assert properties["Handler"] == "handler.lambda_handler"
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["Layers"] == [{"Ref": synth.logical_id(synth.platform.functions.layer)}]
    # Only the webhook's is reserved (see test_a_webhook_flood_cannot_take_more_than_the_reserved_concurrency)
    assert ("ReservedConcurrentExecutions" in properties) == (name == "webhook")


@pytest.mark.parametrize("name", NAMES)
def test_function_code_is_its_folder_without_build_litter(synth: Synthesized, name: str) -> None:
    # Given the asset CDK staged for the function
    code = synth.resource(synth.platform.functions.by_name[name])["Properties"]["Code"]
    staged = synth.outdir / f"asset.{code['S3Key'].removesuffix('.zip')}"
    source = REPO_ROOT / "functions" / name

    # Then it holds the files of functions/<name>/, and no byte code
    def files(root: Path) -> set[str]:
        return {
            path.relative_to(root).as_posix()
            for path in root.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
        }

    assert files(staged) == files(source)
    assert not list(staged.rglob("__pycache__"))


def test_limits_fit_each_function(synth: Synthesized) -> None:
    limits = {
        name: (
            synth.resource(function)["Properties"]["Timeout"],
            synth.resource(function)["Properties"]["MemorySize"],
        )
        for name, function in synth.platform.functions.by_name.items()
    }
    assert limits["task_runner"] == (900, 1024)
    for name, (timeout, memory) in limits.items():
        assert 10 <= timeout <= 900 and memory >= 256, name


def test_a_deployment_lease_outlives_any_deployer_invocation(synth: Synthesized) -> None:
    # A lease expires only once its holder is gone: Lambda stops the deployer before the lease ends
    from stratoflow.cloud.deploy.registry import LEASE_SECONDS

    timeout = synth.resource(synth.platform.functions.deployer)["Properties"]["Timeout"]
    assert timeout < LEASE_SECONDS <= timeout + 120


def test_reserved_concurrency_is_set_only_where_the_stack_config_asks(
    synth: Synthesized, custom_synth: Synthesized
) -> None:
    # Given the default stack, and one whose config reserves 20 for the task runner
    def reserved(stack: Synthesized) -> dict[str, object]:
        return {
            name: stack.resource(function)["Properties"].get("ReservedConcurrentExecutions")
            for name, function in stack.platform.functions.by_name.items()
        }

    # Then the default reserves only the webhook's 10 (`webhookConcurrency`: a flood of requests
    # cannot starve task runs), nothing else (new accounts' concurrency quota may be too low for more)
    assert reserved(synth) == {name: (10 if name == "webhook" else None) for name in NAMES}
    # ... and the custom one reserves exactly what it asked for (its webhookConcurrency is 3)
    assert reserved(custom_synth) == {name: {"task_runner": 20, "webhook": 3}.get(name) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_function_gets_the_settings_it_reads(synth: Synthesized, name: str) -> None:
    environment = synth.environment(synth.platform.functions.by_name[name])

    assert set(environment) == EXPECTED_ENVIRONMENT[name]
    assert environment["POWERTOOLS_SERVICE_NAME"] == "stratoflow-" + name.replace("_", "-")
    assert environment["POWERTOOLS_METRICS_NAMESPACE"] == "Stratoflow"
    assert environment["LOG_LEVEL"] == "INFO"
    assert environment["STRATOFLOW_STACK_NAME"] == "Stratoflow"
    assert environment["STRATOFLOW_HISTORY_DAYS"] == "30"  # dataRetentionDays: the records' TTL
    assert environment["STRATOFLOW_TABLE_NAME"] == {"Ref": synth.logical_id(synth.platform.storage.table)}
    assert environment["STRATOFLOW_DATA_BUCKET"] == {
        "Ref": synth.logical_id(synth.platform.storage.data_bucket)
    }
    # No pydantic plugin is in the layer: the entry-point scan of its first model is skipped at INIT
    assert environment["PYDANTIC_DISABLE_PLUGINS"] == "__all__"


def test_the_cold_start_benchmark_imports_the_handlers_with_the_functions_environment(
    synth: Synthesized,
) -> None:
    # Given what the stack sets on the task runner beyond the settings and Powertools' names
    environment = synth.environment(synth.platform.functions.by_name["task_runner"])

    # When bench/cold_start.py builds the environment it imports the handlers with
    measured = handler_env()

    # Then the variables that change how the import runs are the stack's
    assert {name: measured.get(name) for name in RUNTIME_ENVIRONMENT} == {
        name: environment[name] for name in RUNTIME_ENVIRONMENT
    }


def test_deployer_settings_point_at_the_stack_resources(synth: Synthesized) -> None:
    platform = synth.platform
    environment = synth.environment(platform.functions.deployer)

    assert environment["STRATOFLOW_FLOWS_BUCKET"] == {"Ref": synth.logical_id(platform.storage.flows_bucket)}
    assert environment["STRATOFLOW_TASK_RUNNER_ARN"] == {
        "Fn::GetAtt": [synth.logical_id(platform.functions.task_runner), "Arn"]
    }
    assert environment["STRATOFLOW_ADMISSION_ARN"] == {
        "Fn::GetAtt": [synth.logical_id(platform.functions.admission), "Arn"]
    }
    assert environment["STRATOFLOW_STATE_MACHINE_ROLE_ARN"] == {
        "Fn::GetAtt": [synth.logical_id(platform.deployer.state_machine_role.role), "Arn"]
    }
    assert environment["STRATOFLOW_SCHEDULER_ROLE_ARN"] == {
        "Fn::GetAtt": [synth.logical_id(platform.triggers.scheduler_role), "Arn"]
    }
    assert environment["STRATOFLOW_DLQ_ARN"] == {
        "Fn::GetAtt": [synth.logical_id(platform.triggers.dead_letter_queue), "Arn"]
    }
    assert environment["STRATOFLOW_ALERT_TOPIC_ARN"] == {"Ref": synth.logical_id(platform.alerts.topic)}
    assert environment["STRATOFLOW_SCHEDULE_GROUP"] == "Stratoflow"
    assert environment["STRATOFLOW_EVENT_BUS_NAME"] == "default"
    assert environment["STRATOFLOW_EVENTS_RULE_PREFIX"] == "Stratoflow-"


def test_each_function_logs_to_its_own_group_with_the_retention_from_context(
    synth: Synthesized, custom_synth: Synthesized
) -> None:
    for synthesized, days in ((synth, 30), (custom_synth, 14)):
        groups = synthesized.resources("AWS::Logs::LogGroup")
        used = []
        for function in synthesized.platform.functions.by_name.values():
            group_ref = synthesized.resource(function)["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            assert groups[group_ref]["Properties"]["RetentionInDays"] == days
            used.append(group_ref)
        assert len(set(used)) == len(NAMES)


def test_context_sets_log_level_and_stack_name(custom_synth: Synthesized) -> None:
    environment = custom_synth.environment(custom_synth.platform.functions.deployer)

    assert environment["LOG_LEVEL"] == "DEBUG"
    assert environment["STRATOFLOW_STACK_NAME"] == "StratoDev"
    assert environment["STRATOFLOW_EVENTS_RULE_PREFIX"] == "StratoDev-"
    assert environment["STRATOFLOW_SCHEDULE_GROUP"] == "StratoDev"


def test_layer_is_built_for_the_functions_platform(synth: Synthesized) -> None:
    properties = synth.resource(synth.platform.functions.layer)["Properties"]

    assert properties["CompatibleRuntimes"] == ["python3.12"]
    assert properties["CompatibleArchitectures"] == ["arm64"]


def test_webhook_has_a_public_function_url(synth: Synthesized) -> None:
    webhook = {"Fn::GetAtt": [synth.logical_id(synth.platform.functions.webhook), "Arn"]}

    synth.template.has_resource_properties(
        "AWS::Lambda::Url", {"AuthType": "NONE", "TargetFunctionArn": webhook}
    )
    synth.template.resource_count_is("AWS::Lambda::Url", 1)


def test_a_webhook_flood_cannot_take_more_than_the_reserved_concurrency(
    synth: Synthesized, custom_synth: Synthesized
) -> None:
    webhook = synth.resource(synth.platform.functions.webhook)["Properties"]
    others = [
        synth.resource(f)["Properties"] for n, f in synth.platform.functions.by_name.items() if n != "webhook"
    ]

    assert webhook["ReservedConcurrentExecutions"] == 10
    assert all("ReservedConcurrentExecutions" not in properties for properties in others)
    custom = custom_synth.resource(custom_synth.platform.functions.webhook)["Properties"]
    assert custom["ReservedConcurrentExecutions"] == 3


def test_the_deployer_gets_the_namespace_grants_when_the_stack_sets_them(
    synth: Synthesized, custom_synth: Synthesized
) -> None:
    assert "STRATOFLOW_NAMESPACE_GRANTS" not in synth.environment(synth.platform.functions.deployer)
    custom = custom_synth.environment(custom_synth.platform.functions.deployer)
    assert custom["STRATOFLOW_NAMESPACE_GRANTS"] == '{"team.a": ["arn:aws:s3:::team-a-*"]}'
