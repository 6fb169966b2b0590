"""Option-position calculators: premium, greeks, payoff, breakevens, max profit / max loss
(issue 17, ``POST /options/calculator/{premium|greeks|payoff|breakeven}``; the strategy preview
uses the same :func:`analyse`).

Inputs: legs, each a CONTRACT (``tradingsymbol``, or ``underlying`` + ``expiry`` + ``strike`` +
``option_type``) or a SELECTION RULE (``underlying``, ``expiry_type``, ``expiry_offset``,
``strike_selection_config``, ``option_type``) resolved by the engine's own Resolve code
(``shared_utils.execution.planner.resolve_legs``), with ``side`` (BUY/SELL) and ``lots`` (> 0).
Prices: the leg's ``premium`` when given, else the market's LTP (the engine's market data).

Conventions and units (all amounts in rupees; quantity = lots x the contract's lot size):

- ``net_premium``: sum over legs of premium x quantity, SELL positive (credit received), BUY
  negative (debit paid). ``net_premium_kind`` says CREDIT or DEBIT.
- Greeks are Black-76 on each leg's forward (put-call parity at its chain's ATM, as strike
  selection does), with the IV implied from the leg's price (ours) at the rate
  :data:`~shared_utils.market.strikes.DEFAULT_RATE`. Per unit: ``delta`` dV/dF (rupees per
  point), ``gamma`` d2V/dF2 (per point), ``theta`` dV/dt in rupees per CALENDAR DAY (time
  decay, negative for a long option), ``vega`` rupees per 1 volatility point (1 % absolute).
  Per leg and position figures are x signed quantity (BUY +, SELL -).
- Payoff at expiry: P&L in rupees at each underlying level (at expiry the option is worth its
  intrinsic value on the underlying). ``today``: the theoretical P&L now at each level
  (Black-76, each leg's IV, forward moved with the level).
- Breakevens and max profit / max loss are exact for legs sharing one expiry (piecewise-linear
  payoff solved at every strike); ``max_profit``/``max_loss`` is ``"unlimited"`` when the payoff
  keeps growing/falling above the highest strike. ``max_loss`` is the most the position can
  lose, as a positive amount (negative: even the worst case is a profit). Legs on different expiries: evaluated at the
  first expiry with later legs at their Black-76 value (``exact`` false).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared_utils.errors import InvalidRequest
from shared_utils.market.errors import MarketError
from shared_utils.models.enums import ExpiryType, OptionType, TransactionType
from shared_utils.models.strike_selection import StrikeSelectionConfig

DAYS_PER_YEAR = 365.0
SQRT2 = math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class CalculatorLeg(BaseModel):
    """One leg of a calculator request: a contract or a selection rule, a side and lots."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    side: TransactionType = Field(description="BUY or SELL")
    lots: int = Field(gt=0, le=10000, description="lots (> 0); quantity = lots x lot size")
    tradingsymbol: str | None = Field(default=None, max_length=40, description="e.g. NIFTY2681825000CE")
    underlying: str | None = Field(default=None, max_length=30)
    expiry: date | None = Field(default=None, description="a listed expiry (with strike)")
    strike: Decimal | None = Field(default=None, gt=0, description="a listed strike (with expiry)")
    option_type: OptionType | None = Field(default=None, description="CE or PE")
    expiry_type: ExpiryType | None = Field(default=None, description="selection rule: WEEKLY or MONTHLY")
    expiry_offset: int = Field(default=0, ge=0, le=12)
    strike_selection_config: StrikeSelectionConfig | None = Field(default=None, description="selection rule")
    premium: Decimal | None = Field(default=None, ge=0, description="entry price per unit (rupees); default the LTP")

    @field_validator("side", "option_type", "expiry_type", "underlying", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_way(self) -> "CalculatorLeg":
        if self.tradingsymbol:
            return self
        if self.option_type is None:
            raise ValueError("option_type: CE or PE is required unless tradingsymbol is given")
        if self.underlying is None:
            raise ValueError("underlying: required unless tradingsymbol is given")
        if self.strike_selection_config is not None:
            if self.expiry_type is None:
                raise ValueError("expiry_type: required with strike_selection_config")
            return self
        if self.expiry is None or self.strike is None:
            raise ValueError("give tradingsymbol, or underlying + expiry + strike + option_type, or a selection "
                             "rule (expiry_type + strike_selection_config)")
        return self


class CalculatorRequest(BaseModel):
    """``POST /options/calculator/*`` body."""

    model_config = ConfigDict(extra="forbid")

    legs: list[CalculatorLeg] = Field(min_length=1, max_length=12)
    range_pct: Decimal = Field(default=Decimal(10), gt=0, le=50,
                               description="payoff range: the underlying +/- this percent of its level")
    points: int = Field(default=81, ge=11, le=401, description="points of each payoff curve")


@dataclass
class PricedLeg:
    """One leg ready for analysis: contract facts, signed quantity, price and Black-76 inputs."""

    index: int
    tradingsymbol: str
    underlying: str
    expiry: date
    expiry_at: datetime
    strike: float
    option_type: OptionType
    side: TransactionType
    lots: int
    lot_size: int
    premium: Decimal
    premium_source: str
    forward: float
    spot: float
    t: float
    iv: float | None
    leg_no: int | None = None

    @property
    def quantity(self) -> int:
        return self.lots * self.lot_size

    @property
    def sign(self) -> int:
        return 1 if self.side is TransactionType.BUY else -1


# ---------------------------------------------------------------------------- Black-76 greeks

def _cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / SQRT2))


