"""The console in the stack (infra/constructs/console.py): no route without authentication, pages only
through CloudFront, the API under the same distribution, the URL and user pool among the outputs."""

from __future__ import annotations

from typing import Any

from infra_synth import Synthesized
from stratoflow._platform.infra.constructs.console import API_PREFIX, IAM_PREFIX, TOKEN_HEADER
from stratoflow._platform.infra.nag import render_cfn

from stratoflow.console.pages import SECURITY_HEADERS


def _routes(synth: Synthesized) -> dict[str, dict[str, Any]]:
    return {
        route["Properties"]["RouteKey"]: route["Properties"]
        for route in synth.resources("AWS::ApiGatewayV2::Route").values()
    }


def test_every_route_of_every_api_needs_a_user_or_iam_credentials(synth: Synthesized) -> None:
    # Given the synthesized stack's HTTP API routes (every API of the stack, not only the console's)
    routes = _routes(synth)
    authorizers = synth.resources("AWS::ApiGatewayV2::Authorizer")

    # Then each one is either a JWT route checked by the console's user pool, or an IAM route
    assert routes, "the console API has routes"
    assert not synth.resources("AWS::ApiGatewayV2::Api").keys() - {
        synth.logical_id(synth.platform.console.api)
    }
    for key, route in routes.items():
        method, path = key.split(" ", 1)
        assert method == "ANY" and key != "$default", key
        if path.startswith(IAM_PREFIX + "/"):
            assert route["AuthorizationType"] == "AWS_IAM", key
        else:
            assert path == API_PREFIX or path.startswith(API_PREFIX + "/"), key
            assert route["AuthorizationType"] == "JWT", key
            assert route["AuthorizerId"]["Ref"] in authorizers, key
    assert set(routes) == {
        "ANY /api",
        "ANY /api/{proxy+}",
        "ANY /iam/api",
        "ANY /iam/api/{proxy+}",
    }


def test_the_jwt_authorizer_trusts_the_console_user_pool_and_its_pages_client_only(
    synth: Synthesized,
) -> None:
    # Given the one authorizer
    ((authorizer),) = synth.resources("AWS::ApiGatewayV2::Authorizer").values()
    props = authorizer["Properties"]
    console = synth.platform.console

    # Then tokens come from the header CloudFront fills, and are checked against the pool and client
    assert props["AuthorizerType"] == "JWT"
    assert props["IdentitySource"] == [f"$request.header.{TOKEN_HEADER}"]
    issuer = render_cfn(props["JwtConfiguration"]["Issuer"])
    assert issuer.endswith(f"/<{synth.logical_id(console.user_pool)}>")
    assert issuer.startswith("https://cognito-idp.<AWS::Region>.amazonaws.com")
    assert props["JwtConfiguration"]["Audience"] == [{"Ref": synth.logical_id(console.client)}]


