"""The traders' web app as deployed (issue 19): a private S3 bucket behind CloudFront with origin
access control, the REST API on the same origin, security headers on every answer, SPA routing,
and the runtime configuration written at deploy time as ``/app/config.json``.

Layout (one origin for the browser, so no CORS and a strict CSP ``connect-src 'self'``):

- ``/app/*`` -> the bucket (objects under ``app/``; the build's ``base`` is ``/app/``). A
  CloudFront Function (viewer request) serves ``/app/index.html`` for the app's client-side
  routes (any ``/app/...`` path without a file extension) and redirects ``/`` to ``/app/``;
  CloudFront's custom error responses are NOT used for this, since they would also replace the
  API's own 403/404 answers ("not found (or not yours)") with the app's HTML.
- each first path segment of the API (``/options/*``, ``/broker-accounts*``, ``/profile``,
  ``/broker-sessions/*``, ``/postbacks/*``...) -> the REST API's stage (origin path
  ``/{stage}``), never cached, every viewer header but Host forwarded (the Cognito ID token in
  ``Authorization``, ``Accept: text/csv`` of the reports).
- ``/app/config.json`` (``BucketDeployment`` with ``Source.json_data``): ``apiUrl`` "" (same
  origin), the Cognito IDP endpoint, user pool and app client ids and ``authFlow``
  USER_SRP_AUTH (the only flow the app client allows), the region, ``liveUrl`` (the WebSocket
  API of live updates, when deployed) and the environment name: the shape of
  ``web/src/lib/config.ts`` ``AppConfig``. ``index.html`` and ``config.json`` are sent
  ``no-cache`` and invalidated on every deploy; the hashed assets are cached for a year.

Response headers policy (every behaviour): CSP (``default-src 'self'``; ``connect-src`` adds the
Cognito IDP endpoint and the WebSocket origin; ``frame-ancestors 'none'``), HSTS two years with
subdomains, ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
strict-origin-when-cross-origin``. The same policy the local platform serves (local/web.py).

Bucket: private (BlockPublicAccess.BLOCK_ALL, ACLs disabled), SSE-S3, ``enforceSSL``, server
access logs to a log bucket that also holds CloudFront's standard logs. The build comes from
``web/dist`` (``web/build.sh``); when it is missing at synth, a page saying so is deployed
instead and the synth carries a warning (a deploy never silently ships an empty app).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from cdk_stacks.nag import acknowledge, finding_value, logical_id
from shared_utils.config import EnvironmentConfig

WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
#: the app's path prefix (web/vite.config.ts ``base``; local/web.py PREFIX)
PREFIX = "/app"
#: entry files: never cached by browsers, invalidated at every deploy
ENTRY_FILES = ("index.html", "config.json")

#: viewer-request function of the bucket's behaviour (cloudfront-js-2.0)
SPA_FUNCTION = """
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri === '/' || uri === '%(prefix)s') {
    return { statusCode: 302, statusDescription: 'Found', headers: { location: { value: '%(prefix)s/' } } };
  }
  if (uri.indexOf('%(prefix)s/') === 0) {
    var last = uri.substring(uri.lastIndexOf('/') + 1);
    if (last === '' || last.indexOf('.') === -1) {
      request.uri = '%(prefix)s/index.html';
    }
  }
  return request;
}
""".strip() % {"prefix": PREFIX}


def content_security_policy(idp_endpoint: str, live_url: str | None) -> str:
    """The app's CSP: itself, the Cognito IDP endpoint (sign-in) and the live-updates socket."""
    connect = ["'self'", idp_endpoint.rstrip("/")]
    if live_url and Token.is_unresolved(live_url):
        # known at deploy only (the WebSocket stage's URL): a source with a path matches that path
        # exactly, which is the URL the app opens (the ?token= query is not part of the match)
        connect.append(live_url)
    elif live_url:
        scheme, rest = live_url.split("://", 1)
        connect.append(f"{scheme}://{rest.split('/', 1)[0]}")
    return ("default-src 'self'; script-src 'self'; connect-src " + " ".join(connect) + "; img-src 'self' data:; "
            "style-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; "
            "form-action 'self'")


def web_config(config: EnvironmentConfig, idp_endpoint: str, user_pool_id: str, client_id: str,
               live_url: str | None) -> dict[str, Any]:
    """``/app/config.json``: web/src/lib/config.ts ``AppConfig`` (tokens resolve at deploy). The
    auth-broker stack's app client allows only SRP, so the app signs in with USER_SRP_AUTH."""
    return {"apiUrl": "", "environment": config.name,
            "cognito": {"endpoint": idp_endpoint, "clientId": client_id, "region": config.region,
                        "userPoolId": user_pool_id, "authFlow": "USER_SRP_AUTH"},
            "liveUrl": live_url, "demoUser": None}


