"""bench.demo_lag reads the narrator's lines: entry orders before the ENTRY summary, exit orders
between it and the EXIT summary (stop placements and later lines are not exit orders)."""

from bench.demo_lag import _p99, parse

LINES = [
    "[09:31:00.075 IST] ORDER    +11.1 ms  ANGELONE456  BUY  NIFTY2681824700PE    qty    65 @     3.95  FILLED",
    "[09:31:00.255 IST] ORDER     +8.3 ms  ZERODHA123   SELL NIFTY2681825250CE    qty    65 @    27.90  FILLED",
    "[09:31:00.434 IST] ENTRY stg_x.20260817.E: COMPLETED - 8/8 orders accepted",
    "[09:32:00.083 IST] ORDER     +4.2 ms  ZERODHA123   BUY  NIFTY2681824900PE    qty   195 @    26.00  FILLED",
    "[09:32:00.190 IST] ORDER   +120.5 ms  ZERODHA123   SELL NIFTY2681824700PE    qty   195 @     3.10  FILLED",
    "[09:32:00.303 IST] EXIT stg_x.20260817.X: COMPLETED - 8/8 orders accepted",
    "[09:33:00.000 IST] ORDER     +1.0 ms  ZERODHA123   BUY  NIFTY2681824900PE    qty   195 @    26.00  FILLED",
]


def test_entry_and_exit_orders_are_told_apart():
    lags = parse(LINES)
    assert lags["ENTRY"] == [11.1, 8.3]
    assert lags["EXIT"] == [4.2, 120.5]


def test_p99_is_the_nearest_rank():
    assert _p99([1.0, 2.0, 3.0]) == 3.0
    assert _p99([float(i) for i in range(1, 201)]) == 198.0
