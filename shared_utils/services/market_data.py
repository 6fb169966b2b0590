"""Where the platform gets the day's instrument masters and lot sizes.

The canonical instrument master is Kite's daily dump (``/instruments``, NFO + BFO).

- Deployed (``QL_INSTRUMENTS_FROM_S3=1``, set by the execution-engine stack): the engine reads
  the master OF THE DAY from S3 (``instruments/kite/<date>.csv``, published by the market-data
  refresher; services.instruments_store), through :class:`DailyInstrumentMaster`: loaded on first
  use, cached per container and IST date, reloaded when the date changes. A read failure is a
  :class:`~shared_utils.services.instruments_store.MasterUnavailable` with the reason, never a
  fallback, except where the environment's market data is explicitly the simulator
  (``QL_MARKET_DATA_ACCOUNT=simulator``: local/dev, paper only), which may use the bundled
  2026-08-18 extract when no master is published (logged; such a master is marked paper-only).
- Local platform and tests: ``QL_INSTRUMENTS_FILE`` or the bundled extract in
  ``config/market/instruments/`` (:func:`instrument_master`), marked as a local/paper master.

Every master loaded here carries its date (``master.as_of``) and where it came from
(``master.origin``, :class:`MasterOrigin`); the engine refuses to ENTER with a master that is not
the trade date's (shared_utils.execution.market_data.entry_problems).

Lot sizes come from the contract of the resolved expiry in that master; when the master does not
list the contract the dated fallback table ``config/market/lot_sizes.json`` answers, and the
answer says so.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from shared_utils.market.errors import MarketError
from shared_utils.market.instruments import InstrumentMaster
from shared_utils.models.enums import ExpiryType

CONFIG_MARKET = Path(__file__).resolve().parent.parent.parent / "config" / "market"
DEFAULT_INSTRUMENTS = CONFIG_MARKET / "instruments" / "kite_NFO_BFO_2026-08-18_extract.csv"
LOT_SIZE_FALLBACK = CONFIG_MARKET / "lot_sizes.json"
#: ``QL_MARKET_DATA_ACCOUNT`` value naming the seeded simulator (paper-only environments)
SIMULATOR = "simulator"
#: a failed master read is answered from memory for this long before S3 is asked again, so a
#: loop over many orders does not repeat a failing download for each (seconds)
FAILURE_RETRY_S = 30

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LotSize:
    """``lot`` units per lot for a leg on a trade date, with ``expiry`` and where it came from."""

    lot: int
    expiry: date | None
    source: str


@dataclass(frozen=True)
class MasterOrigin:
    """Where a loaded master came from.

    - ``as_of``: the trading day it lists (None when unknown).
    - ``source``: e.g. ``s3://bucket/instruments/kite/2026-11-26.csv`` or the bundled file.
    - ``paper_only``: a local/paper master (the bundled extract or a file): the freshness check
      does not apply to it, and only paper trading (the simulator) may use it.
    """

    as_of: date | None
    source: str
    paper_only: bool


def _date_in_name(path: Path) -> date | None:
    found = re.search(r"(\d{4}-\d{2}-\d{2})", path.name)
    try:
        return date.fromisoformat(found.group(1)) if found else None
    except ValueError:
        return None


def _mark(master: Any, origin: MasterOrigin) -> Any:
    master.as_of = origin.as_of
    master.origin = origin
    return master


def origin_of(master: Any) -> MasterOrigin | None:
    """The :class:`MasterOrigin` of a master loaded here (None for one built elsewhere)."""
    return getattr(master, "origin", None)


@lru_cache(maxsize=4)
def instrument_master(path: str | None = None) -> InstrumentMaster:
    """A LOCAL instrument master (cached per path): ``path``, ``$QL_INSTRUMENTS_FILE``, else the
    bundled 2026-08-18 extract. Marked paper-only and dated from the file name.

    Deployed engine functions do not use this: they read the day's master from S3
    (:class:`DailyInstrumentMaster`)."""
    file = Path(path or os.environ.get("QL_INSTRUMENTS_FILE") or DEFAULT_INSTRUMENTS)
    as_of = _date_in_name(file)
    master = InstrumentMaster.from_kite_csv(file, as_of=as_of)
    return _mark(master, MasterOrigin(as_of, f"local file {file}", paper_only=True))


def deployed() -> bool:
    """Whether this process reads the day's masters from S3 (``QL_INSTRUMENTS_FROM_S3=1``)."""
    return os.environ.get("QL_INSTRUMENTS_FROM_S3") == "1"


def s3_master(day: date, bucket: str | None = None, client: Any | None = None,
              allow_bundled: bool = False) -> InstrumentMaster:
    """The canonical master of ``day`` from S3, dated ``day``.

    ``allow_bundled`` (the environment's market data is the simulator: paper only): when the
    day's master is not published, the bundled extract answers, marked paper-only and logged.

    Raises:
        MasterUnavailable: the object cannot be read (message names bucket, key, AWS error).
        MarketError: the object is not a Kite instruments CSV.
    """
    from shared_utils.services import instruments_store

    try:
        body = instruments_store.read_master("kite", day, bucket, client)
    except instruments_store.MasterUnavailable as exc:
        if not allow_bundled:
            raise
        logger.warning("%s; market data is the simulator (paper only): using the bundled extract", exc)
        master = InstrumentMaster.from_kite_csv(DEFAULT_INSTRUMENTS, as_of=_date_in_name(DEFAULT_INSTRUMENTS))
        return _mark(master, MasterOrigin(master.as_of, f"bundled extract {DEFAULT_INSTRUMENTS.name} "
                                          "(market data: simulator, paper only)", paper_only=True))
    master = InstrumentMaster.from_kite_csv(io.StringIO(body.decode("utf-8")), as_of=day)
    bucket_name = bucket or os.environ.get("ARCHIVE_BUCKET_NAME")
    return _mark(master, MasterOrigin(day, f"s3://{bucket_name}/{instruments_store.key_for('kite', day)}",
                                      paper_only=False))


