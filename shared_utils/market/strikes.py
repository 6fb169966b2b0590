"""Strike selection on one option chain (one underlying + one expiry), every ``EntryBy`` method.

The method semantics are defined in ``shared_utils/models/strike_selection.py`` and
``EntryBy``'s docstring; the sign convention for every distance is POSITIVE = out of the money
(a higher strike for a CE, a lower strike for a PE).

Definitions used here (all deterministic):

- ATM = the listed strike nearest the spot. A tie (spot exactly half-way between two listed
  strikes) picks the LOWER strike. Listed strikes are those quoted in the chain for the leg's
  option type; intervals therefore come from the chain (they widen away from the money), never
  from a constant.
- Snapping a target level (STRIKE_DISTANCE, ATM_PERCENT, STRADDLE_WIDTH) picks the listed strike
  nearest the target; a tie goes to the strike nearer ATM (the less aggressive one).
- Premium = the quote's LTP (rupees per unit). Strikes with no positive LTP are skipped by the
  premium and delta methods.
- "Nearest" ties in premium/delta methods go to the strike nearer the spot.
- DELTA: |Black-76 delta| on the forward with the IV implied from the option's LTP under the
  same forward/time/rate (consistent inputs); the quote's own ``iv`` (a broker/exchange figure
  with unknown conventions) is used only when the LTP admits no IV. The forward is ``chain.forward`` if given, else implied by put-call
  parity from the ATM CE/PE mids (F = K + e^{rT}(C - P)), else spot x e^{rT}.
- ATM straddle premium = LTP(ATM CE) + LTP(ATM PE), where ATM is taken over strikes quoted on
  both sides.

Errors: :class:`StrikeSelectionError` for a config missing its method's value, an empty chain,
no qualifying strike, or an offset/target beyond the listed strikes; the message says which.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared_utils.clock import require_aware
from shared_utils.market.errors import MarketError, StrikeSelectionError
from shared_utils.market.pricing import black76_delta, implied_vol, year_fraction
from shared_utils.models.enums import EntryBy, OptionType
from shared_utils.models.strike_selection import StrikeSelectionConfig

__all__ = [
    "DEFAULT_RATE",
    "OptionQuote",
    "OptionChain",
    "StrikeChoice",
    "atm_strike",
    "atm_straddle_premium",
    "choose_strike",
    "chain_forward",
]

#: Default risk-free rate for DELTA selection (decimal per year). An assumption, not a market
#: fact: roughly India's 91-day T-bill yield; callers may pass their own ``rate``.
DEFAULT_RATE = 0.065


@dataclass(frozen=True)
class OptionQuote:
    """One option's market: ``ltp``/``bid``/``ask`` in rupees (Decimal), ``iv`` annualised as a
    decimal fraction (0.18 = 18 %, optional), ``oi`` open interest in units (optional)."""

    ltp: Decimal
    bid: Decimal | None = None
    ask: Decimal | None = None
    iv: float | None = None
    oi: int | None = None

    @property
    def mid(self) -> Decimal:
        """(bid + ask) / 2 when both are positive, else the LTP."""
        if self.bid and self.ask and self.bid > 0 and self.ask > 0:
            return (self.bid + self.ask) / 2
        return self.ltp


@dataclass(frozen=True, eq=False)
class OptionChain:
    """Quotes of one underlying and one expiry.

    - ``spot``: the underlying's level (rupees, Decimal).
    - ``expiry_at``: aware datetime, 15:30 IST on the expiry date.
    - ``quotes``: {(strike Decimal, OptionType): OptionQuote}; the listed strikes are its keys.
    - ``forward``: optional forward/future level used for Black-76 (see module docstring).
    """

    underlying: str
    expiry: date
    spot: Decimal
    expiry_at: datetime
    quotes: Mapping[tuple[Decimal, OptionType], OptionQuote]
    forward: Decimal | None = None
    _sorted: dict[Any, list[Decimal]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        require_aware(self.expiry_at, "expiry_at")

    def strikes(self, option_type: OptionType | str | None = None) -> list[Decimal]:
        """Quoted strikes, ascending: of ``option_type``, or (None) those quoted on BOTH sides."""
        key = OptionType(option_type) if option_type is not None else None
        cached = self._sorted.get(key)
        if cached is None:
            if key is None:
                ce = {k for (k, t) in self.quotes if t is OptionType.CE}
                pe = {k for (k, t) in self.quotes if t is OptionType.PE}
                cached = sorted(ce & pe)
            else:
                cached = sorted(k for (k, t) in self.quotes if t is key)
            self._sorted[key] = cached
        return cached

    def quote(self, strike: Decimal, option_type: OptionType | str) -> OptionQuote:
        """The quote at (strike, type). Raises StrikeSelectionError when not quoted."""
        try:
            return self.quotes[(Decimal(strike), OptionType(option_type))]
        except KeyError:
            raise StrikeSelectionError(
                f"{self.underlying} {self.expiry.isoformat()}: no quote for {strike} {OptionType(option_type).value}"
            ) from None


@dataclass(frozen=True)
class StrikeChoice:
    """The chosen strike with the method and a JSON-friendly ``detail`` saying why
    (spot, ATM, target, the value compared, candidates considered)."""

    strike: Decimal
    option_type: OptionType
    method: EntryBy
    detail: dict[str, Any]


# ---------------------------------------------------------------------------- helpers
def _direction(option_type: OptionType) -> int:
    """+1 when a higher strike is more OTM (CE), -1 otherwise (PE)."""
    return 1 if option_type is OptionType.CE else -1


def _nearest(strikes: list[Decimal], level: Decimal) -> Decimal:
    """Listed strike nearest ``level``; a tie picks the lower strike."""
    if not strikes:
        raise StrikeSelectionError("no listed strikes")
    return min(strikes, key=lambda k: (abs(k - level), k))


def atm_strike(chain: OptionChain, option_type: OptionType | str | None = None) -> Decimal:
    """ATM: the listed strike nearest ``chain.spot`` (tie -> the lower strike).

    ``option_type`` None uses strikes quoted on both sides (for straddles).
    Raises StrikeSelectionError on an empty chain.
    """
    strikes = chain.strikes(option_type)
    if not strikes:
        side = OptionType(option_type).value if option_type is not None else "CE+PE"
        raise StrikeSelectionError(f"{chain.underlying} {chain.expiry.isoformat()}: no {side} strikes quoted")
    return _nearest(strikes, chain.spot)


def _snap(strikes: list[Decimal], target: Decimal, atm: Decimal) -> Decimal:
    """Nearest listed strike to ``target``; a tie goes to the strike nearer ATM."""
    return min(strikes, key=lambda k: (abs(k - target), abs(k - atm), k))


def _check_range(strikes: list[Decimal], target: Decimal, chosen: Decimal, what: str) -> None:
    """Raise when ``target`` lies beyond the listed strikes by more than one local interval."""
    if len(strikes) < 2:
        return
    low_gap, high_gap = strikes[1] - strikes[0], strikes[-1] - strikes[-2]
    if target < strikes[0] - low_gap or target > strikes[-1] + high_gap:
        raise StrikeSelectionError(
            f"{what}: target {_s(target)} is outside the listed strikes {_s(strikes[0])}..{_s(strikes[-1])}"
        )


def _s(value: Decimal) -> str:
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


def _premium(chain: OptionChain, strike: Decimal, option_type: OptionType) -> Decimal | None:
    quote = chain.quotes.get((strike, option_type))
    if quote is None or quote.ltp is None or quote.ltp <= 0:
        return None
    return quote.ltp


def atm_straddle_premium(chain: OptionChain) -> tuple[Decimal, Decimal]:
    """(ATM strike over strikes quoted both sides, LTP(CE) + LTP(PE) in rupees).

    Raises StrikeSelectionError when either ATM leg has no positive LTP.
    """
    atm = atm_strike(chain, None)
    ce, pe = _premium(chain, atm, OptionType.CE), _premium(chain, atm, OptionType.PE)
    if ce is None or pe is None:
        raise StrikeSelectionError(f"{chain.underlying} {chain.expiry.isoformat()}: ATM {_s(atm)} straddle has no LTP on both legs")
    return atm, ce + pe


def chain_forward(chain: OptionChain, rate: float, now: datetime) -> tuple[float, str]:
    """The forward for Black-76 and how it was obtained ("given", "put-call parity", "carry").

    Parity: F = K + e^{rT} (C - P) at the ATM strike quoted on both sides, using mids.
    """
    if chain.forward is not None:
        return float(chain.forward), "given"
    t = max(year_fraction(now, chain.expiry_at), 0.0)
    try:
        atm = atm_strike(chain, None)
        ce, pe = chain.quotes[(atm, OptionType.CE)], chain.quotes[(atm, OptionType.PE)]
        if ce.mid > 0 and pe.mid > 0:
            return float(atm) + math.exp(rate * t) * float(ce.mid - pe.mid), "put-call parity"
    except (MarketError, KeyError):
        pass
    return float(chain.spot) * math.exp(rate * t), "carry"


def _value(config: StrikeSelectionConfig, name: str) -> Any:
    value = getattr(config, name)
    if value is None:
        raise StrikeSelectionError(f"{config.method.value} needs {name} (missing: {', '.join(config.missing_values())})")
    return value


def _pick(candidates: list[tuple[Decimal, Any]], score: Callable[[Decimal, Any], Any], chain: OptionChain,
          what: str) -> tuple[Decimal, Any]:
    if not candidates:
        raise StrikeSelectionError(f"{chain.underlying} {chain.expiry.isoformat()}: no strike qualifies for {what}")
    return min(candidates, key=lambda c: (score(*c), abs(c[0] - chain.spot), c[0]))


# ---------------------------------------------------------------------------- entry point
def choose_strike(chain: OptionChain, option_type: OptionType | str, config: StrikeSelectionConfig,
                  now: datetime, rate: float = DEFAULT_RATE) -> StrikeChoice:
    """Choose the strike for one leg by ``config.method`` (every ``EntryBy`` method).

    Args:
        chain: quotes of the leg's underlying and expiry.
        option_type: the leg's CE/PE.
        config: method + value (units in ``strike_selection.py``: premiums in rupees per unit,
            distances in index points, percents as percent, delta as an absolute 0..1).
        now: aware instant of selection (time to expiry for DELTA).
        rate: risk-free rate, decimal per year (DELTA only).

    Returns:
        StrikeChoice with ``detail`` explaining the pick.

    Raises:
        StrikeSelectionError: missing config value, empty chain, no qualifying strike,
            offset/target beyond the listed strikes, fixed STRIKE not listed.
    """
    require_aware(now, "now")
    option_type = OptionType(option_type)
    method = config.method
    missing = config.missing_values()
    if missing:
        raise StrikeSelectionError(f"{method.value} cannot run: missing {', '.join(missing)}")
    strikes = chain.strikes(option_type)
    if not strikes:
        raise StrikeSelectionError(f"{chain.underlying} {chain.expiry.isoformat()}: no {option_type.value} strikes quoted")
    direction = _direction(option_type)
    atm = atm_strike(chain, option_type)
    detail: dict[str, Any] = {"spot": _s(chain.spot), "atm": _s(atm), "listed_strikes": len(strikes)}
    what = f"{method.value} {option_type.value}"

    def done(strike: Decimal, **extra: Any) -> StrikeChoice:
        detail.update(extra)
        detail["moneyness_points"] = _s((strike - atm) * direction)
        return StrikeChoice(strike, option_type, method, detail)

    if method is EntryBy.ATM_OFFSET:
        offset = int(_value(config, "atm_offset"))
        index = strikes.index(atm) + offset * direction
        if not 0 <= index < len(strikes):
            raise StrikeSelectionError(
                f"{what}: offset {offset} from ATM {_s(atm)} is beyond the {len(strikes)} listed strikes "
                f"({_s(strikes[0])}..{_s(strikes[-1])})"
            )
        return done(strikes[index], atm_offset=offset)

    if method in (EntryBy.STRIKE_DISTANCE, EntryBy.ATM_PERCENT):
        if method is EntryBy.STRIKE_DISTANCE:
            points = Decimal(_value(config, "strike_distance"))
        else:
            points = chain.spot * Decimal(_value(config, "atm_percent")) / 100
        target = atm + points * direction
        chosen = _snap(strikes, target, atm)
        _check_range(strikes, target, chosen, what)
        return done(chosen, target=_s(target), distance_points=_s(points))

    if method is EntryBy.STRIKE:
        wanted = Decimal(_value(config, "strike"))
        match = [k for k in strikes if k == wanted]
        if not match:
            near = sorted(sorted(strikes, key=lambda k: abs(k - wanted))[:2])
            raise StrikeSelectionError(f"{what}: strike {_s(wanted)} is not listed (nearest: {', '.join(map(_s, near))})")
        return done(match[0])

    priced = [(k, p) for k in strikes if (p := _premium(chain, k, option_type)) is not None]

    if method is EntryBy.CLOSEST_PREMIUM:
        target = Decimal(_value(config, "premium"))
        k, p = _pick(priced, lambda k, p: abs(p - target), chain, what)
        return done(k, target_premium=_s(target), premium=_s(p))

    if method is EntryBy.PREMIUM_GTE:
        floor = Decimal(_value(config, "premium"))
        qualifying = [(k, p) for k, p in priced if p >= floor]
        k, p = _pick(qualifying, lambda k, p: -k * direction, chain, f"{what} >= {_s(floor)}")
        return done(k, min_premium=_s(floor), premium=_s(p), rule="most OTM strike with premium >= value")

    if method is EntryBy.PREMIUM_LTE:
        cap = Decimal(_value(config, "premium"))
        qualifying = [(k, p) for k, p in priced if p <= cap]
        k, p = _pick(qualifying, lambda k, p: k * direction, chain, f"{what} <= {_s(cap)}")
        return done(k, max_premium=_s(cap), premium=_s(p), rule="least OTM strike with premium <= value")

    if method is EntryBy.PREMIUM_RANGE:
        low, high = Decimal(_value(config, "premium_min")), Decimal(_value(config, "premium_max"))
        middle = (low + high) / 2
        qualifying = [(k, p) for k, p in priced if low <= p <= high]
        k, p = _pick(qualifying, lambda k, p: abs(p - middle), chain, f"{what} in [{_s(low)}, {_s(high)}]")
        return done(k, premium_min=_s(low), premium_max=_s(high), premium=_s(p))

    if method is EntryBy.DELTA:
        target_delta = float(_value(config, "delta_value"))
        t = year_fraction(now, chain.expiry_at)
        if t <= 0:
            raise StrikeSelectionError(f"{what}: the expiry {chain.expiry_at.isoformat()} has passed at {now.isoformat()}")
        forward, forward_source = chain_forward(chain, rate, now)
        scored: list[tuple[Decimal, tuple[float, float]]] = []
        for k, p in priced:
            iv = implied_vol(float(p), forward, float(k), t, rate, option_type, model="black76")
            if iv is None:
                quoted = chain.quotes[(k, option_type)].iv
                if quoted is None or quoted <= 0:
                    continue
                iv = quoted
            scored.append((k, (abs(black76_delta(forward, float(k), t, rate, iv, option_type)), iv)))
        k, (delta, iv) = _pick(scored, lambda k, v: abs(v[0] - target_delta), chain, f"{what} {target_delta}")
        return done(k, target_delta=target_delta, delta=round(delta, 4), iv=round(iv, 4), forward=round(forward, 2),
                    forward_source=forward_source, years_to_expiry=round(t, 6), rate=rate)

    if method in (EntryBy.STRADDLE_WIDTH, EntryBy.ATM_STRADDLE_PERCENT):
        straddle_atm, straddle = atm_straddle_premium(chain)
        if method is EntryBy.STRADDLE_WIDTH:
            multiplier = Decimal(_value(config, "straddle_width_multiplier"))
            target = straddle_atm + multiplier * straddle * direction
            chosen = _snap(strikes, target, atm)
            _check_range(strikes, target, chosen, what)
            return done(chosen, straddle_atm=_s(straddle_atm), straddle_premium=_s(straddle),
                        multiplier=_s(multiplier), target=_s(target))
        percent = Decimal(_value(config, "straddle_percent"))
        target = straddle * percent / 100
        k, p = _pick(priced, lambda k, p: abs(p - target), chain, what)
        return done(k, straddle_atm=_s(straddle_atm), straddle_premium=_s(straddle), straddle_percent=_s(percent),
                    target_premium=_s(target), premium=_s(p))

    raise StrikeSelectionError(f"unsupported method {method!r}")  # pragma: no cover - EntryBy is closed
