"""Market routes over the real handler (local.apigw.call) with the engine's context: calendar,
expiries, quotes, the NIFTY chain of 2026-08-18, strikes, volatility; source and age in every
answer; stale quotes marked; bad input answers 422 naming the field."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from shared_utils.brokers.models import Quote
from shared_utils.clock import IST


def _fields(body):
    return [".".join(str(p) for p in d["loc"]) for d in body["detail"]]


def test_nifty_chain_of_2026_08_18_has_atm_marked_and_strikes_every_50(market_api):
    status, chain = market_api("GET", "/options/option-chain/NIFTY/2026-08-18")
    assert status == 200, chain
    rows = chain["rows"]
    strikes = [Decimal(r["strike"]) for r in rows]
    assert len(strikes) == 105 and {b - a for a, b in zip(strikes, strikes[1:])} == {Decimal(50)}
    assert chain["strike_interval"] == "50" and chain["lot_size"] == 65
    (atm,) = [r for r in rows if r["atm"]]
    spot = Decimal(chain["spot"])
    assert atm["strike"] == chain["atm_strike"]
    assert abs(Decimal(atm["strike"]) - spot) <= 25  # the listed strike nearest the spot
    assert spot == market_api.engine.simulator.spot("NIFTY", market_api.engine.clock.now())
    i = rows.index(atm)
    for row in rows[i - 10:i + 10]:
        for side in ("CE", "PE"):
            q = row[side]
            assert Decimal(q["bid"]) < Decimal(q["ltp"]) < Decimal(q["ask"]) and q["oi"] > 0
    # IV and delta are ours: the simulator's smile IV (15 % at the money) comes back out of the LTPs
    assert 14 < atm["CE"]["iv_pct"] < 16 and 14 < atm["PE"]["iv_pct"] < 16
    assert 0.4 < atm["CE"]["delta"] < 0.6 and -0.6 < atm["PE"]["delta"] < -0.4
    deltas = [r["CE"]["delta"] for r in rows[i - 6:i + 7]]
    assert deltas == sorted(deltas, reverse=True)
    quote = chain["quote"]
    assert quote["kind"] == "simulator" and quote["live"] is False and quote["stale"] is False
    assert quote["as_of"] == "2026-08-17T03:58:05.000Z" and quote["age_s"] == 0
    status, narrow = market_api("GET", "/options/option-chain/NIFTY/2026-08-18", query={"width": "2"})
    assert status == 200 and [r["atm"] for r in narrow["rows"]] == [False, False, True, False, False]


@pytest.mark.parametrize("path,body,field", [
    ("/options/option-chain/DOGE/2026-08-18", None, "path.symbol"),
    ("/options/option-chain/NIFTY/2026-08-19", None, "path.expiry"),
    ("/options/option-chain/NIFTY/18-08-2026", None, "path.expiry"),
    ("/options/market-data/NIFTYX", None, "path.symbol"),
    ("/options/expiry-calendar/XYZ", None, "path.symbol"),
    ("/options/volatility/XYZ", None, "path.symbol"),
    ("/options/strikes/NIFTY?expiry=2026-08-20", None, "query.expiry"),
    ("/options/market/holidays?year=2031", None, "query.year"),
    ("/options/market/holidays?exchange=MCX", None, "query.exchange"),
    ("/options/strikes/NIFTY?range=DEEP", None, "query.range"),
])
def test_bad_market_input_is_422_naming_the_field(market_api, path, body, field):
    path, _, query = path.partition("?")
    status, answer = market_api("GET", path, query=dict([query.split("=")]) if query else None)
    assert status == 422, answer
    assert field in _fields(answer), answer


def test_market_routes_need_a_token(market_api):
    for path in ("/options/market/status", "/options/option-chain/NIFTY/2026-08-18", "/options/volatility/NIFTY"):
        assert market_api("GET", path, user=None)[0] == 401
    assert market_api("POST", "/options/calculator/premium", {"legs": []}, user=None)[0] in (401, 422)


def test_status_holidays_and_expiry_calendar(market_api):
    status, body = market_api("GET", "/options/market/status")
    assert status == 200
    nse = next(e for e in body["exchanges"] if e["exchange"] == "NSE")
    session = market_api.engine.calendar.session(datetime(2026, 8, 17).date(), "NSE")  # dated, sourced times
    assert nse["status"] == "OPEN" and nse["session"] == {
        "open": "09:15", "close": session.close.strftime("%H:%M"), "kind": "NORMAL",
        "open_utc": "2026-08-17T03:45:00.000Z",
        "close_utc": session.close_utc.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    market_api.engine.clock.set(datetime(2026, 10, 2, 10, 0, tzinfo=IST))  # Gandhi Jayanti, a Friday
    nse = next(e for e in market_api("GET", "/options/market/status")[1]["exchanges"] if e["exchange"] == "NSE")
    assert nse["status"] == "HOLIDAY" and "Gandhi" in nse["holiday"]["name"] and "circular" in nse["holiday"]["source"]
    assert nse["next_trading_day"] == "2026-10-05"
    market_api.engine.clock.set(datetime(2026, 8, 17, 9, 5, tzinfo=IST))
    nse = next(e for e in market_api("GET", "/options/market/status")[1]["exchanges"] if e["exchange"] == "NSE")
    assert nse["status"] == "PRE_OPEN"
    status, days = market_api("GET", "/options/market/holidays", query={"exchange": "NSE", "year": "2026"})
    assert status == 200 and {"date": "2026-10-02", "exchange": "NSE"}.items() <= next(
        d for d in days["items"] if d["date"] == "2026-10-02").items()
    assert all(d["source"] for d in days["items"])
    status, calendar = market_api("GET", "/options/expiry-calendar/nifty")
    assert status == 200 and calendar["symbol"] == "NIFTY"
    first = calendar["items"][0]
    assert first == {"expiry": "2026-08-18", "kind": "WEEKLY", "weekday": "Tuesday", "dte": 1, "trading_dte": 1}
    assert next(i for i in calendar["items"] if i["expiry"] == "2026-08-25")["kind"] == "MONTHLY"


def test_market_data_strikes_and_volatility(market_api):
    status, data = market_api("GET", "/options/market-data/NIFTY")
    assert status == 200 and Decimal(data["spot"]) > 0
    assert [f["tradingsymbol"] for f in data["futures"]] == ["NIFTY26AUGFUT", "NIFTY26SEPFUT", "NIFTY26OCTFUT"]
    assert data["quote"]["kind"] == "simulator"
    status, strikes = market_api("GET", "/options/strikes/NIFTY", query={"type": "CE", "range": "OTM"})
    assert status == 200 and strikes["expiry"] == "2026-08-18"
    assert all(Decimal(i["strike"]) > Decimal(strikes["atm_strike"]) and i["moneyness"] == "OTM" for i in strikes["items"])
    assert strikes["items"][0]["offset_from_atm"] == 1
    status, pe = market_api("GET", "/options/strikes/NIFTY", query={"type": "PE", "range": "OTM"})
    assert all(Decimal(i["strike"]) < Decimal(pe["atm_strike"]) for i in pe["items"])
    status, vol = market_api("GET", "/options/volatility/NIFTY")
    assert status == 200 and [t["expiry"] for t in vol["term_structure"]][:2] == ["2026-08-18", "2026-08-25"]
    assert 14 < vol["atm_iv_pct"] < 16 and all(t["atm_iv_pct"] for t in vol["term_structure"])


class QuotingClient:
    """A broker's quote API over the simulator whose quotes are ``age`` old (Kite-like answers)."""

    def __init__(self, engine, age: timedelta):
        self.engine, self.age = engine, age

    def _now(self):
        return self.engine.clock.now()

    def ltp(self, refs):
        return {f"{r.exchange.value}:{r.tradingsymbol}": self.engine.simulator.spot("NIFTY", self._now()) for r in refs}

    def quotes(self, refs):
        out = {}
        for ref in refs:
            contract = self.engine.master.by_symbol(ref.exchange.value, ref.tradingsymbol)
            q = self.engine.simulator.quote(contract, self._now())
            out[f"{ref.exchange.value}:{ref.tradingsymbol}"] = Quote(
                exchange=ref.exchange, tradingsymbol=ref.tradingsymbol, ltp=q.ltp, bid=q.bid, ask=q.ask,
                timestamp=self._now() - self.age, raw={"oi": 4200})
        return out


