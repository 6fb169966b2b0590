""""Check Duplicate Orders": every intent of the day against each broker's order book, by tag.

``classify`` (pure) compares one account's records with its book and names every finding:

- ``UNRECORDED``: a broker order carrying the platform's tag prefix ``"Q"`` (keys.order_tag)
  that no record of the platform has (checked again through GSI3 before it is reported);
- ``MISSING_AT_BROKER``: a record PENDING/SENT/UNKNOWN for longer than ``grace`` (60 s) that the
  broker does not know;
- ``DUPLICATE_TAG``: two or more broker orders with one tag (a double send);
- ``RECOVERED``: an UNKNOWN/PENDING/SENT record found in the book by its tag: the record is
  updated with the broker's report (``lifecycle.apply_broker_report``).

A MISSING_AT_BROKER record is RESOLVED (issue 13 item 6): it becomes NOT_SENT (final, the reason
in ``broker_message``), so nothing waits on it for ever; an EXIT order that never arrived is then
re-planned by ``exits.finish_exit`` (the next minute), which reads the broker's positions before
it sends anything.

Every finding except RECOVERED is flagged on the record (``OrderRecord.flags``) when there is
one, and alerted ("Order Alert", kind ``RECONCILIATION``); nothing is ever silently ignored.
Then the order poller runs over the same books.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared_utils.models.enums import OrderStatus

TAG_PREFIX = "Q"
GRACE = timedelta(seconds=60)
UNSENT = (OrderStatus.PENDING, OrderStatus.SENT, OrderStatus.UNKNOWN)


@dataclass(frozen=True)
class Finding:
    kind: str  # UNRECORDED | MISSING_AT_BROKER | DUPLICATE_TAG | RECOVERED
    tag: str
    order_key: str | None
    broker_order_ids: tuple[str, ...]
    detail: str


def classify(records: list[Any], book: list[Any], now: datetime, grace: timedelta = GRACE) -> list[Finding]:
    """One account: its order records (any status) vs its broker order book (OrderReports)."""
    by_tag: dict[str, list[Any]] = defaultdict(list)
    for report in book:
        if report.tag:
            by_tag[report.tag].append(report)
    ours = {r.tag: r for r in records}
    findings: list[Finding] = []
    for tag, reports in sorted(by_tag.items()):
        ids = tuple(sorted(r.order_id for r in reports))
        record = ours.get(tag)
        if len(reports) > 1:
            findings.append(Finding("DUPLICATE_TAG", tag, record.order_key if record else None, ids,
                                    f"{len(reports)} broker orders carry tag {tag}: {', '.join(ids)}"))
        if record is None and tag.startswith(TAG_PREFIX):
            r = reports[0]
            findings.append(Finding("UNRECORDED", tag, None, ids,
                                    f"broker order {ids[0]} ({r.transaction_type.value} {r.quantity} {r.tradingsymbol}, "
                                    f"{r.status.value}) carries a platform tag but has no record"))
    for record in records:
        reports = by_tag.get(record.tag, [])
        if record.status in UNSENT:
            if reports:
                findings.append(Finding("RECOVERED", record.tag, record.order_key,
                                        tuple(sorted(r.order_id for r in reports)),
                                        f"{record.status.value} record found at the broker by tag"))
            elif record.intent_at is not None and now - record.intent_at > grace:
                findings.append(Finding("MISSING_AT_BROKER", record.tag, record.order_key, (),
                                        f"{record.status.value} since {record.intent_at.isoformat()}, "
                                        "unknown to the broker"))
    return findings


def resolve_missing(ctx: Any, record: Any, now: datetime, detail: str) -> Any:
    """A record the broker does not know a minute after its intent never reached it: NOT_SENT
    (final) with the reason. Returns the stored record."""
    from shared_utils.execution.booking import save_report

    current = ctx.repos.orders.get(record.user_id, record.order_key)
    if current.status not in UNSENT:
        return current
    from shared_utils.execution.lifecycle import note_late_failure

    saved = save_report(ctx.repos, current, OrderStatus.NOT_SENT, current.filled_quantity, None,
                        f"never reached the broker ({detail}); marked NOT_SENT", now,
                        extra={"error_kind": "MISSING_AT_BROKER"})
    note_late_failure(ctx, saved)
    return saved


def check_account(ctx: Any, user_id: str, client_id: str, records: list[Any], now: datetime,
                  book: list[Any] | None = None) -> list[Finding]:
    """Classify, then act: update RECOVERED records, flag and alert the rest."""
    from shared_utils.execution.exits import alert, client_of
    from shared_utils.execution.lifecycle import apply_broker_report

    client = None
    if book is None:
        client = client_of(ctx, user_id, client_id)
        book = client.order_book()
    findings = classify(records, book, now)
    by_key = {r.order_key: r for r in records}
    reports = {r.order_id: r for r in book}
    for finding in findings:
        if finding.kind == "UNRECORDED" and ctx.repos.orders.by_tag(finding.tag) is not None:
            continue  # recorded under an execution outside today's scope
        record = by_key.get(finding.order_key) if finding.order_key else None
        if finding.kind == "RECOVERED" and record is not None:
            apply_broker_report(ctx, record, reports[finding.broker_order_ids[-1]], now, client)
            continue
        if finding.kind == "MISSING_AT_BROKER" and record is not None:
            record = resolve_missing(ctx, record, now, finding.detail)
        if record is not None:
            flag = f"{finding.kind} {now.isoformat()}"
            if not any(f.startswith(finding.kind) for f in record.flags):
                current = ctx.repos.orders.get(record.user_id, record.order_key)
                ctx.repos.orders.save(current.model_copy(update={"flags": current.flags + [flag]}), current.version)
        alert(ctx, "RECONCILIATION", user_id, record.strategy_id if record else "", finding.detail,
              finding=finding.kind, client_id=client_id, tag=finding.tag, order_key=finding.order_key,
              broker_order_ids=list(finding.broker_order_ids))
    return findings


def run_duplicate_checker(ctx: Any, now: datetime | None = None) -> dict[str, Any]:
    """Every watched strategy's orders of today, grouped by account, against each book."""
    from shared_utils.brokers.errors import BrokerError
    from shared_utils.clock import to_ist
    from shared_utils.execution import watchlist
    from shared_utils.execution.exits import alert, strategy_orders

    now = now or ctx.clock.now()
    today = to_ist(now).date()
    per_account: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for w in watchlist.watched(ctx.repos):
        for order in strategy_orders(ctx, w.user_id, w.strategy_id, today):
            per_account[(w.user_id, order.client_id)].append(order)
    out = {}
    for (user_id, client_id), records in sorted(per_account.items()):
        try:
            findings = check_account(ctx, user_id, client_id, records, now)
            out[f"{user_id}/{client_id}"] = [f.kind for f in findings]
        except (BrokerError, LookupError) as exc:
            alert(ctx, "RECONCILIATION", user_id, "", f"{client_id}: order book unavailable, not reconciled ({exc})",
                  client_id=client_id)
            out[f"{user_id}/{client_id}"] = [f"UNAVAILABLE: {exc}"]
    return {"at": now.isoformat(), "accounts": out}
