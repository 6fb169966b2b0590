"""Market status, calendars, expiries, quotes, option chains, strikes and volatility for the API
(issue 17; seed 001 "Market Data and Calculation APIs").

Where prices come from: the SAME market data the engine uses in this environment
(:func:`api_context`): the engine context of the process (``shared_utils.execution.wiring``:
the seeded simulator for paper-only environments, the market-data broker account's quote API
when deployed with one), or the context the local platform registered with
:func:`set_api_context` (its own simulator and clock). Every answer carries a ``quote`` block:

- ``source``: ``simulator`` (paper only, not the exchange's prices) or ``broker`` (the account),
  with a description;
- ``live``: prices from a broker's feed that are not stale (the simulator is never live);
- ``as_of``: the instant of the prices (UTC). The simulator prices the instant asked; a broker
  quote carries the exchange's timestamp (Kite ``timestamp``), else the instant it was fetched;
- ``age_s`` and ``stale``: a quote older than ``max_age_s`` (config
  ``options_platform.market_data_ttl`` seconds, or ``QL_QUOTE_MAX_AGE_S``) is stale, never live.

Bad input raises :class:`~shared_utils.errors.InvalidRequest` naming the field: an unknown
symbol (``symbol``), an expiry that is not listed (``expiry``), a strike that is not listed.
When the market data itself fails (no broker session, the quote API down) the
:class:`~shared_utils.market.errors.MarketError` propagates (the handler answers 503 with it).

Implied volatilities and deltas are OURS: Black-76 on the chain's forward (put-call parity at
ATM, as strike selection does; ``strikes.chain_forward``) with the IV solved from each LTP at
the risk-free rate :data:`~shared_utils.market.strikes.DEFAULT_RATE`.
"""

from __future__ import annotations

import dataclasses
import os
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from shared_utils.clock import to_ist, utc_iso_ms
from shared_utils.errors import InvalidRequest
from shared_utils.market.errors import MarketError
from shared_utils.models.enums import ExpiryType, OptionType

#: stale threshold when neither QL_QUOTE_MAX_AGE_S nor the environment's config says (seconds)
DEFAULT_MAX_AGE_S = 300

_override: Any = None


def set_api_context(ctx: Any) -> None:
    """Make ``ctx`` (an EngineContext) the API's market context (the local platform registers its
    engine's; tests theirs). ``None`` returns to the deployed composition root."""
    global _override
    _override = ctx


def api_context() -> Any:
    """The engine context whose master, calendar, clock and market data the API answers from:
    the registered one (:func:`set_api_context`), else the deployed composition root
    (:func:`shared_utils.execution.wiring.build_engine_context`, built once per container) with
    the masters' bucket from ``INSTRUMENTS_BUCKET_NAME``."""
    if _override is not None:
        return _override
    return _deployed_context()


@lru_cache(maxsize=1)
def _deployed_context() -> Any:
    from shared_utils.execution.wiring import build_engine_context

    return build_engine_context(bucket=os.environ.get("INSTRUMENTS_BUCKET_NAME") or None)


def max_quote_age_s(ctx: Any) -> float:
    """Seconds after which a quote is stale: ``QL_QUOTE_MAX_AGE_S``, else the environment's
    ``options_platform.market_data_ttl``, else :data:`DEFAULT_MAX_AGE_S`."""
    value = os.environ.get("QL_QUOTE_MAX_AGE_S")
    if value:
        return float(value)
    try:
        return float(ctx.env.options_platform.market_data_ttl)
    except AttributeError:
        return float(DEFAULT_MAX_AGE_S)


# ---------------------------------------------------------------------------- quotes with a time

