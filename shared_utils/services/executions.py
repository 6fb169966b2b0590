"""Execution views and manual runs: GET /options/executions/history, GET
/options/executions/{execution_id}, GET /options/positions, POST /options/executions/manual.

A manual run goes through the SAME path as a scheduled one: it publishes a "Strategy Execution
Due" event (trigger MANUAL) for the next whole second + 3 s, which the state machine claims,
waits for, resolves and places. A strategy's entry (or exit) runs at most once per trade date:
a second manual entry on the same day answers 409 with what already happened.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

from shared_utils.archive.history import HistoryArchive, history_archive_from_environment
from shared_utils.clock import IST, Clock, to_ist, utc_iso_ms
from shared_utils.errors import Conflict, Forbidden, InvalidRequest
from shared_utils.execution.events import EXECUTION_DUE, SOURCE_EMITTER, EventPublisher
from shared_utils.models.enums import ExecutionType
from shared_utils.models.execution import Execution, OrderRecord, Position
from shared_utils.persistence import keys
from shared_utils.persistence.repositories import NotFound, Repositories

MANUAL_LEAD_SECONDS = 3


class ExecutionService:
    """Execution views and manual runs.

    ``archive`` serves history older than the table's hot window; by default the archive named
    by ``ARCHIVE_BUCKET_NAME`` (none when unset).
    """

    def __init__(self, repos: Repositories, clock: Clock, publisher: EventPublisher | None = None,
                 archive: HistoryArchive | None = None) -> None:
        self.repos = repos
        self.clock = clock
        self.publisher = publisher
        self.archive = archive

    def history(self, user_id: str, strategy_id: str | None, from_date: date | None, to_date: date | None,
                execution_type: ExecutionType | None = None, limit: int = 100) -> list[Execution]:
        """Executions newest first, filtered by strategy, IST trade-date range and type.

        Recent trade dates come from the table. When ``from_date`` reaches back beyond the hot
        window (``execution_engine.hot_item_ttl_days``, after which archived items expire), the
        archived days of the range are read from the Parquet archive too
        (:class:`~shared_utils.archive.history.HistoryArchive`); an execution in both answers with
        the table's copy.
        """
        kinds = [execution_type] if execution_type else list(ExecutionType)
        found: list[Execution] = []
        for kind in kinds:
            token = None
            while True:
                page = self.repos.executions.list_for_user(user_id, kind, strategy_id, limit=200, next_token=token)
                found += [e for e in page.items if (from_date is None or e.trade_date >= from_date)
                          and (to_date is None or e.trade_date <= to_date)]
                token = page.next_token
                if not token:
                    break
        archive = self.archive or history_archive_from_environment()
        if archive is not None and from_date is not None:
            today = to_ist(self.clock.now()).date()
            hot_ids = {e.execution_id for e in found}
            found += [e for e in archive.executions(user_id, from_date, to_date, today, strategy_id=strategy_id, kinds=kinds)
                      if e.execution_id not in hot_ids]
        found.sort(key=lambda e: e.execute_at, reverse=True)
        return found[:limit]

    def detail(self, user_id: str, execution_id: str) -> tuple[Execution, list[OrderRecord]]:
        try:
            execution = self.repos.executions.get_by_id(user_id, execution_id)
        except ValueError as exc:  # a malformed id names nothing
            raise NotFound(f"execution {execution_id} not found") from exc
        return execution, self.repos.orders.list_for_execution(user_id, execution_id)

    def positions(self, user_id: str, strategy_id: str | None, client_id: str | None) -> list[Position]:
        return self.repos.positions.list(user_id, strategy_id, client_id)

    def manual_problems(self, strategy: Any, execution_type: ExecutionType, execute_at: datetime,
                        trade_date: date) -> list[str]:
        """What Prepare would skip a manual run for that is already known at the call: a holiday
        or a time outside the session (the calendar's holiday name included), and for an ENTRY
        the strategy's executability (no legs, no active allocation, missing selection values).
        Kill switches and risk limits are judged by the engine at the send."""
        from shared_utils.execution.guards import session_problem
        from shared_utils.execution.readiness import executability_problems
        from shared_utils.market.calendar import default_calendar

        exchange = "BSE" if strategy.underlying in ("SENSEX", "BANKEX", "SENSEX50") else "NSE"
        problems = []
        guard = session_problem(default_calendar(), execute_at, exchange)
        if guard:
            problems.append(guard)
        if execution_type is ExecutionType.ENTRY:
            problems += executability_problems(strategy, self.repos.legs.list(strategy.user_id, strategy.strategy_id),
                                               self.repos.allocations.list(strategy.user_id, strategy.strategy_id),
                                               trade_date)
        return problems

    def manual(self, user_id: str, strategy_id: str, execution_type: ExecutionType) -> dict[str, Any]:
        """Announce a manual run. Returns {execution_id, execute_at, trade_date}.

        Raises:
            NotFound: no such strategy (or not yours).
            Conflict: this strategy's entry/exit already ran (or is running) today; or it cannot
                run now (``manual_problems``: holiday with its name, outside the session, no
                legs, no allocation...), the reasons listed.
        """
        from shared_utils.marketplace.definitions import manual_strategy

        strategy = manual_strategy(self.repos, user_id, strategy_id, execution_type)  # marketplace: definition owner
        now = self.clock.now()
        execute_at = datetime.fromtimestamp(math.ceil(now.timestamp()) + MANUAL_LEAD_SECONDS, tz=now.tzinfo)
        trade_date = to_ist(execute_at).date()
        existing = self.repos.executions.get(user_id, strategy_id, execution_type, trade_date)
        if existing is not None:
            raise Conflict(f"the {execution_type.value.lower()} of {strategy.strategy_name} already ran on "
                           f"{trade_date.isoformat()} ({existing.status.value})", existing.reasons)
        problems = self.manual_problems(strategy, execution_type, execute_at, trade_date)
        if problems:
            # known now: answer at the call instead of a 202 that turns SKIPPED a moment later
            raise Conflict(f"the {execution_type.value.lower()} of {strategy.strategy_name} cannot run now", problems)
        if self.publisher is None:
            raise InvalidRequest.field(("body",), "manual runs are not available: no event bus configured")
        detail = {
            "batch_id": f"M{to_ist(execute_at):%Y%m%d%H%M%S}-{strategy_id[-8:]}",
            "execution_type": execution_type.value, "trade_date": trade_date.isoformat(),
            "slot": to_ist(execute_at).strftime("%H:%M"), "execute_at": utc_iso_ms(execute_at),
            "wait_until": utc_iso_ms(execute_at - timedelta(seconds=2)), "trigger": "MANUAL",
            "strategies": [{"user_id": user_id, "strategy_id": strategy_id}],
        }
        self.publisher.publish(SOURCE_EMITTER, EXECUTION_DUE, detail)
        return {"execution_id": keys.execution_id(strategy_id, execution_type, trade_date),
                "execute_at": detail["execute_at"], "trade_date": detail["trade_date"],
                "execution_type": execution_type.value, "status": "ANNOUNCED"}


__all__ = ["ExecutionService", "IST"]


# ---- kill switches (issue 13 item 8 / invariant I7) -------------------------------------------

ADMIN_GROUP = "ADMIN"


def _switch_state(scope: str, item: dict[str, Any] | None, client_id: str | None = None) -> dict[str, Any]:
    item = item or {}
    return {"scope": scope, "on": bool(item.get("on", False)), "reason": str(item.get("reason", "")),
            "client_id": client_id or item.get("client_id"), "set_by": item.get("set_by") or None,
            "updated_at": item.get("updated_at")}


def _notify_switch(user_id: str, state: dict[str, Any]) -> None:
    """Tell the trader their kill switch changed (shared_utils.notifications; never raises)."""
    from shared_utils.notifications.messages import kill_switch
    from shared_utils.notifications.publish import safely

    safely(lambda: kill_switch(user_id, state["scope"], state["on"], state["reason"], state["set_by"],
                               state["updated_at"] or "", client_id=state["client_id"]))


def _notify_every_trader(repos: Repositories, state: dict[str, Any]) -> None:
    """The platform switch concerns every trader with a broker account (never raises)."""
    from shared_utils.notifications.messages import kill_switch, traders
    from shared_utils.notifications.publish import safely

    safely(lambda: [kill_switch(user_id, state["scope"], state["on"], state["reason"], state["set_by"],
                                state["updated_at"] or "") for user_id in traders(repos)])


class KillSwitchService:
    """Kill switches: global (ADMIN group only), per user and per broker account (the trader).
    A set switch stops new entries immediately before every send; exits still run
    (``shared_utils.execution.guards.kill_switch_problem``). Who set it and when is stored."""

    def __init__(self, repos: Repositories, clock: Clock) -> None:
        self.repos = repos
        self.clock = clock

    def view(self, user_id: str) -> dict[str, Any]:
        switches = self.repos.controls.kill_switches(user_id)
        accounts = [_switch_state("ACCOUNT", item) for item in self.repos.controls.list_for_user(user_id)
                    if item.get("scope") == "ACCOUNT"]
        view = {"global_switch": _switch_state("GLOBAL", switches.get("GLOBAL")),
                "user": _switch_state("USER", switches.get("USER")), "accounts": accounts}
        view["stops_entries"] = view["global_switch"]["on"] or view["user"]["on"]
        return view

    def set_user(self, user_id: str, on: bool, reason: str, set_by: str) -> dict[str, Any]:
        item = self.repos.controls.set_kill_switch(on, reason, user_id=user_id, set_by=set_by, at=self.clock.now())
        _notify_switch(user_id, _switch_state("USER", item))  # notifications (issue 18): enqueue, never raises
        return _switch_state("USER", item)

    def set_account(self, user_id: str, client_id: str, on: bool, reason: str, set_by: str) -> dict[str, Any]:
        """Raises NotFound when ``client_id`` is not one of the caller's linked accounts."""
        keys.check_id(client_id, "client_id")
        if self.repos.accounts.find(user_id, client_id) is None:
            raise NotFound(f"broker account {client_id} not found")
        item = self.repos.controls.set_kill_switch(on, reason, user_id=user_id, client_id=client_id, set_by=set_by,
                                                   at=self.clock.now())
        _notify_switch(user_id, _switch_state("ACCOUNT", item, client_id))  # notifications (issue 18)
        return _switch_state("ACCOUNT", item, client_id)

    def set_global(self, groups: list[str], on: bool, reason: str, set_by: str) -> dict[str, Any]:
        """Raises Forbidden unless the caller is in the ADMIN Cognito group."""
        if ADMIN_GROUP not in groups:
            raise Forbidden("only users of the ADMIN group may set the platform kill switch")
        item = self.repos.controls.set_kill_switch(on, reason, set_by=set_by, at=self.clock.now())
        _notify_every_trader(self.repos, _switch_state("GLOBAL", item))  # notifications (issue 18)
        return _switch_state("GLOBAL", item)
