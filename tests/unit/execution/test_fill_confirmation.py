"""Fill confirmation (placer.await_fills, issue 21 item 3) against the protocol fakes, whose
orders reach the exchange asynchronously as at the real brokers (OPEN PENDING first).

What a trader would notice: an exit's longs leave as soon as the buy-backs are confirmed (not a
100 ms poll later), a confirmation never reports FILLED from the send's answer alone, a hedge that
does not fill holds the shorts back, and the confirmation stays inside the broker's rate limits.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest

from local.fakes.kite import FakeKiteServer
from local.fakes.smartapi import FakeSmartApiServer
from shared_utils.brokers import BrokerCredentials, BrokerSession, create_broker_client
from shared_utils.clock import SystemClock
from shared_utils.execution import placer
from shared_utils.models.enums import OrderStatus, TransactionType
from shared_utils.models.execution import OrderRecord

CE, PE = "NIFTY2681825000CE", "NIFTY2681824000PE"
ANGEL_CE = "NIFTY18AUG2625000CE"
NOW = datetime(2026, 8, 17, 4, 0, tzinfo=timezone.utc)


def _record(leg_no: int, symbol: str, side: str = "BUY", order_type: str = "MARKET", price: str | None = None,
            token: str | None = None) -> OrderRecord:
    key = f"ORDER#s.20260817.X#C1#{leg_no}#1#EXIT#0"
    return OrderRecord(order_key=key, execution_id="s.20260817.X", user_id="u", strategy_id="s", client_id="C1",
                       broker="zerodha", leg_no=leg_no, tag=f"T{leg_no}x", exchange="NFO", tradingsymbol=symbol,
                       broker_token=token, transaction_type=side, lots=1, lot_size=65, quantity=65, product="NRML",
                       order_type=order_type, price=Decimal(price) if price else None, intent_at=NOW)


def _ctx() -> SimpleNamespace:
    return SimpleNamespace(clock=SystemClock())


def _send_all(client, records: list[OrderRecord]) -> dict:
    return {r.order_key: placer._send(_ctx(), client, r) for r in records}


def _max_in_any_second(times: list[float]) -> int:
    return max((sum(1 for u in times if t <= u < t + 1.0) for t in times), default=0)


@pytest.fixture()
def kite():
    fake = FakeKiteServer([("NFO", CE, "1001", 65, "0.05"), ("NFO", PE, "1002", 65, "0.05")],
                          exchange_latency_s=0.010).start()
    fake.engine.set_price("NFO", CE, "100")
    fake.engine.set_price("NFO", PE, "80")
    client = create_broker_client("zerodha", BrokerCredentials(api_key="kite_key", api_secret="kite_secret"),
                                  BrokerSession(access_token=fake.access_token), root=fake.url,
                                  account_id="h21-kite", timeout=3.0)
    yield fake, client
    fake.stop()


def test_the_fake_answers_before_the_order_reaches_the_exchange(kite):
    """As kite/order_info.json: the answer carries the order id; the history walks PUT ORDER REQ
    RECEIVED -> VALIDATION PENDING -> OPEN PENDING -> OPEN -> COMPLETE."""
    fake, client = kite
    outcome = _send_all(client, [_record(1, CE)])["ORDER#s.20260817.X#C1#1#1#EXIT#0"]
    assert outcome.status is OrderStatus.OPEN  # accepted, NOT filled
    assert client.order_status(outcome.broker_order_id).status is OrderStatus.OPEN
    time.sleep(0.03)
    assert client.order_status(outcome.broker_order_id).status is OrderStatus.FILLED
    history = [row["status"] for row in client.kite.order_history(outcome.broker_order_id)]
    assert history == ["PUT ORDER REQ RECEIVED", "VALIDATION PENDING", "OPEN PENDING", "OPEN", "COMPLETE"]


def test_buy_backs_are_confirmed_within_milliseconds_of_their_fill(kite):
    """The regression of issue 21 item 3: the book was polled every 100 ms, so a buy-back that
    filled 10 ms after its send was confirmed 100 ms later and the longs left 100-160 ms late."""
    fake, client = kite
    records = [_record(1, CE), _record(2, PE)]
    outcomes = _send_all(client, records)
    started = time.monotonic()
    reports, problem = placer.await_fills(_ctx(), client, records, outcomes, 3000)
    waited_ms = (time.monotonic() - started) * 1000
    assert problem is None
    assert {r.status for r in reports.values()} == {OrderStatus.FILLED}
    assert all(r.filled_quantity == 65 for r in reports.values())
    assert waited_ms < 50, f"confirmation took {waited_ms:.1f} ms for a 10 ms exchange latency"
    # every report came from the broker's own per-order history, not from the send's answer
    assert len(fake.request_times("GET", "/orders/")) >= 2


def test_a_resting_order_is_polled_within_the_rate_budget_and_reported_not_filled(kite):
    """A buy-back that does not fill (a limit below the market) keeps the longs back with the
    reason, and the wait stays under FILL_POLL_MAX_REQUESTS_PER_S (Kite: 10/s for every non-quote
    endpoint, order history included)."""
    fake, client = kite
    records = [_record(1, CE, order_type="LIMIT", price="90")]
    outcomes = _send_all(client, records)
    reports, problem = placer.await_fills(_ctx(), client, records, outcomes, 1500)
    assert problem and "not confirmed FILLED within 1500 ms" in problem and f"leg 1 BUY {CE} is OPEN" in problem
    reads = fake.request_times("GET", "/orders")
    assert 4 <= len(reads) and _max_in_any_second(reads) <= placer.FILL_POLL_MAX_REQUESTS_PER_S


def test_a_rejected_hedge_ends_the_wait_at_once(kite):
    fake, client = kite
    records = [_record(1, CE), _record(2, PE)]
    outcomes = _send_all(client, records)
    outcomes[records[1].order_key] = placer._Outcome(OrderStatus.REJECTED, None, "RMS: margin", "REJECTED")
    started = time.monotonic()
    _, problem = placer.await_fills(_ctx(), client, records, outcomes, 3000)
    assert problem and f"leg 2 BUY {PE} is REJECTED (RMS: margin)" in problem
    assert time.monotonic() - started < 0.5


def test_three_or_more_unconfirmed_orders_are_read_through_one_book_read(kite):
    fake, client = kite
    records = [_record(1, CE), _record(2, PE), _record(3, CE)]
    outcomes = _send_all(client, records)
    reports, problem = placer.await_fills(_ctx(), client, records, outcomes, 3000)
    assert problem is None and len(reports) == 3
    reads = [p.split("?")[0].rstrip("/") for _, m, p in fake.requests_log if m == "GET"]
    assert reads[0] == "/orders"  # one book read for the three, per-order only for the last two or fewer


def test_angel_is_confirmed_through_order_details_not_its_one_per_second_book():
    """Angel allows getOrderBook once a second but order details 10/s
    (broker-samples/smartapi/rate_limits.json): polling the book would hold an exit's longs for
    a second."""
    fake = FakeSmartApiServer([("NFO", ANGEL_CE, "812345", 65, "0.05")], api_key="angel_key", client_code="A1",
                              password="1234", totp_secret="JBSWY3DPEHPK3PXP", exchange_latency_s=0.010).start()
    try:
        fake.engine.set_price("NFO", ANGEL_CE, "100")
        client = create_broker_client("angel", BrokerCredentials(api_key="angel_key", client_code="A1", password="1234",
                                                                 totp_secret="JBSWY3DPEHPK3PXP"),
                                      BrokerSession(access_token=fake.jwt, refresh_token=fake.refresh_token),
                                      root=fake.url, account_id="h21-angel", timeout=3.0)
        client.order_book()  # a book read just before: the next is allowed only a second later
        records = [_record(1, ANGEL_CE, token="812345")]
        outcomes = _send_all(client, records)
        started = time.monotonic()
        reports, problem = placer.await_fills(_ctx(), client, records, outcomes, 3000)
        assert problem is None and reports[records[0].order_key].status is OrderStatus.FILLED
        assert (time.monotonic() - started) * 1000 < 80
        assert fake.request_times("GET", "/order/v1/details/")
        assert len(fake.request_times(None, "getOrderBook")) == 1
    finally:
        fake.stop()


def test_an_accepted_order_is_not_confirmed_by_its_answer_alone(kite):
    """An order the broker accepted but that is still OPEN PENDING is not FILLED: with a zero
    timeout the wait reports it as not filled instead of letting the next group go."""
    fake, client = kite
    fake.engine.exchange_latency_s = 0.5
    records = [_record(1, CE, side=TransactionType.BUY.value)]
    outcomes = _send_all(client, records)
    _, problem = placer.await_fills(_ctx(), client, records, outcomes, 0)
    assert problem and "is OPEN" in problem