def black76_greeks(forward: float, strike: float, t: float, rate: float, vol: float,
                   option_type: OptionType) -> dict[str, float]:
    """Textbook Black-76 (Hull, Options Futures and Other Derivatives, "Black's model") per unit:
    ``price`` rupees; ``delta`` dV/dF; ``gamma`` d2V/dF2; ``theta`` rupees per calendar day
    (-dV/dT / 365); ``vega`` rupees per 1 vol point (dV/dsigma / 100).

    At or after expiry, or vol 0: intrinsic value, step delta, zero gamma/vega/theta.
    """
    call = option_type is OptionType.CE
    if t <= 0 or vol <= 0:
        intrinsic = max(forward - strike, 0.0) if call else max(strike - forward, 0.0)
        itm = forward > strike if call else forward < strike
        return {"price": intrinsic, "delta": (1.0 if call else -1.0) if itm else 0.0, "gamma": 0.0,
                "theta": 0.0, "vega": 0.0}
    sqrt_t = math.sqrt(t)
    sig = vol * sqrt_t
    d1 = (math.log(forward / strike) + 0.5 * sig * sig) / sig
    d2 = d1 - sig
    disc = math.exp(-rate * t)
    pdf = INV_SQRT_2PI * math.exp(-0.5 * d1 * d1)
    if call:
        price = disc * (forward * _cdf(d1) - strike * _cdf(d2))
        delta = disc * _cdf(d1)
    else:
        price = disc * (strike * _cdf(-d2) - forward * _cdf(-d1))
        delta = -disc * _cdf(-d1)
    gamma = disc * pdf / (forward * sig)
    vega = disc * forward * pdf * sqrt_t
    # dV/dT = -rV + e^{-rT} F n(d1) sigma / (2 sqrt T); theta = -dV/dT (per year)
    theta_year = rate * price - disc * forward * pdf * vol / (2.0 * sqrt_t)
    return {"price": price, "delta": delta, "gamma": gamma, "theta": theta_year / DAYS_PER_YEAR, "vega": vega / 100.0}


# ---------------------------------------------------------------------------- resolution

def _contract_for(ctx: Any, leg: CalculatorLeg, i: int) -> Any:
    loc = ("body", "legs", i)
    master = ctx.master
    if leg.tradingsymbol:
        symbol = leg.tradingsymbol.upper()
        for exchange in ("NFO", "BFO"):
            try:
                contract = master.by_symbol(exchange, symbol)
            except MarketError:
                continue
            if contract.option_type is None:
                raise InvalidRequest.field(loc + ("tradingsymbol",), f"{symbol} is a future; the calculators take options")
            return contract
        raise InvalidRequest.field(loc + ("tradingsymbol",), f"{symbol} is not in the instrument master")
    from shared_utils.services.market_status import known_symbol, listed_expiry

    underlying = known_symbol(ctx, leg.underlying or "", loc + ("underlying",))
    expiry = listed_expiry(ctx, underlying, leg.expiry, loc + ("expiry",))
    strikes = master.strikes(underlying, expiry, leg.option_type)
    if Decimal(leg.strike) not in set(strikes):
        near = sorted(sorted(strikes, key=lambda k: abs(k - leg.strike))[:2])
        raise InvalidRequest.field(loc + ("strike",), f"{underlying} {expiry} {leg.option_type.value} strike "
                                   f"{leg.strike} is not listed (nearest: {', '.join(str(k) for k in near)})")
    return master.contract(underlying, expiry, leg.strike, leg.option_type)