class DailyInstrumentMaster:
    """The master of TODAY (IST date of ``clock``), loaded by ``loader(day)`` on first use, kept
    for the container's life while the date holds, reloaded when it changes. Attribute access
    forwards to the loaded :class:`InstrumentMaster`; a load failure raises the loader's error
    (a :class:`MarketError` with the reason) at that access, again from memory for
    :data:`FAILURE_RETRY_S`, then the load is tried again.
    """

    def __init__(self, clock: Any, loader: Callable[[date], InstrumentMaster]) -> None:
        self._clock = clock
        self._loader = loader
        self._lock = threading.Lock()
        self._day: date | None = None
        self._master: InstrumentMaster | None = None
        self._failure: tuple[date, Any, Exception] | None = None

    def today(self) -> date:
        from shared_utils.clock import IST

        return self._clock.now().astimezone(IST).date()

    def current(self) -> InstrumentMaster:
        day = self.today()
        master = self._master
        if master is not None and self._day == day:
            return master
        with self._lock:
            if self._master is None or self._day != day:
                now = self._clock.now()
                if self._failure is not None and self._failure[0] == day \
                        and (now - self._failure[1]).total_seconds() < FAILURE_RETRY_S:
                    raise self._failure[2]
                try:
                    loaded = self._loader(day)
                except Exception as exc:
                    self._failure = (day, now, exc)
                    raise
                self._master, self._day, self._failure = loaded, day, None
            return self._master

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.current(), name)

    def __len__(self) -> int:
        return len(self.current())


class DailySymbolMasters(dict):
    """Each broker's own symbol master of TODAY (Angel scrip master, Noren symbol files), read
    from S3 on first ``get(broker)`` and cached per IST date. Brokers that speak Kite's symbols
    (zerodha, paper) have none (``get`` returns None without reading).

    A read or parse failure raises :class:`MarketError` with the reason from ``get``: the
    planner then marks that broker's orders NOT_SENT with it (never a guessed symbol/token).
    Entries put in directly (``update``) win over S3 (tests, the local fakes).
    """

    BROKERS = {"angel": "angel", "finvasia": "finvasia", "zebu": "zebu"}

    def __init__(self, clock: Any, bucket: str | None = None, client: Any | None = None) -> None:
        super().__init__()
        self._clock = clock
        self._bucket = bucket
        self._client = client
        self._lock = threading.Lock()
        self._loaded: dict[tuple[str, date], Any] = {}
        self._failures: dict[tuple[str, date], tuple[Any, Exception]] = {}

    def get(self, broker: str, default: Any = None) -> Any:
        if dict.__contains__(self, broker):
            return dict.__getitem__(self, broker)
        if broker not in self.BROKERS:
            return default
        from shared_utils.clock import IST
        from shared_utils.services import instruments_store

        day = self._clock.now().astimezone(IST).date()
        key = (broker, day)
        if key not in self._loaded:
            with self._lock:
                if key not in self._loaded:
                    now = self._clock.now()
                    failed = self._failures.get(key)
                    if failed is not None and (now - failed[0]).total_seconds() < FAILURE_RETRY_S:
                        raise failed[1]
                    try:
                        body = instruments_store.read_master(broker, day, self._bucket, self._client)
                        if broker == "angel":
                            loaded = instruments_store.load_angel_master(body)
                        else:
                            loaded = instruments_store.load_noren_symbols(body.decode("utf-8"), broker)
                    except MarketError as exc:
                        self._failures[key] = (now, exc)
                        raise
                    loaded.as_of = day
                    self._loaded = {k: v for k, v in self._loaded.items() if k[1] == day}
                    self._loaded[key] = loaded
                    self._failures.pop(key, None)
        return self._loaded[key]


@lru_cache(maxsize=1)
def _fallback_table() -> dict[str, list[tuple[date, int]]]:
    data = json.loads(LOT_SIZE_FALLBACK.read_text())
    return {name: sorted((date.fromisoformat(r["from"]), int(r["lot"])) for r in rows)
            for name, rows in data["lot_sizes"].items()}


def fallback_lot_size(underlying: str, expiry: date) -> int | None:
    """The dated fallback lot size of ``underlying`` for a contract expiring on ``expiry``."""
    rows = _fallback_table().get(underlying.upper())
    if not rows:
        return None
    lot = None
    for start, size in rows:
        if expiry >= start:
            lot = size
    return lot


def lot_size_for(underlying: str, expiry_type: ExpiryType, expiry_offset: int, trade_date: date,
                 master: InstrumentMaster | None = None) -> LotSize:
    """Lot size of the contract a leg resolves to on ``trade_date``.

    Raises:
        MarketError: no master contract and no fallback row (the message says which).
    """
    from shared_utils.market.expiry import resolve_expiry

    master = master if master is not None else instrument_master()
    expiry = resolve_expiry(master, underlying, expiry_type, expiry_offset, trade_date)
    try:
        contracts = master.option_contracts(underlying, expiry)
        if contracts:
            return LotSize(contracts[0].lot_size, expiry, f"instrument master: {contracts[0].tradingsymbol}")
    except MarketError:
        pass
    lot = fallback_lot_size(underlying, expiry)
    if lot is None:
        raise MarketError(f"{underlying}: no contract in the instrument master and no fallback lot size")
    return LotSize(lot, expiry, f"fallback table config/market/lot_sizes.json (master does not list {underlying} {expiry})")