class WebHosting(Construct):
    """S3 + CloudFront (OAC) for the web app and the REST API on one origin (see module doc).

    Args:
        api: the REST API; its stage becomes the origin path of the API behaviours.
        api_prefixes: first path segments of the API's routes (e.g. ``["options", "profile"]``).
        user_pool_id: the Cognito user pool (SRP needs its id; a token is fine).
        user_pool_client_id: the Cognito app client the app signs in with (a token is fine).
        live_url: the WebSocket API's URL (``wss://.../stage``), or None without live updates.
        dist: the built app (``web/dist``).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig, api: apigw.RestApi,
                 api_prefixes: Iterable[str], user_pool_id: str, user_pool_client_id: str, live_url: str | None = None,
                 dist: Path = WEB_DIST) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if config.retain else RemovalPolicy.DESTROY
        region = config.region
        idp_endpoint = f"https://cognito-idp.{region}.amazonaws.com/"

        self.log_bucket = s3.Bucket(
            self, "LogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            # CloudFront's standard logs are written with an ACL (the awslogsdelivery account)
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365 if config.retain else 30),
                                              abort_incomplete_multipart_upload_after=Duration.days(7))],
            removal_policy=removal,
        )
        acknowledge(self.log_bucket, "AwsSolutions-S1",
                    "This bucket receives the web bucket's server access logs and CloudFront's standard logs; "
                    "logging the log bucket into itself would loop and another bucket only moves the finding.")

        self.bucket = s3.Bucket(
            self, "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=False,  # every deploy re-uploads the build; history lives in git
            server_access_logs_bucket=self.log_bucket,
            server_access_logs_prefix="s3/",
            removal_policy=removal,
        )

        csp = content_security_policy(idp_endpoint, live_url)
        self.headers_policy = cloudfront.ResponseHeadersPolicy(
            self, "SecurityHeaders",
            comment=f"{config.prefix} web app: CSP, HSTS, frame and type options",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(content_security_policy=csp, override=True),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(730), include_subdomains=True, preload=False, override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(frame_option=cloudfront.HeadersFrameOption.DENY, override=True),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override=True),
            ),
        )
        self.spa_function = cloudfront.Function(
            self, "SpaRouting",
            code=cloudfront.FunctionCode.from_inline(SPA_FUNCTION),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="client-side routes of /app/ serve index.html; / redirects to /app/",
        )
        api_origin = origins.RestApiOrigin(api)  # origin path = the stage (/dev, /staging, /production)
        api_behavior = cloudfront.BehaviorOptions(
            origin=api_origin,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            response_headers_policy=self.headers_policy,
            compress=True,
        )
        additional: dict[str, cloudfront.BehaviorOptions] = {}
        for prefix in sorted(set(api_prefixes)):
            additional[f"/{prefix}"] = api_behavior
            additional[f"/{prefix}/*"] = api_behavior

        self.distribution = cloudfront.Distribution(
            self, "Distribution",
            comment=f"{config.prefix} web app and API",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers_policy,
                function_associations=[cloudfront.FunctionAssociation(
                    function=self.spa_function, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST)],
                compress=True,
            ),
            additional_behaviors=additional,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_200,  # includes the edge locations in India
            enable_logging=True,
            log_bucket=self.log_bucket,
            log_file_prefix="cloudfront/",
        )
        acknowledge(self.distribution, "AwsSolutions-CFR1",
                    "No geo restriction: traders sign in from wherever they are (travel included); the API "
                    "behind it authorizes every call with Cognito and brokers only accept orders from our egress IP.")
        acknowledge(self.distribution, "AwsSolutions-CFR2",
                    "A CloudFront WAF web ACL must live in us-east-1 and this stack deploys to ap-south-1; the API "
                    "behaviours reach the REST API stage, which has its own regional WAF web ACL in staging and production.")
        acknowledge(self.distribution, "AwsSolutions-CFR4",
                    "The distribution uses the default *.cloudfront.net certificate, for which CloudFront cannot enforce "
                    "a minimum TLS version; a custom domain with its ACM certificate gets TLSv1.2_2021 (set above).")

        # ---- the build and the runtime configuration -----------------------------------------
        built = (dist / "index.html").exists()
        if built:
            assets = s3deploy.Source.asset(str(dist), exclude=list(ENTRY_FILES))
            entry = [s3deploy.Source.data("index.html", (dist / "index.html").read_text())]
        else:
            Annotations.of(self).add_warning_v2(
                "ql:web-not-built", f"{dist} has no index.html: the web app is not built (run web/build.sh); "
                "this synth deploys a page that says so instead of the app")
            assets = s3deploy.Source.data("assets/.keep", "")
            entry = [s3deploy.Source.data("index.html", "<!doctype html><html lang=\"en\"><title>Not built</title>"
                                          "<h1>The web app was not built when this stack was synthesized</h1>"
                                          "<p>Run web/build.sh, then deploy again.</p></html>")]
        client_config = web_config(config, idp_endpoint, user_pool_id, user_pool_client_id, live_url)
        entry.append(s3deploy.Source.json_data("config.json", client_config))

        stack = Stack.of(self)
        self._log_groups = f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:/aws/lambda/*"
        # the copy handler's role: no AWS managed policy (the platform's rule for every Lambda role);
        # its own logs inline, the S3 and CloudFront grants added by BucketDeployment
        self.deploy_role = iam.Role(
            self, "DeployHandlerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="CDK BucketDeployment handler of the web app: copies the build, invalidates CloudFront",
            inline_policies={"logs": iam.PolicyDocument(statements=[iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self._log_groups],
            )])},
        )
        self.assets_deployment = s3deploy.BucketDeployment(
            self, "Assets",
            role=self.deploy_role,
            sources=[assets],
            destination_bucket=self.bucket,
            destination_key_prefix="app/",
            exclude=list(ENTRY_FILES),  # excluded files are neither uploaded nor pruned here
            prune=True,
            cache_control=[s3deploy.CacheControl.from_string("public, max-age=31536000, immutable")],
            memory_limit=512,
        )
        self.entry_deployment = s3deploy.BucketDeployment(
            self, "Entry",
            role=self.deploy_role,
            sources=entry,
            destination_bucket=self.bucket,
            destination_key_prefix="app/",
            prune=False,
            cache_control=[s3deploy.CacheControl.from_string("no-cache")],
            distribution=self.distribution,
            distribution_paths=[f"{PREFIX}/{name}" for name in ENTRY_FILES] + [f"{PREFIX}/"],
            memory_limit=512,
        )
        # the new index.html only after the assets it references are there
        self.entry_deployment.node.add_dependency(self.assets_deployment)
        self._acknowledge_deployment_handler()
        self.url = f"https://{self.distribution.distribution_domain_name}{PREFIX}/"
        self.client_config = client_config

    def _acknowledge_deployment_handler(self) -> None:
        """CDK's BucketDeployment runs one singleton Lambda per stack (and memory size) that copies
        the build from the CDK asset bucket into the web bucket and invalidates CloudFront; its
        runtime is CDK's and its role's wildcards are the copy's: acknowledged here with reasons."""
        stack = Stack.of(self)
        acknowledge(self.deploy_role, f"AwsSolutions-IAM5[Resource::{finding_value(self, self._log_groups)}]",
                    "The BucketDeployment handler is CDK's singleton function whose name is generated, so its own log "
                    "group can only be named by the /aws/lambda/ prefix; the role is used at deploy time only.")
        reason = ("CDK's BucketDeployment handler copies the app's build from the CDK asset bucket into the web bucket "
                  "(object wildcards on those two buckets only, at deploy time) and creates the CloudFront invalidation, "
                  "which has no resource-level permission scoping in the policy CDK grants the handler.")
        findings = [f"Action::{a}" for a in ("s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*", "s3:Abort*")]
        findings += ["Resource::*", f"Resource::<{logical_id(self.bucket)}.Arn>/*",
                     # the default synthesizer's asset bucket (cdk bootstrap, qualifier hnb659fds)
                     f"Resource::arn:aws:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-{stack.region}/*"]
        for finding in findings:
            acknowledge(self.deploy_role, f"AwsSolutions-IAM5[{finding}]", reason)
        handlers = [c for c in stack.node.children if c.node.id.startswith("Custom::CDKBucketDeployment")]
        assert handlers, "BucketDeployment's singleton handler not found"
        for handler in handlers:
            acknowledge(handler, "AwsSolutions-L1",
                        "The runtime of CDK's BucketDeployment handler is chosen by aws-cdk-lib (it runs the AWS CLI at "
                        "deploy time only); it moves forward with CDK upgrades, not with this stack.")