def _rule_leg(ctx: Any, leg: CalculatorLeg, i: int, now: datetime) -> tuple[Any, Decimal]:
    """Resolve a selection-rule leg with the ENGINE's resolve_legs; (contract, ltp)."""
    from shared_utils.clock import to_ist
    from shared_utils.execution.planner import ResolutionError, resolve_legs
    from shared_utils.models.enums import EntryBy, LegType
    from shared_utils.models.leg import Leg
    from shared_utils.services.market_status import known_symbol

    loc = ("body", "legs", i)
    underlying = known_symbol(ctx, leg.underlying or "", loc + ("underlying",))
    config = leg.strike_selection_config
    model = Leg(user_id="calculator", strategy_id="calculator", leg_no=i + 1, lots=leg.lots,
                transaction_type=leg.side, leg_type=LegType.CALL if leg.option_type is OptionType.CE else LegType.PUT,
                underlying=underlying, entry_by=EntryBy(config.method), expiry_type=leg.expiry_type,
                expiry_offset=leg.expiry_offset, strike_selection_config=config)
    missing = model.missing_values()
    if missing:
        raise InvalidRequest.field(loc + ("strike_selection_config",), f"{config.method.value} needs {', '.join(missing)}")
    try:
        resolved = resolve_legs(ctx, underlying, [model], to_ist(now).date(), now)
    except (ResolutionError, MarketError) as exc:
        raise InvalidRequest.field(loc, str(exc).removeprefix(f"leg {i + 1}: ")) from exc
    info, contract = resolved[i + 1]
    return contract, info.ltp


def price_legs(reader: Any, legs: list[CalculatorLeg], now: datetime) -> list[PricedLeg]:
    """Contracts, prices and Black-76 inputs of ``legs`` from ``reader`` (a MarketReader).

    Raises:
        InvalidRequest: naming ``body.legs.<i>.<field>`` (unknown symbol, expiry or strike not
            listed, a rule that resolves to nothing, no quote).
    """
    ctx = reader.context
    priced = []
    for i, leg in enumerate(legs):
        if leg.strike_selection_config is not None and not leg.tradingsymbol:
            contract, ltp = _rule_leg(ctx, leg, i, now)
        else:
            contract, ltp = _contract_for(ctx, leg, i), None
        if priced and contract.underlying != priced[0].underlying:
            field = "tradingsymbol" if leg.tradingsymbol else "underlying"
            raise InvalidRequest.field(("body", "legs", i, field), f"{contract.underlying}: every leg of one position "
                                       f"must be on the same underlying (leg 0 is {priced[0].underlying})")
        priced.append(_priced(reader, i, contract, leg.side, leg.lots, leg.premium, ltp, now))
    return priced


def _priced(reader: Any, i: int, contract: Any, side: TransactionType, lots: int, premium: Decimal | None,
            ltp: Decimal | None, now: datetime, leg_no: int | None = None) -> PricedLeg:
    from shared_utils.market.pricing import implied_vol, year_fraction
    from shared_utils.market.strikes import DEFAULT_RATE, chain_forward

    chain = reader.chain(contract.underlying, contract.expiry, now)  # MarketError: market data down (503)
    if ltp is None:
        try:
            ltp = chain.quote(contract.strike, contract.option_type).ltp
        except MarketError as exc:
            raise InvalidRequest.field(("body", "legs", i), f"no quote for {contract.tradingsymbol}: {exc}") from exc
    forward, _ = chain_forward(chain, DEFAULT_RATE, now)
    t = max(year_fraction(now, chain.expiry_at), 0.0)
    price = premium if premium is not None else ltp
    iv_price = ltp if ltp is not None and ltp > 0 else price
    iv = implied_vol(float(iv_price), forward, float(contract.strike), t, DEFAULT_RATE, contract.option_type) \
        if t > 0 and iv_price and iv_price > 0 else None
    return PricedLeg(index=i, tradingsymbol=contract.tradingsymbol, underlying=contract.underlying,
                     expiry=contract.expiry, expiry_at=chain.expiry_at, strike=float(contract.strike),
                     option_type=contract.option_type, side=side, lots=lots, lot_size=contract.lot_size,
                     premium=Decimal(price), premium_source="given" if premium is not None else "LTP",
                     forward=forward, spot=float(chain.spot), t=t, iv=iv, leg_no=leg_no)


