"""The price refresh at the second (issue 14: "at the end refresh only prices"): one batched LTP
call per account, the planned distance from the LTP kept on the tick, MARKET orders untouched,
a failed call leaves Resolve's prices with a note."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from shared_utils.brokers.errors import BrokerUnavailable
from shared_utils.execution.placer import limit_price, refresh_prices
from shared_utils.models.enums import TransactionType
from shared_utils.models.execution import OrderRecord

AT = datetime(2026, 8, 17, 3, 58, tzinfo=UTC)


def _order(leg_no: int, side: str, order_type: str, price: str | None, ltp: str) -> OrderRecord:
    return OrderRecord(
        order_key=f"ORDER#E#C#{leg_no:02d}#1", execution_id="E", user_id="u", strategy_id="s", client_id="C",
        broker="zerodha", leg_no=leg_no, slice_no=1, attempt=0, purpose="ENTRY", tag=f"t{leg_no}", exchange="NFO",
        tradingsymbol=f"NIFTY2681824{leg_no}00CE", transaction_type=side, lots=1, lot_size=65, quantity=65,
        product="NRML", order_type=order_type, price=Decimal(price) if price else None, ltp_at_decision=Decimal(ltp),
        tick_size=Decimal("0.05"), execute_at=AT, intent_at=AT)


class Quotes:
    def __init__(self, prices: dict[str, Decimal] | Exception) -> None:
        self.prices, self.calls = prices, []

    def ltp(self, refs):
        self.calls.append([r.key for r in refs])
        if isinstance(self.prices, Exception):
            raise self.prices
        return {r.key: self.prices[r.tradingsymbol] for r in refs if r.tradingsymbol in self.prices}


def test_limit_prices_follow_the_ltp_in_one_call():
    buy = _order(1, "BUY", "LIMIT", str(limit_price(Decimal("40"), TransactionType.BUY, Decimal(5), Decimal("0.05"))), "40")
    sell = _order(2, "SELL", "LIMIT", str(limit_price(Decimal("120"), TransactionType.SELL, Decimal(2), Decimal("0.05"))), "120")
    market = _order(3, "BUY", "MARKET", None, "10")
    client = Quotes({buy.tradingsymbol: Decimal("44"), sell.tradingsymbol: Decimal("110")})
    changed, note = refresh_prices(client, [buy, sell, market])
    assert note is None and len(client.calls) == 1 and len(client.calls[0]) == 3  # one batched call (MARKET too: it warms the connection)
    by_leg = {r.leg_no: r for r in changed}
    assert by_leg[1].price == Decimal("46.20") and by_leg[1].ltp_at_decision == Decimal("44")  # 44 x 1.05
    assert by_leg[2].price == Decimal("107.80") and by_leg[2].ltp_at_decision == Decimal("110")  # 110 x 0.98
    assert 3 not in by_leg


def test_a_failed_refresh_keeps_the_planned_prices_and_says_so():
    buy = _order(1, "BUY", "LIMIT", "42.00", "40")
    changed, note = refresh_prices(Quotes(BrokerUnavailable("quote API down", broker="zerodha")), [buy])
    assert changed == [] and "not refreshed" in note and "quote API down" in note
