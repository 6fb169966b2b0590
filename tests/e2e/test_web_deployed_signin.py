"""The web app as CloudFront serves it (cdk_stacks/constructs/web_hosting.py), in real headless
Chromium: the built ``web/dist`` under ``/app/`` with the deployed response headers (its CSP, no
``unsafe-eval``) and a ``config.json`` shaped like the one the stack writes, whose app client
allows only SRP (``authFlow: USER_SRP_AUTH``, as the auth-broker stack's client does).

Cognito's IDP endpoint is answered by the test (Playwright routes): InitiateAuth must carry
``SRP_A`` and no password, RespondToAuthChallenge must answer PASSWORD_VERIFIER with a claim
signature; then the app must hold the ID token and show Today. This proves the SRP chunk (AWS's
amazon-cognito-identity-js) loads and runs in a browser under the deployed CSP; the SRP math
itself is the library's (moto does not verify it either).
"""

from __future__ import annotations

import base64
import json
import mimetypes
import subprocess
import time
from pathlib import Path

import pytest

from cdk_stacks.constructs.web_hosting import content_security_policy
from tests.e2e.test_web_app import CHROMIUM, CHROMIUM_ARGS, ROOT, _require_browser

ORIGIN = "https://app.example.test"
IDP = "https://cognito-idp.ap-south-1.amazonaws.com/"
DIST = ROOT / "web" / "dist"
PASSWORD = "Deployed-Passw0rd!"

pytestmark = pytest.mark.slow


def _jwt(claims: dict) -> str:
    def b64(o: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(o).encode()).decode().rstrip("=")
    return f"{b64({'alg': 'RS256'})}.{b64(claims)}.sig"


@pytest.fixture(scope="module")
def built():
    _require_browser()
    build = subprocess.run(["bash", str(ROOT / "web" / "build.sh")], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, f"web build failed:\n{build.stdout}\n{build.stderr}"
    return DIST


def test_srp_sign_in_under_the_deployed_csp(built: Path):
    from playwright.sync_api import expect, sync_playwright

    csp = content_security_policy(IDP, "wss://live.example.test/dev")
    headers = {"Content-Security-Policy": csp, "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff"}
    app_config = {"apiUrl": "", "environment": "dev", "liveUrl": None, "demoUser": None,
                  "cognito": {"endpoint": IDP, "clientId": "client-1", "region": "ap-south-1",
                              "userPoolId": "ap-south-1_AbCdEf123", "authFlow": "USER_SRP_AUTH"}}
    idp_calls: list[dict] = []
    cors = {"Access-Control-Allow-Origin": ORIGIN, "Access-Control-Allow-Headers": "content-type,x-amz-target,x-amz-user-agent",
            "Access-Control-Allow-Methods": "POST"}
    id_token = _jwt({"email": "trader@example.in", "exp": int(time.time()) + 3600})

    def serve_app(route):
        path = route.request.url.removeprefix(ORIGIN).split("?")[0]
        if path == "/app/config.json":
            return route.fulfill(status=200, headers={**headers, "Content-Type": "application/json"}, body=json.dumps(app_config))
        if path.startswith("/app/"):
            rel = path.removeprefix("/app/")
            file = built / rel
            if not rel or "." not in rel.rsplit("/", 1)[-1]:  # the viewer-request function's SPA rule
                file = built / "index.html"
            if file.is_file():
                kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                return route.fulfill(status=200, headers={**headers, "Content-Type": kind}, body=file.read_bytes())
        # the API behaviours: nothing deployed here
        return route.fulfill(status=404, headers={**headers, "Content-Type": "application/json"},
                             body=json.dumps({"statusCode": 404, "message": "not here"}))

    def serve_idp(route):
        request = route.request
        if request.method == "OPTIONS":
            return route.fulfill(status=204, headers=cors)
        target = request.headers.get("x-amz-target", "")
        body = json.loads(request.post_data or "{}")
        idp_calls.append({"target": target, "body": body})
        if target.endswith("InitiateAuth"):
            answer = {"ChallengeName": "PASSWORD_VERIFIER", "Session": "s1", "ChallengeParameters": {
                "SALT": "8f1c3a5b7d9e", "SRP_B": "ab" * 192, "USERNAME": "sub-1", "USER_ID_FOR_SRP": "sub-1",
                "SECRET_BLOCK": "c2VjcmV0"}}
        else:
            answer = {"AuthenticationResult": {"IdToken": id_token, "AccessToken": _jwt({"exp": 1}), "RefreshToken": "r"},
                      "ChallengeParameters": {}}
        return route.fulfill(status=200, headers={**cors, "Content-Type": "application/x-amz-json-1.1"}, body=json.dumps(answer))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="en-IN")
            page = context.new_page()
            errors: list[str] = []
            violations: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
            page.route(f"{ORIGIN}/**", serve_app)
            page.route(f"{IDP}**", serve_idp)
            page.goto(f"{ORIGIN}/app/strategies/new")  # a client-side route: index.html, then sign-in
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            page.get_by_label("E-mail").fill("trader@example.in")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_role("heading", level=1, name="Today")).to_be_visible(timeout=15_000)
            stored = page.evaluate("() => JSON.parse(sessionStorage.getItem('ql.session'))")
            local = page.evaluate("() => Object.keys(localStorage)")
        finally:
            browser.close()
    assert not errors, errors
    assert not violations, violations
    assert [c["target"].rsplit(".", 1)[-1] for c in idp_calls] == ["InitiateAuth", "RespondToAuthChallenge"]
    assert idp_calls[0]["body"]["AuthFlow"] == "USER_SRP_AUTH" and len(idp_calls[0]["body"]["AuthParameters"]["SRP_A"]) >= 256
    assert idp_calls[1]["body"]["ChallengeName"] == "PASSWORD_VERIFIER"
    assert idp_calls[1]["body"]["ChallengeResponses"]["PASSWORD_CLAIM_SIGNATURE"]
    assert PASSWORD not in json.dumps(idp_calls)
    assert stored["idToken"] == id_token and stored["email"] == "trader@example.in"
    assert local == []