# ---------------------------------------------------------------------------- analysis

def _money(value: float | Decimal) -> str:
    return str(Decimal(repr(float(value))).quantize(Decimal("0.01")))


def _value_at(leg: PricedLeg, level: float, horizon_t: float | None) -> float:
    """Per-unit value of ``leg`` when the underlying is at ``level``: at its expiry (intrinsic)
    when ``horizon_t`` is None, else Black-76 with ``horizon_t`` years left."""
    from shared_utils.market.strikes import DEFAULT_RATE

    if horizon_t is None or horizon_t <= 0 or leg.iv is None:
        return max(level - leg.strike, 0.0) if leg.option_type is OptionType.CE else max(leg.strike - level, 0.0)
    forward = level * (leg.forward / leg.spot) if leg.spot > 0 else level
    return black76_greeks(forward, leg.strike, horizon_t, DEFAULT_RATE, leg.iv, leg.option_type)["price"]


def analyse(legs: list[PricedLeg], now: datetime, range_pct: float = 10.0, points: int = 81,
            what: frozenset[str] = frozenset({"premium", "greeks", "payoff", "breakeven"})) -> dict[str, Any]:
    """Net premium, greeks, payoff curves, breakevens, max profit / loss of ``legs`` (see the
    module docstring for units). ``what`` limits the work to the parts asked for."""
    from shared_utils.market.strikes import DEFAULT_RATE

    out: dict[str, Any] = {}
    net = sum((-l.sign * l.premium * l.quantity for l in legs), Decimal(0))
    legs_out = []
    position = {"delta": 0.0, "gamma": 0.0, "theta": 0.0, "vega": 0.0}
    for leg in legs:
        row: dict[str, Any] = {
            "leg": leg.index, **({"leg_no": leg.leg_no} if leg.leg_no is not None else {}),
            "tradingsymbol": leg.tradingsymbol, "expiry": leg.expiry.isoformat(), "strike": _trim(leg.strike),
            "option_type": leg.option_type.value, "side": leg.side.value, "lots": leg.lots, "lot_size": leg.lot_size,
            "quantity": leg.quantity, "premium": str(leg.premium), "premium_source": leg.premium_source,
            "premium_value": _money(-leg.sign * leg.premium * leg.quantity)}
        if "greeks" in what:
            row["iv_pct"] = None if leg.iv is None else round(leg.iv * 100, 4)
            row["forward"] = round(leg.forward, 4)
            row["time_to_expiry_years"] = round(leg.t, 8)
            if leg.iv is not None:
                g = black76_greeks(leg.forward, leg.strike, leg.t, DEFAULT_RATE, leg.iv, leg.option_type)
                per_unit = {k: g[k] for k in ("delta", "gamma", "theta", "vega")}
            else:
                per_unit = dict.fromkeys(("delta", "gamma", "theta", "vega"), None)
            row["greeks_per_unit"] = {k: None if v is None else round(v, 6) for k, v in per_unit.items()}
            row["greeks"] = {k: None if v is None else round(v * leg.sign * leg.quantity, 4) for k, v in per_unit.items()}
            for k, v in per_unit.items():
                if v is not None:
                    position[k] += v * leg.sign * leg.quantity
        legs_out.append(row)
    out["legs"] = legs_out
    out["net_premium"] = _money(net)
    out["net_premium_kind"] = "CREDIT" if net >= 0 else "DEBIT"
    if "greeks" in what:
        out["greeks"] = {k: round(v, 4) for k, v in position.items()}
        out["greeks_units"] = GREEK_UNITS
        out["greeks_model"] = (f"Black-76 on each leg's parity forward, IV implied from its LTP, rate {DEFAULT_RATE}; "
                               "position figures are per-unit greeks x signed quantity (BUY +, SELL -)")
    if "payoff" in what or "breakeven" in what:
        out.update(_payoff(legs, now, range_pct, points, "payoff" in what))
    return out


