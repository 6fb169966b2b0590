"""The web app's hosting as synthesized (issue 19, cdk_stacks/constructs/web_hosting.py): a private
bucket reached only by CloudFront through origin access control, SSL enforced, the security
headers on every behaviour, SPA routing that leaves the API's 403/404 alone, the API on the same
origin uncached with the caller's token forwarded, and config.json written at deploy time."""

from __future__ import annotations

import json
import subprocess
import shutil

import pytest

from cdk_stacks.constructs.web_hosting import SPA_FUNCTION, content_security_policy
from cdk_stacks.options_platform_stack import ROUTES

STACK = "options-platform"


def _one(synth, cfn_type: str) -> dict:
    found = synth.resources(STACK, cfn_type)
    assert len(found) == 1, (cfn_type, list(found))
    return next(iter(found.values()))


def _web_bucket(synth) -> tuple[str, dict]:
    buckets = {k: v for k, v in synth.resources(STACK, "AWS::S3::Bucket").items() if k.startswith("WebHostingBucket")}
    assert len(buckets) == 1, list(buckets)
    return next(iter(buckets.items()))


def test_bucket_is_private_encrypted_and_ssl_only(any_env):
    logical, bucket = _web_bucket(any_env)
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                       "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert "LoggingConfiguration" in props
    assert "WebsiteConfiguration" not in props  # not an S3 website: only CloudFront reads it
    (policy,) = [p for p in any_env.resources(STACK, "AWS::S3::BucketPolicy").values()
                 if p["Properties"]["Bucket"] == {"Ref": logical}]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    deny = [s for s in statements if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    allows = [s for s in statements if s["Effect"] == "Allow"]
    # the only reader: the CloudFront service principal, for THIS distribution (OAC), never "*"
    assert allows and all(s["Principal"] == {"Service": "cloudfront.amazonaws.com"} for s in allows)
    assert all("AWS:SourceArn" in s["Condition"]["StringEquals"] for s in allows)


def test_origin_access_control_not_identity(any_env):
    oac = _one(any_env, "AWS::CloudFront::OriginAccessControl")["Properties"]["OriginAccessControlConfig"]
    assert oac["OriginAccessControlOriginType"] == "s3"
    assert oac["SigningBehavior"] == "always" and oac["SigningProtocol"] == "sigv4"
    assert any_env.resources(STACK, "AWS::CloudFront::CloudFrontOriginAccessIdentity") == {}
    dist = _one(any_env, "AWS::CloudFront::Distribution")["Properties"]["DistributionConfig"]
    s3_origins = [o for o in dist["Origins"] if "S3OriginConfig" in o]
    assert len(s3_origins) == 1 and "OriginAccessControlId" in s3_origins[0]
    assert s3_origins[0]["S3OriginConfig"].get("OriginAccessIdentity", "") == ""


def test_security_headers_on_every_behaviour(any_env):
    policy = _one(any_env, "AWS::CloudFront::ResponseHeadersPolicy")
    headers = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    # a string, or an Fn::Join when the live-updates socket's URL (a deploy-time value) is in it
    csp = json.dumps(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    if getattr(any_env.stacks[STACK], "live_url", None):
        assert "wss://" in csp  # the app may open its live-updates socket, and only that
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert f"https://cognito-idp.{any_env.config.region}.amazonaws.com" in csp
    assert "'unsafe-eval'" not in csp
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["StrictTransportSecurity"]["IncludeSubdomains"] is True
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ContentTypeOptions"]["Override"] is True
    dist = _one(any_env, "AWS::CloudFront::Distribution")["Properties"]["DistributionConfig"]
    behaviours = [dist["DefaultCacheBehavior"], *dist["CacheBehaviors"]]
    assert all("ResponseHeadersPolicyId" in b for b in behaviours)
    assert dist["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert "http3" in dist["HttpVersion"] or dist["HttpVersion"] == "http2and3"
    assert "Logging" in dist


def test_api_on_the_same_origin_uncached_with_the_token(any_env):
    dist = _one(any_env, "AWS::CloudFront::Distribution")["Properties"]["DistributionConfig"]
    patterns = {b["PathPattern"]: b for b in dist["CacheBehaviors"]}
    for prefix in {path.split("/")[1] for path, _m, _f in ROUTES}:
        for pattern in (f"/{prefix}", f"/{prefix}/*"):
            b = patterns[pattern]
            assert b["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # Managed-CachingDisabled
            assert b["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"  # AllViewerExceptHostHeader
            assert set(b["AllowedMethods"]) >= {"GET", "POST", "PUT", "DELETE", "OPTIONS"}
            assert b["ViewerProtocolPolicy"] == "https-only"
    api_origins = [o for o in dist["Origins"] if "CustomOriginConfig" in o]
    assert len(api_origins) == 1
    origin_path = json.dumps(api_origins[0]["OriginPath"])  # "/" + the 4th segment of the stage URL: the stage
    assert "Fn::Select\": [3" in origin_path and "DeploymentStage" in origin_path, origin_path
    assert api_origins[0]["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    # SPA routing by a viewer-request function, not custom error responses (which would turn the
    # API's own 403/404 answers into the app's HTML)
    assert "CustomErrorResponses" not in dist
    fn = dist["DefaultCacheBehavior"]["FunctionAssociations"]
    assert [f["EventType"] for f in fn] == ["viewer-request"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_spa_function_routes_client_paths_to_index_and_leaves_files():
    script = SPA_FUNCTION + """
    const cases = ['/', '/app', '/app/', '/app/strategies/new', '/app/assets/index-abc.js', '/app/config.json', '/other.txt'];
    console.log(JSON.stringify(cases.map((uri) => { const r = handler({ request: { uri } }); return r.statusCode ? 'redirect ' + r.headers.location.value : r.uri; })));
    """
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30, check=True).stdout
    assert json.loads(out) == ["redirect /app/", "redirect /app/", "/app/index.html", "/app/index.html",
                               "/app/assets/index-abc.js", "/app/config.json", "/other.txt"]


def test_config_json_written_at_deploy_with_the_client_and_no_secret(dev):
    deployments = dev.resources(STACK, "Custom::CDKBucketDeployment")
    assert len(deployments) == 2
    entry = [d for k, d in deployments.items() if "Entry" in k]
    assert len(entry) == 1
    props = entry[0]["Properties"]
    assert props["DestinationBucketKeyPrefix"] == "app/"
    assert props["Prune"] is False
    assert "/app/config.json" in props["DistributionPaths"] and "/app/index.html" in props["DistributionPaths"]
    # Source.json_data: the markers carry the deploy-time values (the app client id import)
    markers = json.dumps(props.get("SourceMarkers", []))
    assert "user-pool-client-id" in markers and "user-pool-id" in markers
    # the auth-broker stack's app client allows only SRP: the app must be told to use it
    (client,) = [c for c in dev.resources("auth-broker", "AWS::Cognito::UserPoolClient").values()]
    assert "ALLOW_USER_SRP_AUTH" in client["Properties"]["ExplicitAuthFlows"]
    assert "ALLOW_USER_PASSWORD_AUTH" not in client["Properties"]["ExplicitAuthFlows"]
    assert dev.stacks[STACK].web.client_config["cognito"]["authFlow"] == "USER_SRP_AUTH"
    assert props["SystemMetadata"]["cache-control"] == "no-cache"
    assets = [d for k, d in deployments.items() if "Assets" in k][0]["Properties"]
    assert "immutable" in assets["SystemMetadata"]["cache-control"]


def test_csp_allows_the_live_socket_origin_only():
    csp = content_security_policy("https://cognito-idp.ap-south-1.amazonaws.com/", "wss://abc.execute-api.ap-south-1.amazonaws.com/dev")
    assert "connect-src 'self' https://cognito-idp.ap-south-1.amazonaws.com wss://abc.execute-api.ap-south-1.amazonaws.com;" in csp


def test_csp_takes_a_deploy_time_socket_url_whole():
    from aws_cdk import App, Fn, Stack

    stack = Stack(App(), "S")
    url = Fn.join("", ["wss://", Fn.ref("LiveApi"), ".execute-api.ap-south-1.amazonaws.com/dev"])
    csp = json.dumps(stack.resolve(content_security_policy("https://cognito-idp.ap-south-1.amazonaws.com/", url)))
    assert "connect-src 'self' https://cognito-idp.ap-south-1.amazonaws.com wss://" in csp
    assert '{"Ref": "LiveApi"}' in csp and ".execute-api.ap-south-1.amazonaws.com/dev; img-src" in csp
