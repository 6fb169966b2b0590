"""The REST API on 127.0.0.1: each HTTP request becomes an API Gateway REST proxy event for the
SAME Lambda handler API Gateway would invoke, with the Cognito claims taken from a verified ID
token (what API Gateway's Cognito authorizer does in AWS).

A missing, expired or forged token answers 401 before any handler runs. Public routes
(broker postbacks, the Zerodha OAuth redirect) skip the token check; their handlers verify
their own checksums.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import jwt
from jwt import PyJWKClient

from local.apigw import build_event, handler_module_for, invoke, is_public
from local.aws import Identity
from local.web import is_web_path, web_response


class TokenVerifier:
    """Verifies Cognito ID tokens: RS256 signature against the pool's JWKS, issuer, audience
    (the app client), ``token_use == "id"`` and expiry.

    Raises:
        jwt.PyJWTError: any failure (the server answers 401 with the reason).
    """

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self._jwks = PyJWKClient(identity.jwks_url, cache_keys=True, lifespan=3600)

    def claims(self, token: str) -> dict[str, Any]:
        key = self._jwks.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=self.identity.client_id,
                            issuer=self.identity.issuer, options={"require": ["exp", "sub", "iss", "aud"]})
        if claims.get("token_use") != "id":
            raise jwt.InvalidTokenError("not an ID token")
        return claims


def _make_handler(verifier: TokenVerifier, demo_user: dict[str, str] | None = None, live_url: str | None = None):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "ql-local-api"

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet: the platform prints its own story
            return

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            sent = {k.lower() for k in (headers or {})}
            for key, value in (headers or {}).items():
                if key.lower() not in ("content-length", "connection"):
                    self.send_header(key, value)
            if "content-type" not in sent:
                self.send_header("Content-Type", "application/json")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(self, status: int, message: str) -> None:
            self._send(status, json.dumps({"statusCode": status, "message": message}).encode())

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            if self.command in ("GET", "HEAD") and is_web_path(parts.path):  # the web app (local/web.py)
                status, page, page_headers = web_response(parts.path, verifier.identity.endpoint,
                                                          verifier.identity.client_id, demo_user, live_url=live_url)
                self._send(status, page, page_headers)
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", errors="replace") if length else None
            if handler_module_for(parts.path) is None:
                self._error(404, f"no route for {parts.path}")
                return
            claims = None
            if not is_public(parts.path):
                auth = self.headers.get("Authorization", "")
                if not auth.startswith("Bearer ") and not auth.count(".") == 2:
                    self._error(401, "missing bearer token (Authorization: Bearer <Cognito ID token>)")
                    return
                try:
                    claims = verifier.claims(auth.removeprefix("Bearer ").strip())
                except jwt.PyJWTError as exc:
                    self._error(401, f"invalid token: {exc}")
                    return
            headers = {k: v for k, v in self.headers.items()}
            event = build_event(self.command, parts.path, body, parts.query, headers=headers, claims=claims)
            try:
                result = invoke(event)
            except Exception as exc:  # noqa: BLE001 - a crashing handler is a 502 at API Gateway too
                self._error(502, f"handler failed: {type(exc).__name__}")
                return
            out_headers = dict(result.get("headers") or {})
            for key, values in (result.get("multiValueHeaders") or {}).items():
                out_headers.setdefault(key, values[-1])
            self._send(int(result.get("statusCode", 502)), (result.get("body") or "").encode(), out_headers)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        def do_OPTIONS(self) -> None:
            self._send(204, b"", {"Access-Control-Allow-Methods": "GET,POST,PUT,DELETE,OPTIONS",
                                  "Access-Control-Allow-Headers": "Authorization,Content-Type"})

    return Handler


class ApiServer:
    """``ApiServer(identity, port).start()`` serves on 127.0.0.1:port (0 = a free port); the web
    app under ``/app/`` (``demo_user``: credentials the sign-in form offers locally; ``live_url``: the
    local WebSocket API of live updates, local/live_ws.py, given to the app in config.json)."""

    def __init__(self, identity: Identity, port: int = 0, demo_user: dict[str, str] | None = None,
                 live_url: str | None = None) -> None:
        self.verifier = TokenVerifier(identity)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(self.verifier, demo_user, live_url))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> "ApiServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="api-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
