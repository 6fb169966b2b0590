"""Count DynamoDB requests per state-machine step through the real ASL runner (issue 14 item 9).

Every DynamoDB request the engine makes goes through botocore; a ``before-call.dynamodb`` handler
registered on the process's DynamoDB clients sees each one (``Query``, ``BatchWriteItem``,
``TransactWriteItems``... one per request, whatever it carries). The step is the handler module
running on the calling thread (the interpreter runs each Task on its own thread, as each Lambda
invocation has its own container), set by wrapping ``asl_runner.invoke_handler``. A broker send
is marked by wrapping the paper broker's ``place_order`` so the requests between an account's
first and last send can be counted.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RequestLog:
    #: (sequence, thread id, step module, operation or "SEND", client_id of the send / item)
    events: list[tuple[int, int, str | None, str, str | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    local: threading.local = field(default_factory=threading.local)
    seq: Any = field(default_factory=itertools.count)

    def add(self, operation: str, client_id: str | None = None) -> None:
        with self.lock:
            self.events.append((next(self.seq), threading.get_ident(), getattr(self.local, "step", None),
                                operation, client_id or getattr(self.local, "client_id", None)))

    def by_step(self) -> Counter:
        return Counter(step for _, _, step, op, _ in self.events if not op.startswith("SEND"))

    def operations(self, step: str) -> Counter:
        return Counter(op for _, _, s, op, _ in self.events if s == step and not op.startswith("SEND"))

    def _between(self, first: str, last: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        threads = {(t, c) for _, t, s, op, c in self.events if op.startswith("SEND")}
        for thread, client in threads:
            mine = [e for e in self.events if e[1] == thread]
            starts = [e[0] for e in mine if e[3].startswith(first)]
            ends = [e[0] for e in mine if e[3].startswith(last)]
            if not starts or not ends:
                continue
            low, high = (min(starts), max(ends)) if first == last else (max(starts), min(ends))
            out.setdefault(client, []).extend(e[3] for e in mine if not e[3].startswith("SEND") and low < e[0] < high)
        return out

    def during_sends(self) -> dict[str, int]:
        """DynamoDB requests inside each account's bursts of sends (first to last BUY, first to
        last SELL), by account."""
        out: dict[str, int] = {}
        for side in ("SEND BUY", "SEND SELL"):
            for client, ops in self._between(side, side).items():
                out[client] = out.get(client, 0) + len(ops)
        return out

    def between_hedges_and_shorts(self) -> dict[str, list[str]]:
        """DynamoDB requests after an account's last hedge (BUY) send and before its first short."""
        return self._between("SEND BUY", "SEND SELL")


def install(monkeypatch, engine) -> RequestLog:
    """Start counting (for the test's duration)."""
    from shared_utils.brokers.paper import PaperBroker
    from shared_utils.execution import asl_runner
    from shared_utils.persistence import table as table_module

    log = RequestLog()
    clients = {id(c): c for c in table_module._CLIENTS.values()}
    for repo in vars(engine.repos).values():
        client = getattr(getattr(repo, "table", None), "client", None)
        if client is not None:
            clients[id(client)] = client
    for client in clients.values():
        client.meta.events.register("before-call.dynamodb", lambda model, **_: log.add(model.name))
    real_invoke = asl_runner.invoke_handler

    def counted_invoke(module, payload, ctx, step=None):
        import json

        event = json.loads(payload)
        log.local.step = module
        log.local.client_id = event.get("client_id") if isinstance(event, dict) else None
        try:
            return real_invoke(module, payload, ctx, step)
        finally:
            log.local.step = None
            log.local.client_id = None

    monkeypatch.setattr(asl_runner, "invoke_handler", counted_invoke)
    real_place = PaperBroker.place_order

    def counted_place(self, request, *args, **kwargs):
        log.add(f"SEND {getattr(request.transaction_type, 'value', request.transaction_type)}",
                getattr(self, "account_id", None))
        return real_place(self, request, *args, **kwargs)

    monkeypatch.setattr(PaperBroker, "place_order", counted_place)
    return log
