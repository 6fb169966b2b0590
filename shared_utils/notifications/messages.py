"""What the trader reads: an engine alert (or a platform event) -> :class:`Notification` s.

Every message says what happened, where (account, strategy, execution, leg, order) and what the
platform did, in that order; the words for "what the platform did" follow what the engine code
does for that alert kind (sources named per kind below).

Inputs:
- :func:`from_bus_event`: an EventBridge event as the rule delivers it to the queue
  (``{"id", "detail-type", "source", "time", "detail"}``); ``detail-type`` "Order Alert"
  (``shared_utils.execution.events.ORDER_ALERT``). Kinds handled: Finalize's execution alert
  (no ``kind``; ``status``/``problems``: steps.finalize), ``LATE_REJECTION`` (lifecycle),
  ``NOT_SENT`` (placer), ``PARTIAL_FILL`` (fill_policy), ``STOP_LOSS_HIT``/``TARGET_HIT``
  (lifecycle.after_update), ``MTM_EXIT`` (risk_monitor), ``POSITION_MISMATCH`` (exits),
  ``RECONCILIATION`` (duplicate_checker); any other kind -> ENGINE_ALERT with its message.
- :func:`kill_switch`, :func:`sessions_missing`: platform events outside the engine.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Callable

from shared_utils.notifications.models import Notification, NotificationEvent as E

ORDER_ALERT = "Order Alert"
MAX_PROBLEMS = 10


def _id(*parts: Any) -> str:
    raw = "|".join(str(p) for p in parts)
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _where(detail: dict[str, Any]) -> dict[str, Any]:
    keys = ("client_id", "accounts", "strategy_id", "strategy_name", "execution_id", "execution_type", "leg_no", "tradingsymbol",
            "order_key", "tag")
    return {k: detail[k] for k in keys if detail.get(k) not in (None, "", [])}


def _where_line(where: dict[str, Any]) -> str:
    parts = []
    if where.get("client_id"):
        parts.append(f"account {where['client_id']}")
    elif where.get("accounts"):
        parts.append("accounts " + ", ".join(where["accounts"]))
    if where.get("strategy_id"):
        name = where.get("strategy_name")
        parts.append(f"strategy {name} ({where['strategy_id']})" if name else f"strategy {where['strategy_id']}")
    if where.get("execution_id"):
        parts.append(f"execution {where['execution_id']}")
    if where.get("leg_no") is not None:
        parts.append(f"leg {where['leg_no']}")
    if where.get("tradingsymbol"):
        parts.append(where["tradingsymbol"])
    if where.get("order_key"):
        parts.append(f"order {where['order_key']}")
    return "; ".join(parts) or "your account"


#: the body's limit (Telegram allows 4096 characters with the title; SNS email far more)
MAX_TEXT = 3500


def compose(what: str, where: dict[str, Any], did: str) -> str:
    """The body every channel sends: three labelled parts. A long "what happened" (many problem
    lines) is shortened so "where" and "what the platform did" always arrive whole."""
    head = f"What happened: {what}"
    tail = f"\nWhere: {_where_line(where)[:600]}\nWhat the platform did: {did[:800]}"
    if len(head) + len(tail) > MAX_TEXT:
        head = head[:MAX_TEXT - len(tail) - 1] + "…"
    return head + tail


def _note(event_id: str, index: int, user_id: str, event: E, title: str, what: str, where: dict[str, Any],
          did: str, at: str | None, also: list[E] | None = None) -> Notification:
    return Notification(notification_id=_id(event_id, index, event.value), user_id=user_id, event=event,
                        title=title[:200], text=compose(what, where, did), where=where, at=at,
                        also_for=also or [])


def _execution(event_id: str, detail: dict[str, Any], at: str | None) -> list[Notification]:
    status = detail.get("status")
    kind = detail.get("execution_type", "")
    where = _where(detail)
    problems = detail.get("problems") or []
    lines = [f"- {p.get('client_id')} leg {p.get('leg_no')} {p.get('transaction_type', '')} {p.get('tradingsymbol', '')}: "
             f"{p.get('status')} - {p.get('reason') or p.get('message') or 'no message'}"
             + (f" ({p['orders']} orders, {p.get('quantity')} units)" if (p.get("orders") or 0) > 1 else "")
             for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"- ... and {len(problems) - MAX_PROBLEMS} more (see the execution's orders)")
    counts = (f"{detail.get('accepted', 0)} of {detail.get('orders', 0)} orders accepted, {detail.get('rejected', 0)} "
              f"rejected, {detail.get('not_sent', 0)} not sent, {detail.get('unknown', 0)} with no answer yet")
    what = f"the {kind} execution ended {status}: {counts}." + ("\n" + "\n".join(lines) if lines else "")
    rejected = any(p.get("status") == "REJECTED" for p in problems)
    if status == "FAILED":
        event = E.EXECUTION_FAILED
        did = ("recorded the execution as FAILED; no order of it was accepted, so nothing was opened."
               if kind == "ENTRY" else
               "recorded the exit as FAILED; the positions it should have closed may still be open: the exit is "
               "retried by the per-minute checks, and you can close them from the dashboard.")
    elif status == "PARTIAL":
        event = E.EXECUTION_PARTIAL
        did = ("recorded the execution as PARTIAL; the accepted orders stand and are followed by the order poller, "
               "the stop-loss and duplicate checks; rejected and not-sent orders are not sent again.")
    else:
        event = E.ENGINE_ALERT
        did = "recorded the execution with the problems above; accepted orders are followed by the order poller."
    title = f"{kind} {status}: {detail.get('strategy_name') or detail.get('strategy_id', '')} ({detail.get('accepted', 0)}/{detail.get('orders', 0)} accepted)"
    return [_note(event_id, 0, detail["user_id"], event, title, what, where, did, at,
                  also=[E.ORDER_REJECTED] if rejected else [])]


def _alert(event_id: str, detail: dict[str, Any], at: str | None) -> list[Notification]:
    kind = detail.get("kind")
    user_id = detail["user_id"]
    where = _where(detail)
    message = str(detail.get("message") or "")
    if kind == "LATE_REJECTION":
        return [_note(event_id, 0, user_id, E.ORDER_REJECTED, f"Order rejected: {detail.get('tradingsymbol', '')}",
                      f"the broker rejected the order after first accepting it: {message}", where,
                      "marked the execution PARTIAL with this reason; the rejected order is not sent again.", at)]
    if kind == "NOT_SENT":
        problems = detail.get("problems") or []
        lines = "\n".join(f"- leg {p.get('leg_no')} {p.get('transaction_type', '')} {p.get('quantity', '')} "
                          f"{p.get('tradingsymbol', '')}: {p.get('message', '')}" for p in problems[:MAX_PROBLEMS])
        return [_note(event_id, 0, user_id, E.ORDER_REJECTED, f"{len(problems)} order(s) not sent",
                      "orders were held back and not sent to the broker:\n" + lines, where,
                      "did not send these orders (nothing reached the broker for them).", at)]
    if kind == "PARTIAL_FILL":
        return [_note(event_id, 0, user_id, E.PARTIAL_FILL, "Partial fill", message, where,
                      "marked the execution PARTIAL and applied the strategy's partial-fill policy as stated above.",
                      at)]
    if kind in ("STOP_LOSS_HIT", "TARGET_HIT"):
        label = "Stop loss hit" if kind == "STOP_LOSS_HIT" else "Target hit"
        return [_note(event_id, 0, user_id, E.STOP_HIT, f"{label}: {detail.get('tradingsymbol', '')}", message, where,
                      f"recorded the closing fill ({detail.get('quantity', '')} units at {detail.get('average_price', '')}) "
                      "and updated the position.", at)]
    if kind == "MTM_EXIT":
        return [_note(event_id, 0, user_id, E.STOP_HIT, "Strategy stop: exiting", message, where,
                      "started the strategy's exit now (a protected exit: shorts bought back before longs are sold).",
                      at)]
    if kind in ("POSITION_MISMATCH", "RECONCILIATION"):
        did = ("recorded the difference; it sends nothing to correct it on its own: check the account at the broker."
               if kind == "POSITION_MISMATCH" else
               "reconciled what it could with the broker's order book and flagged the order; check it at the broker.")
        return [_note(event_id, 0, user_id, E.POSITION_MISMATCH, "Books and broker disagree", message, where, did, at)]
    if kind == "STOP_LOSS":  # stops.place_stop_loss could not place (or fully place) a leg's stop
        return [_note(event_id, 0, user_id, E.ENGINE_ALERT, "Stop loss problem", message, where,
                      "recorded it on the entry order; the leg has no (or only a partial) working stop at the broker "
                      "until one is placed: check it at the broker.", at,
                      also=[E.ORDER_REJECTED] if "REJECTED" in message else [])]
    text = message or "; ".join(str(v) for k, v in detail.items() if k not in ("user_id",))[:1000]
    return [_note(event_id, 0, user_id, E.ENGINE_ALERT, f"Engine alert {kind or ''}".strip(), text, where,
                  "recorded it on the execution; see its reasons in the history.", at)]


def from_bus_event(event: dict[str, Any],
                   strategy_name: Callable[[str, str], str | None] | None = None) -> list[Notification]:
    """The notifications of one bus event (``[]`` when it concerns no trader). Identical alerts
    get the same ``notification_id`` (sent once). ``strategy_name(user_id, strategy_id)`` names
    the strategy in the message (None or an error: the id alone)."""
    detail = event.get("detail") or {}
    if event.get("detail-type") != ORDER_ALERT or not detail.get("user_id"):
        return []
    # the id comes from the alert's content, not the bus event's id: an engine check that
    # raises the same alert every minute (a reconciliation finding still open) reaches the
    # trader once (delivery marks, 7 days); a changed alert is a new message
    event_id = _id(json.dumps(detail, sort_keys=True, default=str))
    at = event.get("time")
    if strategy_name is not None and detail.get("strategy_id"):
        try:
            name = strategy_name(detail["user_id"], detail["strategy_id"])
        except Exception:  # noqa: BLE001 - the message still goes out, with the id
            name = None
        if name:
            detail = {**detail, "strategy_name": name}
    if "kind" not in detail and "status" in detail:
        return _execution(event_id, detail, at)
    return _alert(event_id, detail, at)


def kill_switch(user_id: str, scope: str, on: bool, reason: str, set_by: str | None, at: str,
                client_id: str | None = None) -> Notification:
    """The caller's kill switch changed (PUT /options/kill-switch[/accounts/{client_id}|/global])."""
    where = {"client_id": client_id} if client_id else {}
    target = {"USER": "all your accounts", "ACCOUNT": f"account {client_id}", "GLOBAL": "the whole platform"}[scope]
    who = "the platform's operators" if scope == "GLOBAL" else (set_by or "you")
    what = f"the kill switch for {target} was turned {'ON' if on else 'OFF'} by {who}" + (
        f" (reason: {reason})" if reason else "") + "."
    did = ("refuses every new entry order for it from now on, before each send; exits and stop losses still run."
           if on else "accepts new entries for it again from the next execution.")
    return Notification(notification_id=_id("kill", user_id, scope, client_id, on, at), user_id=user_id,
                        event=E.KILL_SWITCH, title=f"Kill switch {'ON' if on else 'OFF'}: {target}",
                        text=compose(what, where, did), where=where, at=at)


