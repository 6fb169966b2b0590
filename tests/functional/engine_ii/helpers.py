"""Helpers of the engine II tests: Kite postbacks as Kite sends them, SL arithmetic by hand."""

from __future__ import annotations

import hashlib
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from local.apigw import call

TICK = Decimal("0.05")


def kite_postback(fake_kite, order_id: str, secret: str = "kite_secret") -> dict:
    """The JSON Kite posts for one order: its order-book row + checksum."""
    row = fake_kite._row(fake_kite.engine.get(order_id))
    row["checksum"] = hashlib.sha256(f"{row['order_id']}{row['order_timestamp']}{secret}".encode()).hexdigest()
    row["user_id"], row["app_id"] = "AB1234", 1234
    return row


def post(payload: dict, broker: str = "zerodha") -> tuple[int, dict]:
    """POST /postbacks/{broker} through the public route (no Cognito claims)."""
    return call("POST", f"/postbacks/{broker}", payload, user_id=None)


def tick(value: Decimal, up: bool) -> Decimal:
    return ((value / TICK).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR) * TICK).quantize(TICK)


def expected_stop(side: str, fill: Decimal, pct: Decimal, slippage: Decimal) -> tuple[Decimal, Decimal]:
    """(trigger, limit) by hand: SELL entry -> BUY stop above, BUY entry -> SELL stop below."""
    if side == "SELL":
        trigger = tick(fill * (1 + pct / 100), up=True)
        return trigger, tick(trigger * (1 + slippage / 100), up=True)
    trigger = tick(fill * (1 - pct / 100), up=False)
    return trigger, tick(trigger * (1 - slippage / 100), up=False)


def refuse_book_after_shorts(monkeypatch, client, error) -> None:
    """The account's order-book reads fail once its SELL orders are out: PlaceOrders still
    confirms the BUY hedges (invariant I3: shorts only after hedges FILLED) but learns none of
    the shorts' fills, which then come by postback (Kite) or polling (Angel)."""
    place, book = client.place_order, client.order_book
    sold: list[str] = []

    def _place(request):
        ack = place(request)
        if request.transaction_type.value == "SELL":
            sold.append(ack.order_id)
        return ack

    def _book():
        if sold:
            raise error
        return book()

    monkeypatch.setattr(client, "place_order", _place)
    monkeypatch.setattr(client, "order_book", _book)