class _RecordingClient:
    """A broker client that remembers each quote's exchange timestamp and open interest (the
    engine's BrokerMarketData keeps only prices); everything else is the client's."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.times: list[datetime] = []
        self.oi: dict[str, int] = {}

    def quotes(self, instruments: Any) -> Any:
        answer = self._inner.quotes(instruments)
        for key, quote in answer.items():
            if quote.timestamp is not None:
                self.times.append(quote.timestamp)
            oi = (quote.raw or {}).get("oi")
            if oi is not None:
                self.oi[key] = int(oi)
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class MarketReader:
    """The engine's market data for ONE answer at ``now``: prices plus where and when from.

    ``market`` is what resolution uses (the engine's own object for the simulator; for a broker,
    the engine's BrokerMarketData class over the same account client, recording quote times).
    """

    def __init__(self, ctx: Any, now: datetime) -> None:
        from shared_utils.execution.market_data import BrokerMarketData

        self.ctx = ctx
        self.now = now
        self.max_age_s = max_quote_age_s(ctx)
        self._recorder: _RecordingClient | None = None
        self._fetched: list[datetime] = []
        self._chains: dict[tuple[str, date], Any] = {}
        market = ctx.market
        if isinstance(market, BrokerMarketData):
            base = market

            def client() -> Any:
                self._recorder = _RecordingClient(base.client)
                return self._recorder

            market = BrokerMarketData(client, base.master, width=base.width, account=base.account)
        self.market = market
        self.live = isinstance(market, BrokerMarketData)
        self.context = dataclasses.replace(ctx, market=_TimedMarket(self))

    # ---- where from
    def source(self) -> dict[str, Any]:
        if self.live:
            return {"kind": "broker", "live": True,
                    "description": f"{self.market.account} (broker quote API; IV and delta computed by us)"}
        return {"kind": "simulator", "live": False,
                "description": "seeded market simulator: paper trading only, not the exchange's prices"}

    def stamp(self) -> dict[str, Any]:
        """The ``quote`` block of an answer (see module docstring)."""
        times = list(self._recorder.times) if self._recorder is not None else []
        basis = "exchange timestamp"
        if not times:
            times = self._fetched or [self.now]
            basis = "priced at this instant" if not self.live else "fetch time (the broker sent no timestamp)"
        as_of = min(times)
        # a broker quote ages on the real clock; the simulator prices the instant asked
        reference = self.ctx.clock.now() if self.live else self.now
        age = max((reference - as_of).total_seconds(), 0.0)
        stale = age > self.max_age_s
        # a stale quote is never presented as live
        return {**self.source(), "live": self.live and not stale, "as_of": utc_iso_ms(as_of), "as_of_basis": basis,
                "age_s": round(age, 3), "max_age_s": self.max_age_s, "stale": stale}

    def oi(self, contract: Any) -> int | None:
        if self._recorder is None:
            return None
        return self._recorder.oi.get(f"{contract.exchange.value}:{contract.tradingsymbol}")

    # ---- prices
    def chain(self, underlying: str, expiry: date, at: datetime | None = None) -> Any:
        key = (underlying, expiry)
        if key not in self._chains:
            self._fetched.append(self.ctx.clock.now() if self.live else (at or self.now))
            self._chains[key] = self.market.chain(underlying, expiry, at or self.now)
        return self._chains[key]

    def quote(self, contract: Any, at: datetime | None = None) -> Any:
        self._fetched.append(self.ctx.clock.now() if self.live else (at or self.now))
        return self.market.quote(contract, at or self.now)

    def spot(self, underlying: str) -> Decimal:
        """The index level (rupees). Raises MarketError when the source has none."""
        if self.live:
            self._fetched.append(self.ctx.clock.now())
            return self.market.spot(underlying)
        simulator = _simulator_of(self.market)
        if simulator is None:
            raise MarketError("this market data has no spot level")
        return simulator.spot(underlying, self.now)


class _TimedMarket:
    """MarketData protocol over a :class:`MarketReader` (chains cached per answer)."""

    def __init__(self, reader: MarketReader) -> None:
        self._reader = reader
        self.paper_only = getattr(reader.ctx.market, "paper_only", False)
        self.live_prices = getattr(reader.ctx.market, "live_prices", False)

    def chain(self, underlying: str, expiry: date, at: datetime | None = None) -> Any:
        return self._reader.chain(underlying, expiry, at)

    def quote(self, contract: Any, at: datetime | None = None) -> Any:
        return self._reader.quote(contract, at)


def _simulator_of(market: Any) -> Any:
    for _ in range(4):
        if hasattr(market, "simulator"):
            return market.simulator
        market = getattr(market, "inner", None)
        if market is None:
            return None
    return None


# ---------------------------------------------------------------------------- validation

def known_symbol(ctx: Any, symbol: str, loc: tuple = ("path", "symbol")) -> str:
    """``symbol`` upper-cased when the day's master lists its options; else 422 at ``loc``."""
    name = (symbol or "").strip().upper()
    try:
        listed = ctx.master.underlyings()
    except MarketError as exc:
        raise InvalidRequest.field(loc, f"the instrument master cannot be read: {exc}") from exc
    if name not in listed:
        raise InvalidRequest.field(loc, f"unknown symbol {symbol!r}: the instrument master lists {', '.join(listed)}")
    return name


def listed_expiry(ctx: Any, symbol: str, expiry: str | date, loc: tuple = ("path", "expiry")) -> date:
    """The listed expiry ``expiry`` (YYYY-MM-DD) of ``symbol``; else 422 at ``loc`` naming the listed ones."""
    try:
        day = expiry if isinstance(expiry, date) else date.fromisoformat(str(expiry))
    except ValueError:
        raise InvalidRequest.field(loc, f"{expiry!r} is not a date (YYYY-MM-DD)") from None
    listed = ctx.master.expiries(symbol)
    if day not in listed:
        raise InvalidRequest.field(loc, f"{symbol} expiry {day.isoformat()} is not listed "
                                        f"(listed: {', '.join(e.isoformat() for e in listed)})")
    return day


def _dec(value: Any) -> str | None:
    return None if value is None else format(Decimal(value).normalize(), "f")


# ---------------------------------------------------------------------------- calendar

def market_status(ctx: Any, now: datetime) -> dict[str, Any]:
    """Per exchange (NSE, BSE): OPEN, PRE_OPEN, CLOSED or HOLIDAY at ``now``, with the holiday's
    name and circular, the session's times (IST) and the next trading day."""
    calendar = ctx.calendar
    local = to_ist(now)
    day = local.date()
    exchanges = []
    for exchange in ("NSE", "BSE"):
        entry: dict[str, Any] = {"exchange": exchange, "date": day.isoformat()}
        holiday = calendar.holiday(day, exchange)
        trading = calendar.is_trading_day(day, exchange)
        if holiday is not None and not trading:
            entry.update(status="HOLIDAY", holiday={"name": holiday.name, "source": holiday.source})
        elif not trading:
            entry.update(status="CLOSED", reason="weekend")
        else:
            session = calendar.session(day, exchange)
            pre = calendar.pre_open(day, exchange)
            entry["session"] = {"open": session.open.strftime("%H:%M"), "close": session.close.strftime("%H:%M"),
                                "kind": session.kind, "open_utc": utc_iso_ms(session.open_utc),
                                "close_utc": utc_iso_ms(session.close_utc)}
            if pre is not None:
                entry["pre_open"] = {"open": pre[0].strftime("%H:%M"), "close": pre[1].strftime("%H:%M"),
                                     "segment": "FO (futures only)"}
            if session.open <= local < session.close:
                entry["status"] = "OPEN"
            elif pre is not None and pre[0] <= local < pre[1]:
                entry["status"] = "PRE_OPEN"
            else:
                entry["status"] = "CLOSED"
                entry["reason"] = "before the session" if local < session.open else "after the session"
        entry["next_trading_day"] = calendar.next_trading_day(day, exchange).isoformat()
        exchanges.append(entry)
    return {"as_of": utc_iso_ms(now), "time_ist": local.strftime("%Y-%m-%d %H:%M:%S"), "exchanges": exchanges}


def holidays(ctx: Any, exchange: str | None, year: int) -> dict[str, Any]:
    """Trading holidays (weekdays closed) of ``exchange`` (NSE, BSE or both) in ``year`` with the
    circular each comes from. Raises InvalidRequest (``exchange``/``year``) when unknown/uncovered."""
    calendar = ctx.calendar
    names = [exchange.upper()] if exchange else ["NSE", "BSE"]
    for name in names:
        if name not in ("NSE", "BSE"):
            raise InvalidRequest.field(("query", "exchange"), f"unknown exchange {exchange!r}: NSE or BSE")
    items = []
    for name in names:
        if not calendar.covers(date(year, 1, 1), name) and not calendar.covers(date(year, 12, 31), name):
            raise InvalidRequest.field(("query", "year"), f"the calendar does not cover {year} for {name}")
        day = date(year, 1, 1)
        while day.year == year:
            holiday = calendar.holiday(day, name)
            if holiday is not None:
                items.append({"date": day.isoformat(), "exchange": name, "name": holiday.name,
                              "weekday": day.strftime("%A"), "source": holiday.source})
            day = date.fromordinal(day.toordinal() + 1)
    return {"year": year, "exchanges": names, "items": items}


def expiry_calendar(ctx: Any, symbol: str, today: date) -> dict[str, Any]:
    """Listed expiries of ``symbol`` on or after ``today`` from the day's master, each WEEKLY or
    MONTHLY with calendar and trading days to expiry."""
    from shared_utils.market.expiry import days_to_expiry, listed_monthlies, trading_days_to_expiry

    symbol = known_symbol(ctx, symbol)
    monthly = set(listed_monthlies(ctx.master, symbol, ctx.calendar))
    items = []
    for expiry in ctx.master.expiries(symbol):
        if expiry < today:
            continue
        items.append({"expiry": expiry.isoformat(), "kind": (ExpiryType.MONTHLY if expiry in monthly else ExpiryType.WEEKLY).value,
                      "weekday": expiry.strftime("%A"), "dte": days_to_expiry(expiry, today),
                      "trading_dte": trading_days_to_expiry(expiry, today, ctx.calendar)})
    return {"symbol": symbol, "date": today.isoformat(), "master": _master_info(ctx), "items": items}


def _master_info(ctx: Any) -> dict[str, Any]:
    from shared_utils.services.market_data import origin_of

    origin = origin_of(ctx.master)
    as_of = getattr(ctx.master, "as_of", None)
    return {"as_of": as_of.isoformat() if as_of else None, "source": origin.source if origin else None}


# ---------------------------------------------------------------------------- quotes

def market_data(ctx: Any, symbol: str, now: datetime) -> dict[str, Any]:
    """Spot level and the listed futures' LTPs of ``symbol`` with their time and source."""
    symbol = known_symbol(ctx, symbol)
    reader = MarketReader(ctx, now)
    try:
        spot = reader.spot(symbol)
    except MarketError as exc:
        spot, spot_problem = None, str(exc)
    else:
        spot_problem = None
    futures = []
    try:
        contracts = ctx.master.futures(symbol)
    except MarketError:
        contracts = []
    for contract in contracts:
        if contract.expiry < to_ist(now).date():
            continue
        try:
            quote = reader.quote(contract, now)
            futures.append({"tradingsymbol": contract.tradingsymbol, "expiry": contract.expiry.isoformat(),
                            "ltp": _dec(quote.ltp), "bid": _dec(quote.bid), "ask": _dec(quote.ask)})
        except MarketError as exc:
            futures.append({"tradingsymbol": contract.tradingsymbol, "expiry": contract.expiry.isoformat(),
                            "ltp": None, "problem": str(exc)})
    answer = {"symbol": symbol, "spot": _dec(spot), "futures": futures, "quote": reader.stamp()}
    if spot_problem:
        answer["problems"] = [spot_problem]
    return answer


def _iv_delta(price: Decimal | None, forward: float, strike: Decimal, t: float, option_type: OptionType,
              rate: float) -> tuple[float | None, float | None]:
    from shared_utils.market.pricing import black76_delta, implied_vol

    if price is None or price <= 0 or t <= 0:
        return None, None
    iv = implied_vol(float(price), forward, float(strike), t, rate, option_type, model="black76")
    if iv is None:
        return None, None
    return iv, black76_delta(forward, float(strike), t, rate, iv, option_type)


def option_chain(ctx: Any, symbol: str, expiry: str | date, now: datetime, width: int | None = None) -> dict[str, Any]:
    """The chain of ``symbol`` ``expiry``: per listed strike CE and PE LTP, bid/ask and OI where
    the source has them, IV (percent) and delta computed by us; the ATM strike marked.

    ``width``: only this many strikes either side of ATM (None: every quoted strike).
    """
    from shared_utils.market.pricing import year_fraction
    from shared_utils.market.strikes import DEFAULT_RATE, atm_strike, chain_forward

    symbol = known_symbol(ctx, symbol)
    day = listed_expiry(ctx, symbol, expiry)
    reader = MarketReader(ctx, now)
    chain = reader.chain(symbol, day, now)  # MarketError: the market data is unavailable (503)
    strikes = chain.strikes(None) or sorted({k for k, _ in chain.quotes})
    atm = atm_strike(chain, None) if chain.strikes(None) else None
    t = max(year_fraction(now, chain.expiry_at), 0.0)
    forward, forward_source = chain_forward(chain, DEFAULT_RATE, now)
    if width is not None and atm is not None:
        index = strikes.index(atm)
        strikes = strikes[max(0, index - width): index + width + 1]
    rows = []
    for strike in strikes:
        row: dict[str, Any] = {"strike": _dec(strike), "atm": strike == atm}
        for option_type in (OptionType.CE, OptionType.PE):
            quote = chain.quotes.get((strike, option_type))
            if quote is None:
                row[option_type.value] = None
                continue
            iv, delta = _iv_delta(quote.ltp, forward, strike, t, option_type, DEFAULT_RATE)
            oi = quote.oi
            if oi is None:
                try:
                    oi = reader.oi(ctx.master.contract(symbol, day, strike, option_type))
                except MarketError:
                    oi = None
            row[option_type.value] = {
                "ltp": _dec(quote.ltp), "bid": _dec(quote.bid), "ask": _dec(quote.ask), "oi": oi,
                "iv_pct": None if iv is None else round(iv * 100, 2),
                "delta": None if delta is None else round(delta, 4)}
        rows.append(row)
    contracts = ctx.master.option_contracts(symbol, day)
    return {"symbol": symbol, "expiry": day.isoformat(), "spot": _dec(chain.spot), "atm_strike": _dec(atm),
            "forward": round(forward, 2), "forward_source": forward_source, "rate": DEFAULT_RATE,
            "time_to_expiry_years": round(t, 6), "lot_size": contracts[0].lot_size if contracts else None,
            "strike_interval": _dec(_interval(strikes, atm)), "rows": rows, "quote": reader.stamp(),
            "units": {"ltp": "rupees per unit", "iv_pct": "annualised percent (Black-76, ours)",
                      "delta": "per unit of the forward (Black-76, ours)", "oi": "contracts' units"}}


def _interval(strikes: list[Decimal], atm: Decimal | None) -> Decimal | None:
    if atm is None or len(strikes) < 2:
        return None
    i = strikes.index(atm)
    return strikes[i + 1] - strikes[i] if i + 1 < len(strikes) else strikes[i] - strikes[i - 1]


def strikes_view(ctx: Any, symbol: str, expiry: str | None, option_type: str, moneyness: str | None,
                 now: datetime) -> dict[str, Any]:
    """Listed strikes of ``symbol`` (``expiry``, default the nearest listed) for ``option_type``
    (CE/PE), each ITM/ATM/OTM against today's spot; ``moneyness`` filters (ITM, ATM, OTM)."""
    symbol = known_symbol(ctx, symbol)
    today = to_ist(now).date()
    if expiry:
        day = listed_expiry(ctx, symbol, expiry, ("query", "expiry"))
    else:
        upcoming = [e for e in ctx.master.expiries(symbol) if e >= today]
        if not upcoming:
            raise InvalidRequest.field(("query", "expiry"), f"{symbol}: the master lists no expiry on or after {today}")
        day = upcoming[0]
    kind = OptionType(option_type)
    wanted = moneyness.upper() if moneyness else None
    if wanted not in (None, "ITM", "ATM", "OTM"):
        raise InvalidRequest.field(("query", "range"), f"{moneyness!r}: ITM, ATM or OTM")
    reader = MarketReader(ctx, now)
    try:
        spot = reader.spot(symbol)
    except MarketError:
        spot = reader.chain(symbol, day, now).spot
    listed = ctx.master.strikes(symbol, day, kind)
    atm = min(listed, key=lambda k: (abs(k - spot), k))
    items = []
    for strike in listed:
        if strike == atm:
            tag = "ATM"
        elif (strike > atm) == (kind is OptionType.CE):
            tag = "OTM"
        else:
            tag = "ITM"
        if wanted is None or tag == wanted:
            contract = ctx.master.contract(symbol, day, strike, kind)
            items.append({"strike": _dec(strike), "moneyness": tag, "tradingsymbol": contract.tradingsymbol,
                          "offset_from_atm": (listed.index(strike) - listed.index(atm)) * (1 if kind is OptionType.CE else -1)})
    return {"symbol": symbol, "expiry": day.isoformat(), "type": kind.value, "spot": _dec(spot), "atm_strike": _dec(atm),
            "range": wanted, "items": items, "quote": reader.stamp()}


def volatility(ctx: Any, symbol: str, now: datetime) -> dict[str, Any]:
    """ATM implied volatility (ours, Black-76; mean of the ATM CE and PE IVs) for each listed
    expiry on or after today: the term structure."""
    from shared_utils.market.pricing import year_fraction
    from shared_utils.market.strikes import DEFAULT_RATE, atm_strike, chain_forward

    symbol = known_symbol(ctx, symbol)
    today = to_ist(now).date()
    reader = MarketReader(ctx, now)
    terms = []
    for expiry in ctx.master.expiries(symbol):
        if expiry < today:
            continue
        entry: dict[str, Any] = {"expiry": expiry.isoformat(), "dte": (expiry - today).days}
        try:
            chain = reader.chain(symbol, expiry, now)
            atm = atm_strike(chain, None)
            t = max(year_fraction(now, chain.expiry_at), 0.0)
            forward, _ = chain_forward(chain, DEFAULT_RATE, now)
            ivs = [iv for kind in (OptionType.CE, OptionType.PE)
                   if (iv := _iv_delta(chain.quotes[(atm, kind)].ltp, forward, atm, t, kind, DEFAULT_RATE)[0]) is not None]
            entry.update(atm_strike=_dec(atm), forward=round(forward, 2),
                         atm_iv_pct=round(100 * sum(ivs) / len(ivs), 2) if ivs else None)
        except (MarketError, KeyError) as exc:
            entry.update(atm_iv_pct=None, problem=str(exc))
        terms.append(entry)
    front = next((t["atm_iv_pct"] for t in terms if t.get("atm_iv_pct") is not None), None)
    return {"symbol": symbol, "atm_iv_pct": front, "term_structure": terms, "quote": reader.stamp(),
            "units": {"atm_iv_pct": "annualised percent, Black-76 on the parity forward (ours)"}}


__all__ = ["MarketReader", "api_context", "set_api_context", "market_status", "holidays", "expiry_calendar",
           "market_data", "option_chain", "strikes_view", "volatility", "known_symbol", "listed_expiry",
           "max_quote_age_s"]