GREEK_UNITS = {"delta": "rupees per 1 point of the underlying", "gamma": "delta change per 1 point",
               "theta": "rupees per calendar day", "vega": "rupees per 1 volatility point (1 % absolute)"}


def _trim(value: float) -> str:
    return format(Decimal(repr(value)).normalize(), "f")


def _payoff(legs: list[PricedLeg], now: datetime, range_pct: float, points: int, curves: bool) -> dict[str, Any]:
    first_expiry = min(l.expiry_at for l in legs)
    single = len({l.expiry for l in legs}) == 1
    from shared_utils.market.pricing import year_fraction

    def at_expiry(level: float) -> float:
        total = 0.0
        for leg in legs:
            left = None if leg.expiry_at <= first_expiry else year_fraction(first_expiry, leg.expiry_at)
            total += leg.sign * leg.quantity * (_value_at(leg, level, left) - float(leg.premium))
        return total

    def today(level: float) -> float:
        return sum(leg.sign * leg.quantity * (_value_at(leg, level, leg.t) - float(leg.premium)) for leg in legs)

    spot = legs[0].spot
    low, high = spot * (1 - range_pct / 100), spot * (1 + range_pct / 100)
    strikes = sorted({l.strike for l in legs})
    result: dict[str, Any] = {"underlying_level": _trim(spot), "payoff_exact": single}
    if curves:
        step = (high - low) / (points - 1)
        levels = [low + step * i for i in range(points)]
        result["payoff"] = {
            "levels": [round(x, 2) for x in levels],
            "at_expiry": [round(at_expiry(x), 2) for x in levels],
            "today": [round(today(x), 2) for x in levels],
            "units": "P&L in rupees at each underlying level; at_expiry on the first expiry "
                     f"({first_expiry.date().isoformat()}), today at {now.isoformat()}"}
    # breakevens and extremes: exact on the piecewise-linear payoff (single expiry)
    if single:
        knots = [0.0] + strikes
        values = [at_expiry(k) for k in knots]
        top = strikes[-1]
        slope_up = at_expiry(top + 1.0) - at_expiry(top)
        breakevens = []
        for (a, va), (b, vb) in zip(zip(knots, values), zip(knots[1:], values[1:])):
            if va == 0:
                breakevens.append(a)
            elif va * vb < 0:
                breakevens.append(a + (b - a) * (-va) / (vb - va))
        if values[-1] == 0 and top not in breakevens:
            breakevens.append(top)
        if slope_up != 0 and values[-1] * slope_up < 0:
            breakevens.append(top - values[-1] / slope_up)
        max_profit: Any = "unlimited" if slope_up > 1e-9 else _money(max(values))
        max_loss: Any = "unlimited" if slope_up < -1e-9 else _money(-min(values))
        method = "exact (piecewise-linear payoff solved at every strike)"
    else:
        grid = [low + (high - low) * i / 400 for i in range(401)]
        vals = [at_expiry(x) for x in grid]
        breakevens = [grid[i] + (grid[i + 1] - grid[i]) * (-vals[i]) / (vals[i + 1] - vals[i])
                      for i in range(400) if vals[i] * vals[i + 1] < 0]
        max_profit, max_loss = _money(max(vals)), _money(-min(vals))
        method = (f"approximate: legs expire on different dates; evaluated at the first expiry over "
                  f"+/-{range_pct}% of the level, later legs at Black-76 value")
    result.update(breakevens=[round(b, 2) for b in sorted(breakevens)], max_profit=max_profit, max_loss=max_loss,
                  extremes_method=method)
    return result


__all__ = ["CalculatorLeg", "CalculatorRequest", "PricedLeg", "analyse", "black76_greeks", "price_legs", "GREEK_UNITS"]