def test_broker_quotes_carry_their_age_and_old_ones_are_stale(market_api, monkeypatch):
    from shared_utils.execution.market_data import BrokerMarketData
    from shared_utils.services import market_status

    engine = market_api.engine
    fresh = dataclasses.replace(engine, market=BrokerMarketData(QuotingClient(engine, timedelta(seconds=3)),
                                                                engine.master, width=5, account="market-data account u/KITE1"))
    market_status.set_api_context(fresh)
    status, chain = market_api("GET", "/options/option-chain/NIFTY/2026-08-18")
    assert status == 200
    assert chain["quote"]["kind"] == "broker" and chain["quote"]["live"] is True
    assert chain["quote"]["age_s"] == 3 and chain["quote"]["stale"] is False
    assert chain["quote"]["as_of_basis"] == "exchange timestamp"
    assert len(chain["rows"]) == 11 and chain["rows"][0]["CE"]["oi"] == 4200  # OI where the source has it

    monkeypatch.setenv("QL_QUOTE_MAX_AGE_S", "60")
    old = dataclasses.replace(engine, market=BrokerMarketData(QuotingClient(engine, timedelta(minutes=10)),
                                                              engine.master, width=5, account="market-data account u/KITE1"))
    market_status.set_api_context(old)
    status, chain = market_api("GET", "/options/option-chain/NIFTY/2026-08-18")
    assert status == 200 and chain["quote"]["stale"] is True and chain["quote"]["age_s"] == 600
    assert chain["quote"]["live"] is False  # never shown as live
    assert chain["quote"]["max_age_s"] == 60
    status, calc = market_api("POST", "/options/calculator/premium", {"legs": [
        {"side": "BUY", "lots": 1, "underlying": "NIFTY", "expiry": "2026-08-18", "strike": 25100, "option_type": "CE"}]})
    assert status == 200 and calc["quote"]["stale"] is True


def test_market_data_failure_is_503_with_the_reason(market_api):
    from shared_utils.execution.market_data import BrokerMarketData
    from shared_utils.services import market_status

    def no_session():
        raise LookupError("no session today for u/KITE1")

    engine = market_api.engine
    market_status.set_api_context(dataclasses.replace(
        engine, market=BrokerMarketData(no_session, engine.master, account="market-data account u/KITE1")))
    status, body = market_api("GET", "/options/option-chain/NIFTY/2026-08-18")
    assert status == 503 and "no session today for u/KITE1" in body["message"]
    status, body = market_api("POST", "/options/calculator/premium", {"legs": [
        {"side": "BUY", "lots": 1, "underlying": "NIFTY", "expiry": "2026-08-18", "strike": 25100, "option_type": "CE"}]})
    assert status == 503 and "market data unavailable" in body["message"]
    assert market_api("GET", "/options/option-chain/NIFTY/2026-08-19")[0] == 422  # bad input still names the field
