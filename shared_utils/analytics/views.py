"""Response shapes of the analytics routes (OpenAPI). Money: strings of rupees, two decimals,
rounded half-up; dates: IST trade dates (YYYY-MM-DD)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shared_utils.models.execution import OrderRecord


class Charges(BaseModel):
    """Charges in rupees: brokerage, STT, exchange transaction charge, IPFT, SEBI fee, stamp
    duty, GST (18% of brokerage + exchange + SEBI) and their total."""

    brokerage: str
    stt: str
    exchange_txn: str
    ipft: str
    sebi: str
    stamp_duty: str
    gst: str
    total: str


class OrderView(BaseModel):
    order_id: str = Field(description="public id of the order (the platform's broker tag)")
    trade_date: str
    charges: Charges | None = Field(None, description="charges of this executed order (None when nothing filled)")
    charges_warnings: list[str] = Field(default_factory=list)
    turnover: str = Field(description="premium turnover of the fills (rupees)")
    realised_gross: str = Field(description="gross P&L realised by this order's closing fills (rupees)")
    order: OrderRecord = Field(description="the order as stored: status, status_history, fills")


class OrderPage(BaseModel):
    items: list[OrderView]
    next_cursor: str | None = Field(None, description="opaque; pass as ?cursor= for the next page")
    from_date: str
    to_date: str


class PnlRow(BaseModel):
    gross: str
    charges: Charges
    net: str
    turnover: str
    orders: int
    executed_orders: int
    warnings: list[str] = Field(default_factory=list)
    brokers: list[str] = Field(default_factory=list)


class DayPnl(PnlRow):
    date: str


class AccountPnl(PnlRow):
    client_id: str


class StrategyPnl(BaseModel):
    strategy_id: str
    gross: str
    charges: str
    net: str


class PnlView(BaseModel):
    from_date: str
    to_date: str
    strategy_id: str | None = None
    total: PnlRow
    days: list[DayPnl]
    accounts: list[AccountPnl]
    strategies: list[StrategyPnl]
    open_positions: int
    open_mtm: str


class DayNet(BaseModel):
    date: str
    net: str


class Metrics(BaseModel):
    total_net: str
    days_traded: int
    winning_days: int
    losing_days: int
    win_rate: str | None = Field(None, description="winning days / days traded (0..1)")
    average_win: str | None = None
    average_loss: str | None = None
    max_drawdown: str
    best_day: DayNet | None = None
    worst_day: DayNet | None = None
    per_day: list[DayNet]


class AccountPerformance(Metrics):
    client_id: str
    total_gross: str


class PerformanceView(Metrics):
    from_date: str
    to_date: str
    strategy_id: str | None = None
    basket_id: str | None = None
    total_gross: str
    total_charges: str
    accounts: list[AccountPerformance]


class ReportAccount(AccountPnl):
    broker: str


class DailyReport(BaseModel):
    date: str
    accounts: list[ReportAccount]
    strategies: list[StrategyPnl]
    total: PnlRow
    executions: list[dict[str, Any]]


class MonthlyRow(AccountPnl):
    date: str


class MonthlyReport(BaseModel):
    month: str
    from_date: str
    to_date: str
    rows: list[MonthlyRow]
    accounts: list[AccountPnl]
    total: PnlRow


class Dashboard(BaseModel):
    date: str
    due: list[dict[str, Any]]
    running: list[dict[str, Any]]
    completed: list[dict[str, Any]]
    failed: list[dict[str, Any]]
    skipped: list[dict[str, Any]]
    open_positions: list[dict[str, Any]]
    mtm: str
    alerts: list[dict[str, Any]]