def sessions_missing(missing: list[Any], trade_date: str, open_at: str) -> list[Notification]:
    """Before the open: one notification per account the day needs without a session
    (``SessionService.health_check``'s :class:`MissingSession` items or dicts)."""
    out = []
    for m in missing:
        row = m if isinstance(m, dict) else m.model_dump()
        strategies = row.get("strategy_ids") or []
        where = {"client_id": row["client_id"]} | ({"strategy_ids": strategies} if strategies else {})
        what = (f"broker account {row['client_id']} ({row.get('broker') or 'unknown broker'}) has no session valid at "
                f"the open ({open_at}) of {trade_date}: {row.get('reason')}. Due today: "
                f"{', '.join(strategies) or 'its open positions'}.")
        did = ("will not send orders for this account until you log in (POST /broker-accounts/"
               f"{row['client_id']}/login or the app); its entries are refused with this reason.")
        out.append(Notification(notification_id=_id("session", row["user_id"], row["client_id"], trade_date),
                                user_id=row["user_id"], event=E.SESSION_MISSING,
                                title=f"Log in to {row['client_id']} before the open",
                                text=compose(what, where, did), where=where, at=open_at))
    return out


def traders(repos: Any) -> list[str]:
    """Every trader with a broker account (a Scan of the broker accounts table projecting
    ``user_id``; the platform kill switch concerns them all). ``[]`` when it cannot be read."""
    found: set[str] = set()
    try:
        table = repos.accounts_table
        for page in table.client.get_paginator("scan").paginate(
                TableName=table.name, ProjectionExpression="user_id, entity_type"):
            for item in page.get("Items", []):
                kind = item.get("entity_type", {}).get("S", "BROKER_ACCOUNT")
                if kind == "BROKER_ACCOUNT":
                    found.add(item["user_id"]["S"])
    except Exception:  # noqa: BLE001 - a notification never fails the switch
        return []
    return sorted(found)
