"""The traders' web app (web/, built by Vite into web/dist) served by the local API server under
``/app/``, the same origin as the REST API, so the app needs no CORS for its API calls.

- ``/app/config.json`` is written from the running platform: the API URL ("" = same origin), the
  user pool's IDP endpoint (the moto server, which answers CORS, so the browser runs Cognito's
  USER_PASSWORD_AUTH InitiateAuth against it exactly as against cognito-idp in AWS), the app
  client id, and the local demo user's credentials for the sign-in form.
- any other path under ``/app/`` is a file of web/dist; a path without a file extension that is
  not a file is a client-side route and answers index.html (the SPA fallback).
- ``/`` redirects to ``/app/``.

Security headers as the CloudFront response-headers policy will set them: a CSP limited to this
origin and the IDP endpoint, nosniff, no framing, no referrer.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WEB_DIST = ROOT / "web" / "dist"
PREFIX = "/app"


def is_web_path(path: str) -> bool:
    """True for ``/``, ``/app`` and everything under ``/app/`` (never an API route)."""
    return path in ("/", PREFIX) or path.startswith(PREFIX + "/")


def web_config(idp_endpoint: str, client_id: str, demo_user: dict[str, str] | None,
               live_url: str | None = None) -> dict[str, Any]:
    """The runtime configuration the app fetches at start (web/src/lib/config.ts ``AppConfig``;
    ``liveUrl``: the WebSocket API of live updates, web/src/lib/live.ts)."""
    config = {"apiUrl": "", "environment": "local",
              "cognito": {"endpoint": idp_endpoint, "clientId": client_id, "region": "ap-south-1"},
              "demoUser": demo_user}
    if live_url:
        config["liveUrl"] = live_url
    return config


def security_headers(idp_endpoint: str, live_url: str | None = None) -> dict[str, str]:
    live_origin = ""
    if live_url:  # the WebSocket API's origin (ws://127.0.0.1:PORT): the app's only other connection
        from urllib.parse import urlsplit

        parts = urlsplit(live_url)
        live_origin = f" {parts.scheme}://{parts.netloc}"
    return {
        "Content-Security-Policy": (f"default-src 'self'; connect-src 'self' {idp_endpoint}{live_origin}; img-src 'self' data:; "
                                    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'"),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }


def web_response(path: str, idp_endpoint: str, client_id: str, demo_user: dict[str, str] | None = None,
                 dist: Path = WEB_DIST, live_url: str | None = None) -> tuple[int, bytes, dict[str, str]]:
    """(status, body, headers) for a GET of ``path`` (one for which :func:`is_web_path` holds).

    404 with a hint when web/dist was never built; 404 for a missing asset; never a file
    outside ``dist`` (``..`` is resolved and refused).
    """
    headers = security_headers(idp_endpoint, live_url)
    if path in ("/", PREFIX):
        return 302, b"", {**headers, "Location": PREFIX + "/", "Content-Type": "text/plain"}
    if path == PREFIX + "/config.json":
        body = json.dumps(web_config(idp_endpoint, client_id, demo_user, live_url)).encode()
        return 200, body, {**headers, "Content-Type": "application/json", "Cache-Control": "no-store"}
    index = dist / "index.html"
    if not index.exists():
        return 404, b"web/dist is missing: build the app with `npm --prefix web run build` (./deploy.sh -e local does)", \
            {**headers, "Content-Type": "text/plain; charset=utf-8"}
    relative = path[len(PREFIX) + 1:]
    target = (dist / relative).resolve() if relative else index
    if not target.is_relative_to(dist.resolve()):
        return 404, b"not found", {**headers, "Content-Type": "text/plain"}
    if not target.is_file():
        if "." in relative.rsplit("/", 1)[-1]:
            return 404, b"not found", {**headers, "Content-Type": "text/plain"}
        target = index  # a client-side route
    kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
        kind += "; charset=utf-8"
    cache = "public, max-age=31536000, immutable" if "/assets/" in f"/{relative}" else "no-cache"
    return 200, target.read_bytes(), {**headers, "Content-Type": kind, "Cache-Control": cache}
