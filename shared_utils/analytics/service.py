"""Orders, P&L, performance, reports and the day's dashboard for one user (issue 18, read side).

Every read goes through :class:`~shared_utils.analytics.history.TradingHistory` (table for the
hot window, Parquet archive beyond it). Money leaves as strings of rupees rounded half-up to the
paisa (:func:`~shared_utils.analytics.pnl.money`); dates are IST trade dates.

Charges scope: a view over ALL of a user's strategies charges each account's day as its contract
notes (one per exchange, rounded once; STT to the rupee), as the broker bills it. A view scoped
to a strategy or a basket charges that scope's orders exactly, rounded to the paisa per account
and day (its share of the notes).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Iterable

from shared_utils.analytics.charges import COMPONENTS, ChargesCalculator, default_calculator
from shared_utils.analytics.history import TradingHistory
from shared_utils.analytics.pnl import ZERO, Ledger, OrderLine, lookback_start, money
from shared_utils.clock import Clock
from shared_utils.errors import InvalidRequest
from shared_utils.models.enums import ExecutionStatus, OrderStatus
from shared_utils.models.execution import OrderRecord

#: orders still working at (or on their way to) the broker
LIVE_STATUSES = frozenset({OrderStatus.PENDING, OrderStatus.SENT, OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING,
                           OrderStatus.PARTIALLY_FILLED, OrderStatus.UNKNOWN})
MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 7


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def _unb64(token: str) -> dict[str, Any]:
    padded = token + "=" * (-len(token) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode()))


class AnalyticsService:
    """Read-side views of one environment (see module doc)."""

    def __init__(self, history: TradingHistory, calculator: ChargesCalculator | None = None) -> None:
        self.history = history
        self.calculator = calculator or default_calculator()

    @classmethod
    def for_repos(cls, repos: Any, clock: Clock, archive: Any = None) -> "AnalyticsService":
        return cls(TradingHistory(repos, clock, archive))

    def today(self) -> date:
        return self.history.today()

    def date_range(self, start: date | None, end: date | None) -> tuple[date, date]:
        """Defaults: the last 7 IST days to today. Raises InvalidRequest for an inverted or
        over-long (> 366 days) range."""
        end = end or self.today()
        start = start or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
        if start > end:
            raise InvalidRequest.field(("query", "from_date"), "from_date is after to_date")
        if (end - start).days >= MAX_RANGE_DAYS:
            raise InvalidRequest.field(("query", "from_date"), f"the range is longer than {MAX_RANGE_DAYS} days")
        return start, end

    # ---- orders ---------------------------------------------------------------------------
    def order_view(self, line: OrderLine) -> dict[str, Any]:
        order = line.order
        return {
            "order_id": order.tag, "trade_date": line.trade_date.isoformat(),
            "charges": line.charges.as_dict(rounded=True) if line.charges else None,
            "charges_warnings": list(line.charges.warnings) if line.charges else [],
            "turnover": money(line.turnover), "realised_gross": money(line.realised),
            "order": order.model_dump(mode="json"),
        }

    def orders_page(self, user_id: str, start: date | None, end: date | None, *, strategy_id: str | None = None,
                    client_id: str | None = None, status: OrderStatus | None = None, limit: int = 50,
                    cursor: str | None = None) -> dict[str, Any]:
        """Orders newest trade date first (then key order), filtered, ``limit`` per page.

        ``cursor`` (opaque; from ``next_cursor``) continues after the last row of the previous
        page with the same filters. Raises InvalidRequest for a cursor that is not ours or was
        made for other filters.
        """
        start, end = self.date_range(start, end)
        fingerprint = hashlib.sha256(json.dumps(
            [user_id, start.isoformat(), end.isoformat(), strategy_id, client_id, status and status.value]).encode()
        ).hexdigest()[:16]
        after: tuple[str, str] | None = None
        if cursor:
            try:
                data = _unb64(cursor)
                if data["f"] != fingerprint:
                    raise ValueError("filters changed")
                after = (str(data["d"]), str(data["k"]))
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidRequest.field(("query", "cursor"), "not a cursor of this listing (filters changed?)") from exc
        ledger = self._ledger(user_id, start, end, strategy_id)
        lines = [line for line in ledger.in_range(start, end)
                 if (client_id is None or line.order.client_id == client_id)
                 and (status is None or line.order.status is status)]
        # newest trade date first, then key order: sort key (-date, key)
        lines.sort(key=lambda line: (-line.trade_date.toordinal(), line.order.order_key))
        if after is not None:
            pos = (-date.fromisoformat(after[0]).toordinal(), after[1])
            lines = [line for line in lines if (-line.trade_date.toordinal(), line.order.order_key) > pos]
        page, rest = lines[:limit], lines[limit:]
        next_cursor = None
        if rest and page:
            last = page[-1]
            next_cursor = _b64({"d": last.trade_date.isoformat(), "k": last.order.order_key, "f": fingerprint})
        return {"items": [self.order_view(line) for line in page], "next_cursor": next_cursor,
                "from_date": start.isoformat(), "to_date": end.isoformat()}

    def live_orders(self, user_id: str) -> dict[str, Any]:
        """Today's orders still working (PENDING, SENT, OPEN, TRIGGER_PENDING,
        PARTIALLY_FILLED, UNKNOWN)."""
        today = self.today()
        ledger = self._ledger(user_id, today, today, None)
        lines = [line for line in ledger.in_range(today, today) if line.order.status in LIVE_STATUSES]
        return {"items": [self.order_view(line) for line in lines], "next_cursor": None,
                "from_date": today.isoformat(), "to_date": today.isoformat()}

    def order_detail(self, user_id: str, order_id: str, trade_date: date | None = None) -> dict[str, Any]:
        """One order (by its public id) with its state history and fills as stored, its charges
        and the realised gross its fills booked on its trade date. An order older than the hot
        window is found with its ``trade_date`` (the listing gives it)."""
        order = self.history.order_by_id(user_id, order_id, trade_date)
        day = Ledger([order], self.calculator).lines[0].trade_date
        ledger = self._ledger(user_id, day, day, order.strategy_id)
        (line,) = [x for x in ledger.lines if x.order.order_key == order.order_key] or [Ledger([order], self.calculator).lines[0]]
        return self.order_view(line)

    # ---- P&L ------------------------------------------------------------------------------
    def _ledger(self, user_id: str, start: date, end: date, strategy_id: str | None,
                strategies: set[str] | None = None) -> Ledger:
        orders = self.history.orders(user_id, lookback_start(start), end, strategy_id)
        if strategies is not None:
            orders = [o for o in orders if o.strategy_id in strategies]
        return Ledger(orders, self.calculator)

    def _account_days(self, ledger: Ledger, start: date, end: date, notes: bool) -> dict[tuple[date, str], dict[str, Any]]:
        """(day, client_id) -> {gross, charges{...}, net, orders, executed_orders, turnover, warnings}."""
        grouped: dict[tuple[date, str], list[OrderLine]] = defaultdict(list)
        for line in ledger.in_range(start, end):
            grouped[(line.trade_date, line.order.client_id)].append(line)
        out = {}
        for key, lines in grouped.items():
            if notes:
                bucket, charges = ledger.account_day(lines)
            else:
                bucket = ledger.bucket(lines)
                charges = bucket.charges()
            if bucket.executed_orders == 0 and bucket.gross == 0:
                continue
            out[key] = {"gross": bucket.gross, "charges": charges, "net": bucket.gross - charges["total"],
                        "orders": bucket.orders, "executed_orders": bucket.executed_orders,
                        "turnover": bucket.turnover, "warnings": bucket.warnings,
                        "brokers": sorted({line.order.broker for line in lines})}
        return out

    @staticmethod
    def _sum(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
        total = {"gross": ZERO, "net": ZERO, "turnover": ZERO, "orders": 0, "executed_orders": 0,
                 "charges": {c: ZERO for c in (*COMPONENTS, "total")}, "warnings": [], "brokers": []}
        for row in rows:
            total["warnings"] += [w for w in row.get("warnings", []) if w not in total["warnings"]]
            total["brokers"] = sorted(set(total["brokers"]) | set(row.get("brokers", [])))
            for k in ("gross", "net", "turnover"):
                total[k] += row[k]
            total["orders"] += row["orders"]
            total["executed_orders"] += row["executed_orders"]
            for c, v in row["charges"].items():
                total["charges"][c] += v
        return total

    @staticmethod
    def _render(row: dict[str, Any]) -> dict[str, Any]:
        out = {k: (money(v) if isinstance(v, Decimal) else v) for k, v in row.items() if k != "charges"}
        out["charges"] = {c: money(v) for c, v in row["charges"].items()}
        return out

    def pnl(self, user_id: str, start: date | None, end: date | None, strategy_id: str | None = None) -> dict[str, Any]:
        """Gross, charges and net over a range: total, per day, per account, per strategy; and
        the MTM of open positions now (live state)."""
        start, end = self.date_range(start, end)
        ledger = self._ledger(user_id, start, end, strategy_id)
        cells = self._account_days(ledger, start, end, notes=strategy_id is None)
        days = defaultdict(list)
        accounts = defaultdict(list)
        for (day, client), row in cells.items():
            days[day].append(row)
            accounts[client].append(row)
        per_strategy = defaultdict(list)
        for line in ledger.in_range(start, end):
            per_strategy[line.order.strategy_id].append(line)
        strategies = []
        for sid, lines in sorted(per_strategy.items()):
            bucket = ledger.bucket(lines)
            charges = bucket.charges()
            strategies.append({"strategy_id": sid, "gross": money(bucket.gross),
                               "charges": money(charges["total"]), "net": money(bucket.gross - charges["total"])})
        positions = [p for p in self.history.positions(user_id, strategy_id) if p.status == "OPEN"]
        return {
            "from_date": start.isoformat(), "to_date": end.isoformat(), "strategy_id": strategy_id,
            "total": self._render(self._sum(cells.values())),
            "days": [{"date": d.isoformat(), **self._render(self._sum(rows))} for d, rows in sorted(days.items())],
            "accounts": [{"client_id": c, **self._render(self._sum(rows))} for c, rows in sorted(accounts.items())],
            "strategies": strategies,
            "open_positions": len(positions),
            "open_mtm": money(sum((p.mtm for p in positions), ZERO)),
        }

    # ---- performance ----------------------------------------------------------------------
    @staticmethod
    def metrics(series: list[tuple[date, Decimal]]) -> dict[str, Any]:
        """Per-day net series -> total, win rate (winning days / days traded), average win and
        loss (per day), max drawdown (largest fall of cumulative net from its running peak,
        peak starting at 0), best and worst day."""
        series = sorted(series)
        wins = [v for _, v in series if v > 0]
        losses = [v for _, v in series if v < 0]
        peak = cumulative = ZERO
        drawdown = ZERO
        for _, v in series:
            cumulative += v
            peak = max(peak, cumulative)
            drawdown = max(drawdown, peak - cumulative)
        best = max(series, key=lambda x: x[1]) if series else None
        worst = min(series, key=lambda x: x[1]) if series else None
        return {
            "total_net": money(cumulative), "days_traded": len(series), "winning_days": len(wins),
            "losing_days": len(losses),
            "win_rate": str((Decimal(len(wins)) / len(series)).quantize(Decimal("0.0001"))) if series else None,
            "average_win": money(sum(wins, ZERO) / len(wins)) if wins else None,
            "average_loss": money(sum(losses, ZERO) / len(losses)) if losses else None,
            "max_drawdown": money(drawdown),
            "best_day": {"date": best[0].isoformat(), "net": money(best[1])} if best else None,
            "worst_day": {"date": worst[0].isoformat(), "net": money(worst[1])} if worst else None,
            "per_day": [{"date": d.isoformat(), "net": money(v)} for d, v in series],
        }

    def performance(self, user_id: str, start: date | None, end: date | None, *, strategy_id: str | None = None,
                    basket_id: str | None = None) -> dict[str, Any]:
        """Performance of everything, one strategy or one basket, in total and per account.

        Raises NotFound for another user's (or no) basket."""
        start, end = self.date_range(start, end)
        scope: set[str] | None = None
        if basket_id is not None:
            scope = self.history.strategy_ids_of_basket(user_id, basket_id)
        ledger = self._ledger(user_id, start, end, strategy_id, scope)
        cells = self._account_days(ledger, start, end, notes=strategy_id is None and basket_id is None)
        per_day: dict[date, Decimal] = defaultdict(lambda: ZERO)
        per_account: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
        gross = defaultdict(lambda: ZERO)
        for (day, client), row in cells.items():
            per_day[day] += row["net"]
            per_account[client][day] += row["net"]
            gross[client] += row["gross"]
        total = self._sum(cells.values())
        return {
            "from_date": start.isoformat(), "to_date": end.isoformat(), "strategy_id": strategy_id,
            "basket_id": basket_id, "total_gross": money(total["gross"]),
            "total_charges": money(total["charges"]["total"]), **self.metrics(list(per_day.items())),
            "accounts": [{"client_id": c, "total_gross": money(gross[c]), **self.metrics(list(days.items()))}
                         for c, days in sorted(per_account.items())],
        }

    # ---- reports --------------------------------------------------------------------------
    def daily_report(self, user_id: str, day: date | None) -> dict[str, Any]:
        """One IST trading day: per account (broker, orders, turnover, gross, each charge as
        billed on the contract notes, net), per strategy, and the total."""
        day = day or self.today()
        ledger = self._ledger(user_id, day, day, None)
        cells = self._account_days(ledger, day, day, notes=True)
        accounts = [{"client_id": client, "broker": ",".join(row["brokers"]), **self._render(row)}
                    for (_, client), row in sorted(cells.items())]
        pnl = self.pnl(user_id, day, day)
        return {"date": day.isoformat(), "accounts": accounts, "strategies": pnl["strategies"],
                "total": self._render(self._sum(cells.values())),
                "executions": [{"execution_id": e.execution_id, "strategy_id": e.strategy_id,
                                "execution_type": e.execution_type.value, "status": e.status.value}
                               for e in self.history.executions(user_id, day, day)]}

    def monthly_report(self, user_id: str, month: str | None) -> dict[str, Any]:
        """One calendar month (``YYYY-MM``, default this one): per day and account rows, per
        account totals and the month's total."""
        if month is None:
            first = self.today().replace(day=1)
        else:
            try:
                first = date.fromisoformat(f"{month}-01")
            except ValueError as exc:
                raise InvalidRequest.field(("query", "month"), "month must be YYYY-MM") from exc
        last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        ledger = self._ledger(user_id, first, last, None)
        cells = self._account_days(ledger, first, last, notes=True)
        rows = [{"date": d.isoformat(), "client_id": c, **self._render(row)} for (d, c), row in sorted(cells.items())]
        by_account = defaultdict(list)
        for (_, c), row in cells.items():
            by_account[c].append(row)
        return {"month": first.strftime("%Y-%m"), "from_date": first.isoformat(), "to_date": last.isoformat(),
                "rows": rows,
                "accounts": [{"client_id": c, **self._render(self._sum(r))} for c, r in sorted(by_account.items())],
                "total": self._render(self._sum(cells.values()))}

    # ---- dashboard ------------------------------------------------------------------------
    def dashboard(self, user_id: str, schedule_rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Today: executions due (scheduled and not yet claimed), running, completed, failed
        (FAILED or PARTIAL), skipped; open positions with MTM; alerts (kill switches, failed or
        partial executions with their reasons, rejected or flagged orders)."""
        today = self.today()
        executions = self.history.executions(user_id, today, today)
        claimed = {(e.strategy_id, e.execution_type.value) for e in executions}
        due = [r for r in schedule_rows if r.get("due") and (r["strategy_id"], str(r["execution_type"])) not in claimed]
        groups: dict[str, list[dict[str, Any]]] = {"running": [], "completed": [], "failed": [], "skipped": []}
        alerts = list(self.history.alerts(user_id))
        for e in executions:
            view = {"execution_id": e.execution_id, "strategy_id": e.strategy_id, "execution_type": e.execution_type.value,
                    "status": e.status.value, "execute_at": e.execute_at.isoformat(), "reasons": e.reasons}
            if e.status in (ExecutionStatus.COMPLETED,):
                groups["completed"].append(view)
            elif e.status in (ExecutionStatus.FAILED, ExecutionStatus.PARTIAL):
                groups["failed"].append(view)
                alerts.append({"kind": f"EXECUTION_{e.status.value}", "execution_id": e.execution_id,
                               "message": "; ".join(e.reasons) or e.status.value})
            elif e.status in (ExecutionStatus.SKIPPED, ExecutionStatus.CANCELLED):
                groups["skipped"].append(view)
            else:
                groups["running"].append(view)
        for order in self.history.orders(user_id, today, today):
            if order.status is OrderStatus.REJECTED or order.flags:
                alerts.append({"kind": "ORDER_REJECTED" if order.status is OrderStatus.REJECTED else "ORDER_FLAGGED",
                               "order_id": order.tag, "client_id": order.client_id,
                               "message": order.broker_message or ", ".join(order.flags)})
        positions = [p for p in self.history.positions(user_id) if p.status == "OPEN"]
        return {
            "date": today.isoformat(),
            "due": [{"strategy_id": r["strategy_id"], "strategy_name": r.get("strategy_name"),
                     "execution_type": str(r["execution_type"]), "execute_at": r["execute_at"]} for r in due],
            **groups,
            "open_positions": [{"strategy_id": p.strategy_id, "client_id": p.client_id, "tradingsymbol": p.tradingsymbol,
                                "quantity": p.quantity, "average_price": str(p.average_price),
                                "ltp": str(p.ltp) if p.ltp is not None else None, "mtm": money(p.mtm)} for p in positions],
            "mtm": money(sum((p.mtm for p in positions), ZERO)),
            "alerts": alerts,
        }


# ---- CSV ----------------------------------------------------------------------------------
CSV_COLUMNS = ("date", "client_id", "broker", "orders", "executed_orders", "turnover", "gross",
               *(f"charges_{c}" for c in (*COMPONENTS, "total")), "net")


def _csv_row(row: dict[str, Any], **extra: Any) -> dict[str, Any]:
    flat = {**row, **extra}
    for c, v in row.get("charges", {}).items():
        flat[f"charges_{c}"] = v
    return {k: flat.get(k, "") for k in CSV_COLUMNS}


def report_csv(report: dict[str, Any]) -> str:
    """A daily or monthly report as CSV: one row per account (and day), then a TOTAL row.
    Money in rupees with two decimals; charges as billed (contract notes)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    if "rows" in report:  # monthly
        for row in report["rows"]:
            writer.writerow(_csv_row(row))
        writer.writerow(_csv_row(report["total"], date=report["month"], client_id="TOTAL"))
    else:
        for row in report["accounts"]:
            writer.writerow(_csv_row(row, date=report["date"]))
        writer.writerow(_csv_row(report["total"], date=report["date"], client_id="TOTAL"))
    return out.getvalue()


__all__ = ["AnalyticsService", "LIVE_STATUSES", "OrderRecord", "report_csv"]