def test_users_are_added_by_an_administrator_and_the_admins_group_exists(synth: Synthesized) -> None:
    pool = synth.resource(synth.platform.console.user_pool)["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["UserPoolTier"] == "ESSENTIALS"
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    groups = [g["Properties"]["GroupName"] for g in synth.resources("AWS::Cognito::UserPoolGroup").values()]
    assert groups == ["admins"]
    ((client),) = synth.resources("AWS::Cognito::UserPoolClient").values()
    assert client["Properties"]["GenerateSecret"] is False  # a browser keeps no secret: PKCE
    assert client["Properties"]["AllowedOAuthFlows"] == ["code"]


def test_pages_are_reachable_only_through_the_distribution_and_the_api_is_under_it(
    synth: Synthesized,
) -> None:
    # Given the distribution and the pages bucket
    console = synth.platform.console
    config = synth.resource(console.distribution)["Properties"]["DistributionConfig"]
    bucket = synth.resource(console.pages_bucket)["Properties"]

    # Then the bucket is private and only CloudFront (origin access control) reads it
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    ((s3_origin),) = [o for o in config["Origins"] if "S3OriginConfig" in o]  # pages and sign-in share it
    assert s3_origin["OriginAccessControlId"]
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in synth.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": synth.logical_id(console.pages_bucket)}
    ]
    readers = [
        statement for statements in policies for statement in statements if statement["Effect"] == "Allow"
    ]
    assert [s["Principal"] for s in readers] == [{"Service": "cloudfront.amazonaws.com"}]
    # And /api/* goes to the HTTP API, never cached, with the sign-in function on every behavior
    ((api),) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == f"{API_PREFIX}/*"]
    assert api["TargetOriginId"] != config["DefaultCacheBehavior"]["TargetOriginId"]
    assert api["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CachingDisabled
    assert set(api["AllowedMethods"]) >= {"GET", "POST", "DELETE"}
    for behavior in (api, config["DefaultCacheBehavior"]):
        assert [f["EventType"] for f in behavior["FunctionAssociations"]] == ["viewer-request"]
        assert behavior["ViewerProtocolPolicy"] in ("https-only", "redirect-to-https")


def test_console_url_and_user_pool_are_stack_outputs(synth: Synthesized) -> None:
    outputs = synth.cfn["Outputs"]
    console = synth.platform.console
    url = render_cfn(outputs["ConsoleUrl"]["Value"])
    assert url == f"https://<{synth.logical_id(console.distribution)}.DomainName>"
    assert outputs["ConsoleUserPoolId"]["Value"] == {"Ref": synth.logical_id(console.user_pool)}


def test_the_console_function_reaches_only_the_stack_and_its_flows(synth: Synthesized) -> None:
    # Given the console function's role
    role = synth.platform.console.function.role
    storage = synth.platform.storage

    # Then it starts and resumes the stack's flows, stops their runs, and reads the stack's storage
    assert synth.resources_allowed(role, "states:StartExecution") == [
        "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:Stratoflow-*"
    ]
    assert synth.resources_allowed(role, "states:StopExecution") == [
        "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:Stratoflow-*"
    ]
    table = synth.logical_id(storage.table)
    assert set(synth.resources_allowed(role, "dynamodb:Query")) == {
        f"<{table}.Arn>",
        f"<{table}.Arn>/index/*",
    }
    data = synth.logical_id(storage.data_bucket)
    assert f"<{data}.Arn>/*" in synth.resources_allowed(role, "s3:GetObject*")
    assert not synth.resources_allowed(role, "iam:PassRole")
    assert not synth.resources_allowed(role, "lambda:InvokeFunction")


def test_a_flood_of_requests_is_throttled_at_the_stage(synth: Synthesized) -> None:
    ((stage),) = synth.resources("AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["DefaultRouteSettings"]
    # The README's promise: 50 requests per second, bursts of 100
    assert (settings["ThrottlingRateLimit"], settings["ThrottlingBurstLimit"]) == (50, 100)
    assert stage["Properties"]["AccessLogSettings"]["DestinationArn"]


def test_pages_carry_strato_servers_security_headers_and_sign_in_may_reach_cognito(
    synth: Synthesized,
) -> None:
    # Given the response headers policies of the distribution's behaviors
    policies = {
        logical_id: policy["Properties"]["ResponseHeadersPolicyConfig"]
        for logical_id, policy in synth.resources("AWS::CloudFront::ResponseHeadersPolicy").items()
    }
    config = synth.resource(synth.platform.console.distribution)["Properties"]["DistributionConfig"]
    by_path = {b["PathPattern"]: b for b in config["CacheBehaviors"]}

    def csp(behavior: dict[str, Any]) -> str:
        policy = policies[behavior["ResponseHeadersPolicyId"]["Ref"]]
        return str(policy["SecurityHeadersConfig"]["ContentSecurityPolicy"]["ContentSecurityPolicy"])

    # Then the pages get the console's own policy, and only the sign-in page may call Cognito
    assert csp(config["DefaultCacheBehavior"]) == SECURITY_HEADERS["content-security-policy"]
    assert "connect-src 'self' https://*.amazoncognito.com" in csp(by_path["/auth/*"])
    assert "script-src 'self'" in csp(by_path["/auth/*"])
    # And the pages are copied under static/ (as strato server serves them) and the sign-in page under auth/
    deployments = synth.resources("Custom::CDKBucketDeployment").values()
    assert sorted(d["Properties"]["DestinationBucketKeyPrefix"] for d in deployments) == ["auth/", "static/"]
