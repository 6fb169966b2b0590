"""A local Telegram Bot API stand-in: ``sendMessage`` (and ``getMe``) as the real API answers.

Bot API facts followed (core.telegram.org/bots/api, "Making requests", "sendMessage"):
- requests are ``https://api.telegram.org/bot<token>/<method>`` (GET or POST; parameters as a
  query string, ``application/x-www-form-urlencoded`` or ``application/json``);
- every answer is JSON ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": <int>,
  "description": "..."}`` with the HTTP status equal to ``error_code``; a bad or revoked token
  answers 401 ``{"ok":false,"error_code":401,"description":"Unauthorized"}``, an unknown
  method 404 "Not Found";
- ``sendMessage`` needs ``chat_id`` (integer or ``@channelusername``) and ``text`` (1-4096
  characters after entity parsing): missing -> 400 "Bad Request: chat_id is empty" / "Bad
  Request: message text is empty", too long -> 400 "Bad Request: message is too long"; a chat
  the bot cannot write to (the user never pressed Start) -> 400 "Bad Request: chat not found";
  a user who blocked the bot -> 403 "Forbidden: bot was blocked by the user"; flood control ->
  429 "Too Many Requests: retry after N" with ``parameters.retry_after``;
- the result of sendMessage is the sent Message: ``message_id``, ``from`` (the bot),
  ``chat`` (``id``, ``type`` "private", ``first_name``), ``date`` (Unix time), ``text``.

Test hooks: :meth:`add_bot` (a token), :meth:`start_chat` (the user pressed Start), :meth:`block`,
:meth:`fail_next` (the next N sendMessage calls answer 429 or a 5xx), :meth:`messages` (what a
chat received, in order).
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)$")
MAX_TEXT = 4096


@dataclass
class _Bot:
    bot_id: int
    username: str
    chats: dict[str, dict[str, Any]] = field(default_factory=dict)  # chat id -> chat
    blocked: set[str] = field(default_factory=set)


@dataclass
class SentMessage:
    token_bot_id: int
    chat_id: str
    message_id: int
    text: str
    date: int


class FakeTelegram:
    """The stand-in server on 127.0.0.1 (port 0 = any free port); ``url`` is its base URL (set
    ``TELEGRAM_API_URL`` to it)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, clock: Any | None = None) -> None:
        self._host, self._port = host, port
        self._clock = clock
        self._bots: dict[str, _Bot] = {}
        self._sent: list[SentMessage] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._failures: list[tuple[int, str, dict[str, Any] | None]] = []
        self.requests: list[tuple[str, str]] = []  # (method name, bot id or "?"): never the token
        self._httpd: ThreadingHTTPServer | None = None

    # ---- test hooks -------------------------------------------------------------------------------
    def add_bot(self, username: str = "ql_alerts_bot") -> str:
        """A new bot; returns its token (``<id>:<35 url-safe characters>``, as BotFather's)."""
        bot_id = 6_000_000_000 + len(self._bots) + 1
        token = f"{bot_id}:" + secrets.token_urlsafe(27)[:35]
        self._bots[token] = _Bot(bot_id, username)
        return token

    def revoke(self, token: str) -> None:
        self._bots.pop(token, None)

    def start_chat(self, token: str, chat_id: int | str, first_name: str = "Trader") -> None:
        """The user opened the bot and pressed Start: the bot may write to the chat."""
        self._bots[token].chats[str(chat_id)] = {"id": int(chat_id), "first_name": first_name, "type": "private"}

    def block(self, token: str, chat_id: int | str) -> None:
        self._bots[token].blocked.add(str(chat_id))

    def fail_next(self, count: int = 1, status: int = 429, retry_after: int = 1) -> None:
        """The next ``count`` sendMessage calls answer ``status`` (429 flood control, or a 5xx)."""
        for _ in range(count):
            if status == 429:
                self._failures.append((429, f"Too Many Requests: retry after {retry_after}",
                                       {"retry_after": retry_after}))
            else:
                self._failures.append((status, {500: "Internal Server Error", 502: "Bad Gateway"}.get(status, "Error"),
                                       None))

    def messages(self, chat_id: int | str | None = None) -> list[SentMessage]:
        with self._lock:
            return [m for m in self._sent if chat_id is None or m.chat_id == str(chat_id)]

    # ---- server -------------------------------------------------------------------------------------
    def start(self) -> "FakeTelegram":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _do(self) -> None:
                status, body = server._answer(self)
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _do

        self._httpd = ThreadingHTTPServer((self._host, self._port), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, name="FakeTelegram", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> "FakeTelegram":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # ---- the API ------------------------------------------------------------------------------------
    @staticmethod
    def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return code, body

    @staticmethod
    def _params(h: BaseHTTPRequestHandler) -> dict[str, Any]:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(h.path).query).items()}
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        kind = (h.headers.get("Content-Type") or "").split(";")[0].strip()
        if raw and kind == "application/json":
            try:
                data = json.loads(raw)
            except ValueError:
                return {**query, "__bad_json__": True}
            return {**query, **(data if isinstance(data, dict) else {})}
        if raw:
            return {**query, **{k: v[-1] for k, v in parse_qs(raw.decode()).items()}}
        return query

    def _now(self) -> int:
        return int(self._clock.now().timestamp()) if self._clock is not None else int(time.time())

    def _answer(self, h: BaseHTTPRequestHandler) -> tuple[int, dict[str, Any]]:
        match = _PATH.match(urlsplit(h.path).path)
        params = self._params(h)
        if match is None:
            return self._error(404, "Not Found")
        bot = self._bots.get(match["token"])
        self.requests.append((match["method"], str(bot.bot_id) if bot else "?"))
        if bot is None:
            return self._error(401, "Unauthorized")
        if params.get("__bad_json__"):
            return self._error(400, "Bad Request: invalid JSON")
        method = match["method"]
        if method.lower() == "getme":
            return 200, {"ok": True, "result": {"id": bot.bot_id, "is_bot": True, "first_name": bot.username,
                                                "username": bot.username}}
        if method.lower() != "sendmessage":
            return self._error(404, "Not Found")
        chat_id = str(params.get("chat_id") or "").strip()
        text = params.get("text")
        if not chat_id:
            return self._error(400, "Bad Request: chat_id is empty")
        if not isinstance(text, str) or not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            return self._error(400, "Bad Request: message is too long")
        if self._failures:
            status, description, parameters = self._failures.pop(0)
            return self._error(status, description, parameters)
        if chat_id in bot.blocked:
            return self._error(403, "Forbidden: bot was blocked by the user")
        chat = bot.chats.get(chat_id)
        if chat is None:
            return self._error(400, "Bad Request: chat not found")
        with self._lock:
            message = SentMessage(bot.bot_id, chat_id, next(self._ids), text, self._now())
            self._sent.append(message)
        return 200, {"ok": True, "result": {
            "message_id": message.message_id,
            "from": {"id": bot.bot_id, "is_bot": True, "first_name": bot.username, "username": bot.username},
            "chat": chat, "date": message.date, "text": text}}
