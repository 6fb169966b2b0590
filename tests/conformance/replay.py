"""A 127.0.0.1 HTTP server that answers with the official sample files, byte for byte, so the
real SDKs (kiteconnect, smartapi-python) and our requests-based Noren client parse exactly what
the broker documented. Requests are recorded (method, path, headers, body)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ReplayServer:
    """``routes``: ``{(METHOD, path): (status, body_bytes, content_type)}``; a path ending in
    ``*`` matches by prefix. Unknown routes answer 404."""

    def __init__(self, routes: dict[tuple[str, str], tuple[int, bytes, str]]) -> None:
        self.routes = routes
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _do(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append((self.command, self.path, dict(self.headers), body))
                status, payload, ctype = server.lookup(self.command, self.path.split("?", 1)[0])
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _do

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def lookup(self, method: str, path: str) -> tuple[int, bytes, str]:
        if (method, path) in self.routes:
            return self.routes[(method, path)]
        for (m, p), answer in self.routes.items():
            if m == method and p.endswith("*") and path.startswith(p[:-1]):
                return answer
        return 404, b'{"status":"error","message":"no sample for this route"}', "application/json"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> "ReplayServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
