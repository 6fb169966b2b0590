"""A seeded, reproducible market for paper trading and the local demo.

- :meth:`MarketSimulator.spot` is a geometric random walk in time: the same seed, underlying and
  instant (to the second) give the same level whatever was asked before (no hidden state).
  Each IST day starts from the configured spot moved by a seeded daily gap, then walks second by
  second with annual volatility ``vol`` (calendar-time, ACT/365).
- :meth:`MarketSimulator.quote` prices an option with Black-76 on F = S e^{rT} and a simple
  smile ``iv = vol + curvature * m^2 - skew * m`` with ``m = ln(K/F)``; LTP, bid and ask are
  Decimals on the contract's tick (bid < ask, at least one tick apart). Futures quote F.
- :meth:`MarketSimulator.chain` returns an :class:`OptionChain` for strike selection.

Not a market model for research: enough realism for strike selection, P&L and order flows.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

import numpy as np

from shared_utils.clock import Clock, require_aware, to_ist
from shared_utils.market.errors import MarketError
from shared_utils.market.instruments import Contract, InstrumentMaster
from shared_utils.market.pricing import black76_price, round_to_tick, year_fraction
from shared_utils.market.strikes import OptionChain, OptionQuote
from shared_utils.models.enums import OptionType

__all__ = ["MarketSimulator", "DEFAULT_SPOTS"]

#: Demo starting levels (rupees/points); override per simulator.
DEFAULT_SPOTS = {
    "NIFTY": Decimal("24900"),
    "BANKNIFTY": Decimal("55500"),
    "FINNIFTY": Decimal("26500"),
    "MIDCPNIFTY": Decimal("12800"),
    "NIFTYNXT50": Decimal("67000"),
    "SENSEX": Decimal("81500"),
    "BANKEX": Decimal("62500"),
    "SENSEX50": Decimal("26000"),
}
_SECONDS_PER_DAY = 86400
_SPOT_TICK = Decimal("0.05")


def _seed_int(*parts: object) -> int:
    digest = hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class MarketSimulator:
    """Seeded market over an :class:`InstrumentMaster`.

    Args:
        master: contracts to quote (lot/tick/expiry come from it).
        seed: any int; same seed -> same market.
        spots: starting level per underlying (Decimal rupees); DEFAULT_SPOTS fills the rest.
        clock: source of "now" when ``at`` is omitted (a Clock from shared_utils.clock).
        vol: annualised volatility of the walk and the ATM implied vol (decimal, 0.15 = 15 %).
        rate: risk-free rate for forwards and pricing (decimal per year).
        smile_curvature, smile_skew: smile shape (see module docstring).
        daily_gap_vol: standard deviation of the day-open gap (decimal, 0.006 = 0.6 %).

    Raises MarketError for a non-positive spot or vol.
    """

    def __init__(self, master: InstrumentMaster, seed: int, spots: dict[str, Decimal] | None = None,
                 clock: Clock | None = None, vol: float = 0.15, rate: float = 0.065,
                 smile_curvature: float = 2.0, smile_skew: float = 0.15, daily_gap_vol: float = 0.006) -> None:
        if vol <= 0:
            raise MarketError(f"vol must be > 0, got {vol}")
        self.master = master
        self.seed = seed
        self.spots = {**DEFAULT_SPOTS, **{k: Decimal(v) for k, v in (spots or {}).items()}}
        for name, level in self.spots.items():
            if level <= 0:
                raise MarketError(f"spot for {name} must be > 0, got {level}")
        self.clock = clock
        self.vol = vol
        self.rate = rate
        self.smile_curvature = smile_curvature
        self.smile_skew = smile_skew
        self.daily_gap_vol = daily_gap_vol
        self._paths: OrderedDict[tuple[str, date], np.ndarray] = OrderedDict()

    # ------------------------------------------------------------------ time
    def _now(self, at: datetime | None) -> datetime:
        if at is not None:
            return require_aware(at, "at")
        if self.clock is None:
            raise MarketError("no instant given and the simulator has no clock")
        return self.clock.now()

    def _path(self, underlying: str, day: date) -> np.ndarray:
        """Log-level offsets for every second of the IST ``day`` (cached, deterministic)."""
        key = (underlying, day)
        path = self._paths.get(key)
        if path is None:
            rng = np.random.default_rng(_seed_int(self.seed, underlying, day.isoformat()))
            gap = rng.standard_normal() * self.daily_gap_vol
            dt = 1.0 / (365.0 * _SECONDS_PER_DAY)
            steps = rng.standard_normal(_SECONDS_PER_DAY) * (self.vol * math.sqrt(dt)) - 0.5 * self.vol**2 * dt
            path = gap + np.concatenate(([0.0], np.cumsum(steps[:-1])))
            self._paths[key] = path
            if len(self._paths) > 32:
                self._paths.popitem(last=False)
        return path

    def spot(self, underlying: str, at: datetime | None = None) -> Decimal:
        """The underlying's level (rupees, Decimal on 0.05) at ``at`` (aware; default clock.now()).

        Reproducible: a pure function of (seed, underlying, IST second). Raises MarketError for
        an underlying without a starting spot.
        """
        base = self.spots.get(underlying)
        if base is None:
            raise MarketError(f"no starting spot for {underlying}; pass spots={{'{underlying}': Decimal(...)}}")
        local = to_ist(self._now(at))
        second = local.hour * 3600 + local.minute * 60 + local.second
        level = float(base) * math.exp(float(self._path(underlying, local.date())[second]))
        return round_to_tick(level, _SPOT_TICK)

    # ------------------------------------------------------------------ options
    def implied_vol(self, forward: float, strike: float) -> float:
        """Smile IV (decimal) for ``strike`` given ``forward``: vol + curvature m^2 - skew m."""
        m = math.log(strike / forward)
        return max(self.vol + self.smile_curvature * m * m - self.smile_skew * m, 0.01)

    def quote(self, contract: Contract, at: datetime | None = None) -> OptionQuote:
        """Quote of ``contract`` at ``at`` (default clock.now()).

        Options: Black-76 on F = S e^{rT} with the smile IV; after expiry the intrinsic value.
        Futures: F. ``ltp``/``bid``/``ask`` are Decimals on ``contract.tick_size``; the spread is
        max(1 tick, 0.5 % of price) each side, bid never below one tick while ltp > 0.
        """
        now = self._now(at)
        spot = float(self.spot(contract.underlying, now))
        t = max(year_fraction(now, contract.expiry_close), 0.0)
        forward = spot * math.exp(self.rate * t)
        tick = contract.tick_size
        if contract.option_type is None:
            ltp = round_to_tick(forward, tick)
            return OptionQuote(ltp=ltp, bid=ltp - tick, ask=ltp + tick, iv=None, oi=None)
        strike = float(contract.strike)
        iv = self.implied_vol(forward, strike)
        price = black76_price(forward, strike, t, self.rate, iv, contract.option_type)
        ltp = round_to_tick(price, tick)
        if t > 0 and ltp < tick:
            ltp = tick
        half = max(tick, round_to_tick(float(ltp) * 0.005, tick, rounding=ROUND_CEILING))
        bid = ltp - half if ltp - half >= tick else (tick if ltp > tick else Decimal(0) * tick)
        ask = ltp + half
        oi = int(_seed_int(self.seed, contract.instrument_token) % 200_000) * contract.lot_size
        return OptionQuote(ltp=ltp, bid=bid, ask=ask, iv=round(iv, 6), oi=oi)

    def chain(self, underlying: str, expiry: date, at: datetime | None = None) -> OptionChain:
        """OptionChain of every listed CE/PE of ``underlying`` ``expiry`` at ``at``.

        Raises ContractNotFoundError when the master lists no options for that expiry.
        """
        now = self._now(at)
        contracts = self.master.option_contracts(underlying, expiry)
        if not contracts:
            self.master.strikes(underlying, expiry, OptionType.CE)  # raises a clear error
        quotes = {(c.strike, c.option_type): self.quote(c, now) for c in contracts}
        expiry_at = contracts[0].expiry_close
        return OptionChain(underlying, expiry, self.spot(underlying, now), expiry_at, quotes)

    def advance_days(self, at: datetime, days: int) -> datetime:
        """Helper for demos: the same IST wall-clock time ``days`` later."""
        return to_ist(at) + timedelta(days=days)
