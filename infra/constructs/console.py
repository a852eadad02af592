"""The web console in the stack: pages from S3 and the API from a Lambda, behind one CloudFront
distribution, signed in with a Cognito user pool.

```
browser ──► CloudFront ──► /api/*  ──► HTTP API (JWT authorizer: the user pool) ──► console Lambda
                       └─► /*      ──► pages bucket (origin access control)
programs ─(SigV4)─► HTTP API /iam/api/* (IAM authorizer) ──────────────────────► console Lambda
```

The pages and the API share one origin, so the pages call `/api/...` with no CORS. Sign-in is
Cognito's managed login with PKCE, done by `/auth/sign-in.html` (infra/console_auth/) in the browser;
it keeps the access token in a `Secure; SameSite=Strict` cookie. A CloudFront Function turns that
cookie (or an `Authorization: Bearer` header) into the `x-strato-token` header that the JWT authorizer
checks on every `/api/` route, and sends a browser with no token to the sign-in page. The pages
themselves are the static files of the public package (same paths and security headers as `strato
server`) and hold no data: everything they show comes from the API. The CloudFront Function cannot
verify a token's signature, so a page's files are served to anyone holding some cookie; no data is.

Self-contained on purpose: the stack adds it with one line (`Console(self, "Console", ...)`).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from aws_cdk import Aws, CfnOutput, Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from stratoflow.console.pages import SECURITY_HEADERS as PAGE_SECURITY_HEADERS

from ..config import StratoflowProps
from ..grants import (
    BUCKET_READ_ACTIONS,
    BUCKET_WRITE_ACTIONS,
    acknowledge_tracing,
    grant_bucket,
    grant_table,
)
from ..nag import acknowledge, wildcard_actions, wildcard_resource
from ..naming import owned_executions_arn, owned_state_machines_arn
from .functions import (
    FUNCTIONS_DIR,
    HANDLER,
    METRICS_NAMESPACE,
    RUNTIME,
    PlatformFunctions,
)
from .storage import Storage

# The console's pages, as the installed package ships them (stratoflow.console: the shell and its
# modules, served as `/static/<name>` and `/ui/...` as `strato server` serves them; a checkout's or a
# wheel's), and the sign-in page.
PAGES_DIR = Path(str(files("stratoflow.console") / "static"))
PAGES_PREFIX = "static"
AUTH_PAGES_DIR = Path(__file__).resolve().parents[1] / "console_auth"
AUTH_PREFIX = "auth"
SIGN_IN_PAGE = f"/{AUTH_PREFIX}/sign-in.html"
AUTH_CONFIG_FILE = "console-auth.json"
# The header the JWT authorizer reads; the CloudFront Function fills it from the cookie.
TOKEN_HEADER = "x-strato-token"
TOKEN_COOKIE = "strato_token"
API_PREFIX = "/api"
IAM_PREFIX = "/iam"
# Bounds what a flood of requests can take from the account's Lambda concurrency.
API_RATE_PER_SECOND = 50
API_BURST = 100
# The sign-in page exchanges Cognito's code for tokens at the user pool's domain.
COGNITO_ORIGIN = "https://*.amazoncognito.com"

SIGN_IN_SECURITY_HEADERS = {
    **PAGE_SECURITY_HEADERS,
    "content-security-policy": PAGE_SECURITY_HEADERS["content-security-policy"].replace(
        "connect-src 'self'", f"connect-src 'self' {COGNITO_ORIGIN}"
    ),
}

# Runs on every request (CloudFront Functions, JS 2.0): the token to the API's header; the sign-in
# page always served; a request without a token sent to it; the shell's routes as `strato server`'s.
VIEWER_REQUEST = f"""
function handler(event) {{
  var request = event.request;
  var uri = request.uri;
  var token = '';
  var auth = request.headers.authorization ? request.headers.authorization.value : '';
  if (auth.indexOf('Bearer ') === 0) {{ token = auth.substring(7); }}
  else if (request.cookies['{TOKEN_COOKIE}']) {{ token = request.cookies['{TOKEN_COOKIE}'].value; }}
  if (uri.indexOf('{API_PREFIX}/') === 0) {{
    if (token) {{ request.headers['{TOKEN_HEADER}'] = {{ value: token }}; }}
    else {{ delete request.headers['{TOKEN_HEADER}']; }}
    return request;
  }}
  if (uri.indexOf('/{AUTH_PREFIX}/') === 0) {{ return request; }}
  if (!token) {{
    return {{ statusCode: 302, statusDescription: 'Found',
             headers: {{ location: {{ value: '{SIGN_IN_PAGE}?next=' + encodeURIComponent(uri) }} }} }};
  }}
  if (uri === '/') {{
    return {{ statusCode: 302, statusDescription: 'Found', headers: {{ location: {{ value: '/ui/flows' }} }} }};
  }}
  if (uri === '/ui' || uri.indexOf('/ui/') === 0) {{ request.uri = '/{PAGES_PREFIX}/index.html'; }}
  return request;
}}
"""


class Console(Construct):
    """The console's user pool, API, function, pages bucket and distribution; outputs its URL."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StratoflowProps,
        storage: Storage,
        functions: PlatformFunctions,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.user_pool = self._user_pool()
        self.pages_bucket = self._pages_bucket(storage)
        self.function = self._function(storage, functions)
        self.api = apigw.HttpApi(
            self,
            "Api",
            description="Stratoflow console API: every route needs a signed-in user or IAM credentials",
            create_default_stage=False,
        )
        self.distribution = self._distribution()
        self.client = self._client()
        self.routes = self._routes()
        self._stage()
        self._deploy_pages()
        self.url = f"https://{self.distribution.distribution_domain_name}"
        stack = Stack.of(self)
        outputs = {
            "ConsoleUrl": (self.url, "The web console (sign in with a user of ConsoleUserPoolId)"),
            "ConsoleUserPoolId": (self.user_pool.user_pool_id, "Add console users and their groups here"),
            "ConsoleApiUrl": (self.api.api_endpoint, "The console API; /iam/api/... with SigV4"),
        }
        for output_id, (value, description) in outputs.items():
            CfnOutput(stack, output_id, value=value, description=description)

    # --- sign-in ----------------------------------------------------------------------------------

    def _user_pool(self) -> cognito.UserPool:
        pool = cognito.UserPool(
            self,
            "Users",
            self_sign_up_enabled=False,  # an administrator adds users and their groups
            # Its first 10,000 monthly active users are free (README: what the stack costs when idle).
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            sign_in_aliases=cognito.SignInAliases(email=True, username=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=self._config.removal_policy,
        )
        cognito.CfnUserPoolGroup(
            self,
            "AdminsGroup",
            user_pool_id=pool.user_pool_id,
            group_name="admins",
            description="Every namespace of the console",
        )
        acknowledge(
            pool,
            "MFA is optional so that a stack can be tried with one user; an administrator can make it "
            "required on the pool. The console's users are added by an administrator (no self sign-up).",
            "AwsSolutions-COG2",
        )
        acknowledge(
            pool,
            "Cognito's threat protection is the paid Plus feature plan: the console works without it, and an "
            "administrator can turn it on for the pool.",
            "AwsSolutions-COG8",
        )
        # A prefix unique in the region: one console per stack and account.
        self.domain = pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(
                domain_prefix=Fn.join("-", [Stack.of(self).stack_name.lower(), "console", Aws.ACCOUNT_ID])
            ),
        )
        return pool

    def _client(self) -> cognito.UserPoolClient:
        """The pages' client: authorization code with PKCE (no secret in a browser)."""
        origin = f"https://{self.distribution.distribution_domain_name}"
        return self.user_pool.add_client(
            "PagesClient",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
                callback_urls=[f"{origin}{SIGN_IN_PAGE}"],
                logout_urls=[f"{origin}{SIGN_IN_PAGE}"],
            ),
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            prevent_user_existence_errors=True,
        )

    # --- the API ----------------------------------------------------------------------------------

    def _function(self, storage: Storage, functions: PlatformFunctions) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            "FunctionLogs",
            retention=self._config.log_retention,
            removal_policy=self._config.removal_policy,
        )
        role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Stratoflow console function",
        )
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            "Function",
            description="The web console's API (stratoflow.console) behind API Gateway",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(FUNCTIONS_DIR / "console"), exclude=["__pycache__", "*.pyc"]),
            layers=[functions.layer],
            timeout=Duration.seconds(29),  # API Gateway's integration timeout
            memory_size=1024,
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                "POWERTOOLS_SERVICE_NAME": "stratoflow-console",
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "LOG_LEVEL": self._config.log_level,
                "STRATOFLOW_STACK_NAME": Stack.of(self).stack_name,
                "STRATOFLOW_HISTORY_DAYS": str(self._config.data_retention_days),
                "STRATOFLOW_TABLE_NAME": storage.table.table_name,
                "STRATOFLOW_DATA_BUCKET": storage.data_bucket.bucket_name,
                "STRATOFLOW_FLOWS_BUCKET": storage.flows_bucket.bucket_name,
                # Read for the account and region of the flows' runs (kill); never invoked.
                "STRATOFLOW_ADMISSION_ARN": functions.admission.function_arn,
            },
        )
        acknowledge(
            function,
            "Python 3.12 on purpose: the layer's wheels are built for CPython 3.12 (as the platform's).",
            "AwsSolutions-L1",
        )
        acknowledge_tracing(role)
        # Starts, kills, restarts and resumes write executions; outputs and files are read from the
        # data bucket, FILE inputs of a start written there.
        grant_table(storage.table, role, write=True)
        grant_bucket(storage.data_bucket, role, write=True)
        state_machines, executions = owned_state_machines_arn(self), owned_executions_arn(self)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="StartAndResumeFlows",
                actions=["states:StartExecution", "states:SendTaskSuccess"],
                resources=[state_machines],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="KillFlowRuns",
                actions=["states:StopExecution", "states:DescribeExecution"],
                resources=[executions],
            )
        )
        acknowledge(
            role,
            "Flows' state machines and their runs are named '<StackName>-...' when a flow is deployed; "
            "the wildcard is that prefix, so no other state machine is reachable.",
            wildcard_resource(self, state_machines),
            wildcard_resource(self, executions),
        )
        return function

    def _routes(self) -> list[apigw.HttpRoute]:
        integration = integrations.HttpLambdaIntegration("Console", self.function)
        issuer = f"https://cognito-idp.{Aws.REGION}.amazonaws.com/{self.user_pool.user_pool_id}"
        users = authorizers.HttpJwtAuthorizer(
            "Users",
            issuer,
            jwt_audience=[self.client.user_pool_client_id],
            identity_source=[f"$request.header.{TOKEN_HEADER}"],
        )
        routes: list[apigw.HttpRoute] = []
        for path in (API_PREFIX, f"{API_PREFIX}/{{proxy+}}"):
            routes += self.api.add_routes(
                path=path, methods=[apigw.HttpMethod.ANY], integration=integration, authorizer=users
            )
        for path in (f"{IAM_PREFIX}{API_PREFIX}", f"{IAM_PREFIX}{API_PREFIX}/{{proxy+}}"):
            routes += self.api.add_routes(
                path=path,
                methods=[apigw.HttpMethod.ANY],
                integration=integration,
                authorizer=authorizers.HttpIamAuthorizer(),
            )
        return routes

    def _stage(self) -> None:
        access_logs = logs.LogGroup(
            self,
            "ApiAccessLogs",
            retention=self._config.log_retention,
            removal_policy=self._config.removal_policy,
        )
        stage = apigw.CfnStage(
            self,
            "Stage",
            api_id=self.api.api_id,
            stage_name="$default",
            auto_deploy=True,
            default_route_settings=apigw.CfnStage.RouteSettingsProperty(
                throttling_rate_limit=API_RATE_PER_SECOND, throttling_burst_limit=API_BURST
            ),
            access_log_settings=apigw.CfnStage.AccessLogSettingsProperty(
                destination_arn=access_logs.log_group_arn,
                format=(
                    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
                    '"method":"$context.httpMethod","path":"$context.path","status":"$context.status",'
                    '"user":"$context.authorizer.claims.sub","latencyMs":"$context.responseLatency"}'
                ),
            ),
        )
        stage.apply_removal_policy(RemovalPolicy.DESTROY)

    # --- the pages --------------------------------------------------------------------------------

    def _pages_bucket(self, storage: Storage) -> s3.Bucket:
        return s3.Bucket(
            self,
            "Pages",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            server_access_logs_bucket=storage.access_logs_bucket,
            server_access_logs_prefix="console-pages/",
            removal_policy=self._config.removal_policy,
            auto_delete_objects=self._config.destroy_on_delete,
        )

    def _distribution(self) -> cloudfront.Distribution:
        viewer_request = cloudfront.Function(
            self,
            "SignedInOnly",
            code=cloudfront.FunctionCode.from_inline(VIEWER_REQUEST),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="The sign-in cookie to the API's token header; no token: to the sign-in page",
        )
        on_request = [
            cloudfront.FunctionAssociation(
                function=viewer_request, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
            )
        ]
        api_origin = origins.HttpOrigin(Fn.select(2, Fn.split("/", self.api.api_endpoint)))
        pages_origin = origins.S3BucketOrigin.with_origin_access_control(self.pages_bucket)
        distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Stratoflow console",
            default_behavior=cloudfront.BehaviorOptions(
                origin=pages_origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                function_associations=on_request,
                response_headers_policy=self._headers("Pages", PAGE_SECURITY_HEADERS),
            ),
            additional_behaviors={
                f"/{AUTH_PREFIX}/*": cloudfront.BehaviorOptions(
                    origin=pages_origin,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                    function_associations=on_request,
                    response_headers_policy=self._headers("SignIn", SIGN_IN_SECURITY_HEADERS),
                ),
                f"{API_PREFIX}/*": cloudfront.BehaviorOptions(
                    origin=api_origin,
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    function_associations=on_request,
                ),
            },
        )
        acknowledge(
            distribution,
            "The console is for the stack's own users wherever they are; every API route needs a "
            "signed-in user, which a geographic restriction or a WAF would not add to.",
            "AwsSolutions-CFR1",
            "AwsSolutions-CFR2",
        )
        acknowledge(
            distribution,
            "The API's own access log (API Gateway stage) records every request with its user; the "
            "pages are the package's static files.",
            "AwsSolutions-CFR3",
        )
        acknowledge(
            distribution,
            "The distribution's default *.cloudfront.net certificate, whose TLS policy CloudFront fixes; "
            "a custom domain (with TLSv1.2_2021) is the operator's choice.",
            "AwsSolutions-CFR4",
        )
        return distribution

    def _headers(self, name: str, headers: dict[str, str]) -> cloudfront.ResponseHeadersPolicy:
        """The pages' security headers, as `strato server` sends them (stratoflow.console.pages)."""
        return cloudfront.ResponseHeadersPolicy(
            self,
            f"{name}Headers",
            comment=f"Stratoflow console: {name}",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=headers["content-security-policy"], override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
            ),
        )

    def _deploy_pages(self) -> None:
        # What the sign-in page needs: Cognito's managed login and the pages' client.
        auth_config = {"domain": self.domain.base_url(), "clientId": self.client.user_pool_client_id}
        # The copier gets a role of its own (no managed policy: it writes only its own log group).
        log_group = logs.LogGroup(
            self,
            "DeployPagesLogs",
            retention=self._config.log_retention,
            removal_policy=self._config.removal_policy,
        )
        role = iam.Role(
            self,
            "DeployPagesRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Copies the console's pages into their bucket at deploy time",
        )
        log_group.grant_write(role)
        # The shell and its modules under static/ (the shell also answers /ui/...), sign-in under auth/.
        folders = {
            PAGES_PREFIX: [s3deploy.Source.asset(str(PAGES_DIR), exclude=["__pycache__", "*.py", "*.pyc"])],
            AUTH_PREFIX: [
                s3deploy.Source.asset(str(AUTH_PAGES_DIR)),
                s3deploy.Source.json_data(AUTH_CONFIG_FILE, auth_config),
            ],
        }
        for prefix, sources in folders.items():
            s3deploy.BucketDeployment(
                self,
                f"Deploy{prefix.title()}",
                destination_bucket=self.pages_bucket,
                destination_key_prefix=f"{prefix}/",
                sources=sources,
                distribution=self.distribution,
                distribution_paths=[f"/{prefix}/*"],
                memory_limit=256,
                role=role,
                log_group=log_group,
            )
        acknowledge(
            role,
            "CDK's BucketDeployment grants: the pages bucket's objects, the CDK bootstrap's asset bucket "
            "(where the pages are staged) and CloudFront's invalidation (which takes no resource).",
            *wildcard_actions(*BUCKET_READ_ACTIONS, *BUCKET_WRITE_ACTIONS),
            wildcard_resource(self, self.pages_bucket.arn_for_objects("*")),
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-"
            "<AWS::AccountId>-<AWS::Region>/*]",
            wildcard_resource(self, "*"),
        )
        # CDK's copier function is one per stack (a singleton beside this construct), not under it.
        stack = Stack.of(self)
        for copier in stack.node.children:
            if copier.node.id.startswith("Custom::CDKBucketDeployment"):
                acknowledge(
                    copier, "CDK's BucketDeployment function: its runtime is CDK's choice.", "AwsSolutions-L1"
                )
