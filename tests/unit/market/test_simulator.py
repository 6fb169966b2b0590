from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from shared_utils.clock import IST, UTC, FixedClock
from shared_utils.market.errors import MarketError
from shared_utils.market.simulator import MarketSimulator
from shared_utils.market.strikes import choose_strike
from shared_utils.models.strike_selection import StrikeSelectionConfig

AT = datetime(2026, 8, 17, 9, 30, tzinfo=IST)


def test_spot_is_a_pure_function_of_seed_underlying_and_second(master):
    instants = [AT + timedelta(minutes=m, seconds=s) for m in (0, 7, 90, 300) for s in (0, 1, 59)]
    forward = MarketSimulator(master, seed=11)
    a = [forward.spot("NIFTY", t) for t in instants]
    backward = MarketSimulator(master, seed=11)
    backward.spot("BANKNIFTY", AT)
    b = list(reversed([backward.spot("NIFTY", t) for t in reversed(instants)]))
    assert a == b
    assert forward.spot("NIFTY", AT.astimezone(UTC)) == a[0]  # the same instant in UTC
    assert MarketSimulator(master, seed=12).spot("NIFTY", AT) != a[0]
    assert len(set(a)) > 6  # it moves
    assert all(abs(x / Decimal(24900) - 1) < Decimal("0.05") for x in a)
    assert all((x * 20) % 1 == 0 for x in a)  # on the 0.05 grid


def test_quotes_are_on_the_tick_and_consistent(master):
    sim = MarketSimulator(master, seed=3, spots={"NIFTY": Decimal("24900")}, clock=FixedClock(AT))
    chain = sim.chain("NIFTY", date(2026, 8, 18))
    assert chain.spot == sim.spot("NIFTY")
    assert len(chain.quotes) == len(master.option_contracts("NIFTY", date(2026, 8, 18)))
    for (strike, side), q in chain.quotes.items():
        for price in (q.ltp, q.bid, q.ask):
            assert (price / Decimal("0.05")) % 1 == 0, (strike, side, price)
        assert q.bid < q.ltp < q.ask or q.bid == 0
        assert q.ltp >= Decimal("0.05") and 0.1 < q.iv < 0.5
    strikes = sorted({k for k, _ in chain.quotes})
    ce = [chain.quotes[(k, "CE")].ltp for k in strikes]
    pe = [chain.quotes[(k, "PE")].ltp for k in strikes]
    assert ce == sorted(ce, reverse=True) and pe == sorted(pe)  # monotone in strike


def test_chain_drives_strike_selection(master):
    sim = MarketSimulator(master, seed=5)
    chain = sim.chain("SENSEX", date(2026, 8, 20), AT)
    choice = choose_strike(chain, "PE", StrikeSelectionConfig(method="DELTA", delta_value=Decimal("0.2")), AT)
    assert choice.strike < chain.spot and abs(choice.detail["delta"] - 0.2) < 0.05
    future = sim.quote(master.future("SENSEX", date(2026, 8, 27)), AT)
    assert future.ltp > chain.spot * Decimal("0.99") and future.iv is None


def test_errors(master):
    with pytest.raises(MarketError, match="no instant"):
        MarketSimulator(master, seed=1).spot("NIFTY")
    with pytest.raises(MarketError, match="no starting spot for RELIANCE"):
        MarketSimulator(master, seed=1).spot("RELIANCE", AT)
    with pytest.raises(MarketError):
        MarketSimulator(master, seed=1, vol=0)
