"""Fault injection for the engine II tests: a process crash at a chosen DynamoDB write."""

from __future__ import annotations

from typing import Any, Callable


class Crash(RuntimeError):
    """The Lambda died here (timeout, out of memory): nothing after this line ran."""


def crash_on_write(monkeypatch, table: Any, touches: Callable[[str], bool], times: int = 1,
                   updates_only: bool = False) -> list[str]:
    """Make ``table`` crash (raise Crash, writing nothing of that call) the first ``times``
    writes whose item sort key satisfies ``touches``, whether the write is a single put or a
    transaction holding that item (``updates_only``: only writes of an existing item, i.e. not
    a first ``attribute_not_exists`` put such as an order's intent). Returns the sort keys it
    crashed on."""
    crashed: list[str] = []
    put, transact = table.put, table.transact

    def _put(item, condition=None, *args, **kwargs):
        if updates_only and condition and "attribute_not_exists" in condition:
            return put(item, condition, *args, **kwargs)
        if len(crashed) < times and touches(str(item.get("sort_key", ""))):
            crashed.append(item["sort_key"])
            raise Crash(f"crash before writing {item['sort_key']}")
        return put(item, condition, *args, **kwargs)

    def _transact(ops):
        for op in ops:
            body = op.get("Put") or op.get("Update") or op.get("Delete") or op.get("ConditionCheck") or {}
            sort_key = (body.get("Item") or body.get("Key") or {}).get("sort_key", {}).get("S", "")
            if updates_only and "attribute_not_exists" in body.get("ConditionExpression", ""):
                continue
            if len(crashed) < times and touches(sort_key):
                crashed.append(sort_key)
                raise Crash(f"crash before writing {sort_key}")
        return transact(ops)

    monkeypatch.setattr(table, "put", _put)
    monkeypatch.setattr(table, "transact", _transact)
    return crashed
