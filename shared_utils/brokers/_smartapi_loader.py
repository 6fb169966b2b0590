"""Import ``smartapi-python`` (1.5.5) with its traps neutralised.

Traps, read from ``.venv/lib/python3.11/site-packages/SmartApi/smartConnect.py``:

1. At import, the ``SmartConnect`` class body calls ``get('https://api.ipify.org')`` (``from
   requests import get``, no timeout) and ``socket.gethostbyname``; a ``finally`` then
   overwrites both results with constants ("106.193.147.98", "127.0.0.1"). We swap
   ``requests.get`` for a stub that raises during the import (under a lock, restored at once),
   so nothing leaves the machine and the SDK falls back to those constants. The URLs the stub
   refused are recorded in :data:`IMPORT_TIME_LOOKUPS_BLOCKED` (tests prove the block).
2. Each constructor runs ``os.makedirs("logs/<date>")`` and ``logzero.logfile("logs/<date>/app.log")``
   under the CWD (read-only in Lambda). We replace the module's ``os`` and ``logzero`` names with
   shims: no directory, no file (set ``SMARTAPI_LOG_DIR`` to send the SDK's file log there).
3. The SDK logs request headers (``X-PrivateKey``, ``Authorization: Bearer``) and bodies (login
   password and TOTP) on errors through logzero's ``logger``. We replace it with a stdlib logger
   whose filter cuts everything from "Headers:" / "Request:" on and masks bearer tokens.
4. ``_request`` ignores the HTTP status (a 429 or 5xx surfaces as a JSON parse error or a
   ``status: false`` body). The module's ``requests`` name is replaced with a proxy whose
   ``request`` raises :class:`HttpStatusError` for 429, 5xx and the plain-text rate-limit
   answer (any status; users report 403), so the adapter can classify them.
5. ``logzero`` and ``websocket-client`` are undeclared dependencies: pinned in requirements.txt.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import types
from typing import Any

import requests as _requests

IMPORT_TIME_LOOKUPS_BLOCKED: list[str] = []
_LOCK = threading.Lock()
_SDK_LOGGER = logging.getLogger("shared_utils.brokers.angel.sdk")


class HttpStatusError(Exception):
    """An HTTP 429 / 5xx answer seen under the SDK (``status``, first 200 chars of ``text``)."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.text = text


class _RedactFilter(logging.Filter):
    _CUT = re.compile(r"\s*(Headers:|Request:|URL:).*", re.S)
    _BEARER = re.compile(r"Bearer\s+\S+")

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        msg = self._BEARER.sub("Bearer ***", self._CUT.sub(" [details redacted]", msg))
        record.msg, record.args = msg, None
        return True


_SDK_LOGGER.addFilter(_RedactFilter())


class _RequestsProxy(types.ModuleType):
    """Stands in for ``requests`` inside SmartApi.smartConnect; raises on 429/5xx."""

    def __init__(self) -> None:
        super().__init__("requests")

    def __getattr__(self, name: str) -> Any:
        return getattr(_requests, name)

    @staticmethod
    def request(method: str, url: str, **kwargs: Any) -> Any:
        proxies = dict(kwargs.get("proxies") or {})
        from shared_utils.egress import SOURCE_ADDRESS_KEY, session_for_source

        source = proxies.pop(SOURCE_ADDRESS_KEY, None)
        if source:  # egress per trader, locally: this client's calls leave from its group's address
            kwargs["proxies"] = proxies
            resp = session_for_source(source).request(method, url, **kwargs)
        else:
            resp = _requests.request(method, url, **kwargs)
        if resp.status_code == 429 or resp.status_code >= 500 or _is_rate_limit_text(resp):
            raise HttpStatusError(resp.status_code, resp.text[:200])
        return resp


def _is_rate_limit_text(resp: Any) -> bool:
    """SmartAPI's throttle answer is PLAIN TEXT "Access denied because of exceeding access rate",
    user-reported with HTTP 403 (broker-samples/smartapi/rate_limits.json): the SDK would raise
    DataException on it; we surface it with its status so the adapter reads RateLimited."""
    ctype = str(resp.headers.get("Content-Type", "")).lower()
    if "json" in ctype:
        return False
    return "exceeding access rate" in resp.text[:200].lower()


def _logfile(path: str, *args: Any, **kwargs: Any) -> None:
    target = os.environ.get("SMARTAPI_LOG_DIR")
    if target:
        import logzero

        full = os.path.join(target, os.path.relpath(path, "logs"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        logzero.logfile(full, *args, **kwargs)


def _makedirs(path: str, *args: Any, **kwargs: Any) -> None:
    """The SDK's ``logs/<date>`` directory is never created under the CWD."""


def load_smartconnect() -> type:
    """Return ``SmartApi.SmartConnect`` with the traps above neutralised (idempotent)."""
    with _LOCK:
        mod = sys.modules.get("SmartApi.smartConnect")
        if mod is None:
            real_get = _requests.get

            def _blocked_get(url: str, *args: Any, **kwargs: Any) -> Any:
                IMPORT_TIME_LOOKUPS_BLOCKED.append(str(url))
                raise _requests.exceptions.ConnectionError("import-time public IP lookup blocked")

            _requests.get = _blocked_get  # type: ignore[assignment]
            try:
                import logzero

                previous = logzero.logger.level
                logzero.logger.setLevel(logging.CRITICAL)  # hide the SDK's import-time error line
                try:
                    import SmartApi.smartConnect as mod  # noqa: F811
                finally:
                    logzero.logger.setLevel(previous)
            finally:
                _requests.get = real_get  # type: ignore[assignment]
        if not getattr(mod, "_shared_utils_neutralised", False):
            mod.os = types.SimpleNamespace(path=os.path, makedirs=_makedirs)
            mod.logzero = types.SimpleNamespace(logfile=_logfile)
            mod.logger = _SDK_LOGGER
            mod.requests = _RequestsProxy()
            mod._shared_utils_neutralised = True
        return mod.SmartConnect
