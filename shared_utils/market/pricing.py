"""Option pricing: Black-76 (on a forward/future) and Black-Scholes (on spot), delta, implied vol.

Units and conventions (every function):

- prices (``underlying``, ``forward``, ``spot``, ``strike``, option premiums): rupees per unit
  (index points), as float or Decimal; model outputs are floats. Turn a model price into an
  order price with :func:`round_to_tick` (Decimal on the contract's tick).
- ``t``: time to expiry in YEARS, calendar time ACT/365, from "now" to 15:30 IST on the expiry
  date (:func:`year_fraction`).
- ``rate``: continuously compounded risk-free rate, decimal fraction per year (0.065 = 6.5 %).
- ``vol``: annualised volatility, decimal fraction (0.15 = 15 %).
- ``option_type``: ``OptionType.CE`` / ``OptionType.PE`` (or "CE"/"PE").

Everything is on the standard library's ``math`` (issue 14: no SciPy on the engine's path; SciPy and
NumPy cost ~320 ms of a cold start): the normal CDF is ``0.5 * erfc(-x / sqrt(2))`` (exact to
double precision, as ``scipy.special.ndtr``), and the implied volatility is found by bisection
on [``VOL_MIN``, ``VOL_MAX``] (the premium is strictly increasing in volatility, so the bracket
always holds the one root; ~30 halvings reach ``xtol`` 1e-8). When no volatility in that bracket reproduces the price (price at or
below the discounted intrinsic value, at or above the no-arbitrage upper bound, or t <= 0) the
function returns ``None`` — never a made-up number. Bad inputs (non-positive underlying/strike,
negative price) raise :class:`PricingError`.

Formulae: Black (1976), "The pricing of commodity contracts", J. Financial Economics 3;
Black & Scholes (1973). Delta of Black-76 is dV/dF = e^{-rt} N(d1) (call), -e^{-rt} N(-d1) (put).
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from shared_utils.clock import require_aware
from shared_utils.market.errors import PricingError
from shared_utils.models.enums import OptionType

__all__ = [
    "VOL_MIN",
    "VOL_MAX",
    "SECONDS_PER_YEAR",
    "year_fraction",
    "black76_price",
    "black76_delta",
    "bs_price",
    "bs_delta",
    "implied_vol",
    "forward_from_spot",
    "round_to_tick",
]

VOL_MIN = 1e-4
VOL_MAX = 5.0
SECONDS_PER_YEAR = 365.0 * 24 * 3600
Number = float | int | Decimal
Model = Literal["black76", "bs"]


def year_fraction(now: datetime, expiry_at: datetime) -> float:
    """Years (ACT/365, calendar seconds) from ``now`` to ``expiry_at``; both must be aware.

    ``expiry_at`` is normally 15:30 IST on the expiry date. May be <= 0 after expiry.
    Raises NaiveDatetimeError for naive datetimes.
    """
    require_aware(now, "now")
    require_aware(expiry_at, "expiry_at")
    return (expiry_at - now).total_seconds() / SECONDS_PER_YEAR


def _is_call(option_type: OptionType | str) -> bool:
    try:
        return OptionType(option_type) is OptionType.CE
    except ValueError:
        raise PricingError(f"option_type must be CE or PE, got {option_type!r}") from None


def _check(underlying: float, strike: float, t: float, vol: float | None = None) -> None:
    if not (underlying > 0 and math.isfinite(underlying)):
        raise PricingError(f"underlying must be > 0, got {underlying}")
    if not (strike > 0 and math.isfinite(strike)):
        raise PricingError(f"strike must be > 0, got {strike}")
    if not math.isfinite(t):
        raise PricingError(f"time to expiry must be finite, got {t}")
    if vol is not None and not (vol >= 0 and math.isfinite(vol)):
        raise PricingError(f"vol must be >= 0, got {vol}")


_SQRT2 = math.sqrt(2.0)


def ndtr(x: float) -> float:
    """The standard normal CDF N(x), on ``math.erfc`` (no cancellation for large negative x)."""
    return 0.5 * math.erfc(-x / _SQRT2)


def _d1_d2(forward: float, strike: float, t: float, vol: float) -> tuple[float, float]:
    sig_sqrt_t = vol * math.sqrt(t)
    d1 = (math.log(forward / strike) + 0.5 * sig_sqrt_t * sig_sqrt_t) / sig_sqrt_t
    return d1, d1 - sig_sqrt_t


def black76_price(forward: Number, strike: Number, t: float, rate: float, vol: float,
                  option_type: OptionType | str) -> float:
    """Black-76 premium (rupees) of a European option on a forward/future ``forward``.

    At or after expiry (t <= 0) or with vol == 0, returns the discounted intrinsic value.
    Raises PricingError for non-positive forward/strike or negative vol.
    """
    f, k = float(forward), float(strike)
    _check(f, k, t, vol)
    call = _is_call(option_type)
    if t <= 0:
        return max(f - k, 0.0) if call else max(k - f, 0.0)
    disc = math.exp(-rate * t)
    if vol == 0:
        return disc * (max(f - k, 0.0) if call else max(k - f, 0.0))
    d1, d2 = _d1_d2(f, k, t, vol)
    if call:
        return disc * (f * float(ndtr(d1)) - k * float(ndtr(d2)))
    return disc * (k * float(ndtr(-d2)) - f * float(ndtr(-d1)))


def black76_delta(forward: Number, strike: Number, t: float, rate: float, vol: float,
                  option_type: OptionType | str) -> float:
    """Black-76 delta dV/dF: e^{-rt} N(d1) for a CE (0..1), -e^{-rt} N(-d1) for a PE (-1..0).

    At expiry (t <= 0) or vol == 0: the intrinsic step (1/0 or -1/0). Raises PricingError.
    """
    f, k = float(forward), float(strike)
    _check(f, k, t, vol)
    call = _is_call(option_type)
    if t <= 0 or vol == 0:
        itm = f > k if call else f < k
        disc = math.exp(-rate * max(t, 0.0))
        return (disc if call else -disc) if itm else 0.0
    d1, _ = _d1_d2(f, k, t, vol)
    disc = math.exp(-rate * t)
    return disc * float(ndtr(d1)) if call else -disc * float(ndtr(-d1))


def forward_from_spot(spot: Number, t: float, rate: float, dividend_yield: float = 0.0) -> float:
    """Cost-of-carry forward F = S e^{(r - q) t} (rupees)."""
    return float(spot) * math.exp((rate - dividend_yield) * max(t, 0.0))


def bs_price(spot: Number, strike: Number, t: float, rate: float, vol: float, option_type: OptionType | str,
             dividend_yield: float = 0.0) -> float:
    """Black-Scholes(-Merton) premium (rupees) on ``spot`` with continuous dividend yield.

    Equal to Black-76 on F = S e^{(r-q)t}. Raises PricingError for bad inputs.
    """
    s = float(spot)
    _check(s, float(strike), t, vol)
    return black76_price(forward_from_spot(s, t, rate, dividend_yield), strike, t, rate, vol, option_type)


def bs_delta(spot: Number, strike: Number, t: float, rate: float, vol: float, option_type: OptionType | str,
             dividend_yield: float = 0.0) -> float:
    """Black-Scholes delta dV/dS: e^{-qt} N(d1) (CE), -e^{-qt} N(-d1) (PE)."""
    s = float(spot)
    _check(s, float(strike), t, vol)
    forward = forward_from_spot(s, t, rate, dividend_yield)
    # dV/dS = dV/dF * dF/dS = e^{-rt} N(d1) * e^{(r-q)t}
    return black76_delta(forward, strike, t, rate, vol, option_type) * math.exp((rate - dividend_yield) * max(t, 0.0))


def implied_vol(price: Number, underlying: Number, strike: Number, t: float, rate: float,
                option_type: OptionType | str, model: Model = "black76", dividend_yield: float = 0.0,
                xtol: float = 1e-8) -> float | None:
    """Annualised implied volatility (decimal) reproducing ``price``, or None if none exists.

    ``underlying`` is the forward for ``model="black76"`` and the spot for ``model="bs"``.
    Solved by bisection on [VOL_MIN, VOL_MAX] (5 = 500 %) to ``xtol`` (the premium is strictly
    increasing in vol, so the bracket holds exactly one root).

    Returns None when: t <= 0; ``price`` is at or below the model price at VOL_MIN (i.e. at or
    below discounted intrinsic: no time value); or at or above the price at VOL_MAX (at the
    no-arbitrage bound).

    Raises:
        PricingError: negative/non-finite price, non-positive underlying/strike, unknown model.
    """
    p = float(price)
    if not (p >= 0 and math.isfinite(p)):
        raise PricingError(f"price must be >= 0, got {price}")
    u, k = float(underlying), float(strike)
    _check(u, k, t)
    if model == "black76":
        forward = u
    elif model == "bs":
        forward = forward_from_spot(u, max(t, 0.0), rate, dividend_yield)
    else:
        raise PricingError(f"unknown model {model!r}: expected 'black76' or 'bs'")
    if t <= 0:
        return None

    def f(vol: float) -> float:
        return black76_price(forward, k, t, rate, vol, option_type) - p

    low, high = f(VOL_MIN), f(VOL_MAX)
    if low >= 0 or high <= 0:
        return None
    lo, hi = VOL_MIN, VOL_MAX
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        value = f(mid)
        if value == 0:
            return mid
        if value < 0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= xtol:
            break
    return 0.5 * (lo + hi)


def round_to_tick(value: Number, tick: Decimal | str = Decimal("0.05"), rounding: str = ROUND_HALF_UP) -> Decimal:
    """``value`` (rupees) as a Decimal on the ``tick`` grid (nearest by default, half up).

    ``rounding`` is a ``decimal`` rounding mode (ROUND_FLOOR / ROUND_CEILING for limit prices
    that must not cross). Raises PricingError for a non-positive tick or non-finite value.
    """
    tick = Decimal(str(tick))
    if tick <= 0:
        raise PricingError(f"tick must be > 0, got {tick}")
    dec = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    if not dec.is_finite():
        raise PricingError(f"cannot round non-finite value {value!r}")
    steps = (dec / tick).quantize(Decimal(1), rounding=rounding)
    return (steps * tick).quantize(tick)
