"""The read side of trading (issue 18): charges, P&L, performance and reports.

- :mod:`~shared_utils.analytics.charges`: Indian options charges per executed order from the
  dated, sourced rates in ``config/market/charges.json``, and contract-note rounding.
- :mod:`~shared_utils.analytics.history`: the ONE query module the analytics routes read
  orders, executions and positions through (hot table for recent days, the Parquet archive
  beyond the hot window).
- :mod:`~shared_utils.analytics.pnl`: gross and net P&L per order, day, account and strategy.
- :mod:`~shared_utils.analytics.performance`: win rate, average win/loss, drawdown, best/worst day.
- :mod:`~shared_utils.analytics.reports`: daily and monthly reports, JSON and CSV.
"""
