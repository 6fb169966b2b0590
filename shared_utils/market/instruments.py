"""Instrument master: Kite's daily instruments dump, indexed for leg resolution.

Source format: Kite Connect ``GET /instruments`` CSV, columns ``instrument_token, exchange_token,
tradingsymbol, name, last_price, expiry, strike, tick_size, lot_size, instrument_type, segment,
exchange`` (``shared/reference/broker-apis.md``; a real dump is
``shared/data/zerodha_instruments_NFO_BFO_2026-08-18.csv``). Only derivative rows (segments
``NFO-OPT``, ``NFO-FUT``, ``BFO-OPT``, ``BFO-FUT``) are kept.

A lot size, tick size and expiry belong to a CONTRACT, not to an index (lot sizes change by
circular and old contracts keep the old lot): always take them from the :class:`Contract`.

Broker mapping (:func:`broker_symbol`): the canonical key of a contract is (underlying, expiry,
strike, option type). Kite/paper use the dump's own tradingsymbol and token. Angel One and Noren
(Finvasia Shoonya, Zebu) have their own symbol formats and tokens, taken from the broker's master
when loaded (:class:`BrokerSymbolMaster`), else constructed where the format is confirmed.
Each broker's formats live in its adapter's folder (one broker's change touches one folder):
``shared_utils/brokers/angel/symbols.py`` (symbol builder, scrip-master parser) and
``shared_utils/brokers/noren/symbols.py``; the names stay importable from here.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared_utils.market.errors import BrokerSymbolError, ContractNotFoundError, MarketError
from shared_utils.models.enums import BrokerName, Exchange, ExpiryType, OptionType

__all__ = [
    "Contract",
    "InstrumentMaster",
    "BrokerInstrument",
    "BrokerSymbolMaster",
    "UnderlyingInfo",
    "broker_symbol",
    "angel_option_symbol",
    "noren_symbol",
    "load_angel_scrip_master",
    "load_underlyings",
    "UNDERLYINGS_FILE",
]

UNDERLYINGS_FILE = Path(__file__).resolve().parents[2] / "config" / "market" / "underlyings.json"
_KEPT_SEGMENTS = frozenset({"NFO-OPT", "NFO-FUT", "BFO-OPT", "BFO-FUT"})
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def _canon(value: Decimal) -> Decimal:
    """Canonical Decimal for a strike/price: ``Decimal('25000.0')`` -> ``Decimal('25000')``,
    ``Decimal('7.50')`` -> ``Decimal('7.5')`` (no exponent form)."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def _fmt_strike(strike: Decimal) -> str:
    """25000 -> '25000', 7.5 -> '7.5' (no exponent, no trailing zeros)."""
    return format(_canon(strike), "f")


@dataclass(frozen=True, slots=True)
class Contract:
    """One listed derivative contract (a row of the Kite dump).

    - ``strike``: rupees (index points), Decimal; ``Decimal(0)`` for futures.
    - ``option_type``: CE/PE, or None for a future.
    - ``lot_size``: units per lot (quantity = lots x lot_size).
    - ``tick_size``: rupees, Decimal (0.05 for index options).
    - ``exchange``: NFO or BFO; ``segment``: e.g. ``NFO-OPT``.
    - ``expiry``: the expiry date (trading ends at the exchange's close that day, :attr:`expiry_close`).
    """

    tradingsymbol: str
    instrument_token: int
    exchange_token: int
    exchange: Exchange
    underlying: str
    expiry: date
    strike: Decimal
    option_type: OptionType | None
    lot_size: int
    tick_size: Decimal
    segment: str

    @property
    def is_future(self) -> bool:
        return self.option_type is None

    @property
    def expiry_close(self) -> datetime:
        """The exchange's dated F&O close on the expiry date, aware IST (NSE 15:40 from
        2026-08-03, NSE circular 74/2026; BSE 15:30): ``calendar.close_at``."""
        from shared_utils.market.calendar import close_at

        return close_at(self.expiry, self.exchange.value)

    @property
    def kite_key(self) -> str:
        """``EXCHANGE:TRADINGSYMBOL`` as Kite's quote endpoints take it."""
        return f"{self.exchange.value}:{self.tradingsymbol}"

    @property
    def key(self) -> tuple[str, date, Decimal, OptionType | None]:
        """The broker-independent identity (underlying, expiry, strike, option type)."""
        return (self.underlying, self.expiry, self.strike, self.option_type)


class InstrumentMaster:
    """Contracts of one instrument dump, indexed by underlying, expiry, strike and CE/PE.

    Build with :meth:`from_kite_csv`. Lookups raise :class:`ContractNotFoundError` whose message
    names the missing piece and what IS listed nearby.
    """

    def __init__(self, contracts: Iterable[Contract | list[str]] = (), as_of: date | None = None) -> None:
        """Index ``contracts`` (Contract objects; raw Kite CSV rows are accepted internally and
        turned into Contracts on first access, which keeps loading fast)."""
        self.as_of = as_of
        self._options: dict[tuple[str, date, OptionType], dict[Decimal, Any]] = defaultdict(dict)
        self._futures: dict[tuple[str, date], Any] = {}
        self._all: list[Any] = []
        self._built: dict[int, Contract] = {}
        self._by_token: dict[int, Any] | None = None
        self._by_symbol: dict[tuple[str, str], Any] | None = None
        self._exchange_of: dict[str, Exchange] = {}
        for c in contracts:
            self._add(c.underlying, c.expiry, c.strike, c.option_type, c)
        self._finish()

    def _add(self, underlying: str, expiry: date, strike: Decimal, option_type: OptionType | None, entry: Any) -> None:
        self._all.append(entry)
        if option_type is None:
            self._futures[(underlying, expiry)] = entry
        else:
            self._options[(underlying, expiry, option_type)][strike] = entry

    def _finish(self) -> None:
        option_expiries: dict[str, set[date]] = defaultdict(set)
        for (underlying, expiry, _), chain in self._options.items():
            option_expiries[underlying].add(expiry)
            if underlying not in self._exchange_of:
                self._exchange_of[underlying] = self._build(next(iter(chain.values()))).exchange
        for (underlying, _), entry in self._futures.items():
            if underlying not in self._exchange_of:
                self._exchange_of[underlying] = self._build(entry).exchange
        self._expiries = {u: sorted(e) for u, e in option_expiries.items()}
        self._monthly: dict[str, frozenset[date]] = {}
        for underlying, expiries in self._expiries.items():
            last_of_month: dict[tuple[int, int], date] = {}
            for e in expiries:
                last_of_month[(e.year, e.month)] = max(e, last_of_month.get((e.year, e.month), e))
            self._monthly[underlying] = frozenset(last_of_month.values())
        self._strike_cache: dict[tuple[str, date, OptionType | None], list[Decimal]] = {}

    _EXCHANGES = {"NFO": Exchange.NFO, "BFO": Exchange.BFO}
    _TYPES = {"CE": OptionType.CE, "PE": OptionType.PE, "FUT": None}

    def _build(self, entry: Any) -> Contract:
        """A Contract from a stored entry (already a Contract, or a raw Kite row)."""
        if isinstance(entry, Contract):
            return entry
        token = int(entry[0])
        built = self._built.get(token)
        if built is None:
            option_type = self._TYPES[entry[9]]
            strike = _canon(Decimal(entry[6])) if option_type is not None else Decimal(0)
            built = self._built[token] = Contract(
                entry[2], token, int(entry[1]), self._EXCHANGES[entry[11]], entry[3], date.fromisoformat(entry[5]),
                strike, option_type, int(entry[8]), Decimal(entry[7]), entry[10],
            )
        return built

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_kite_csv(cls, source: str | Path | io.TextIOBase, as_of: date | None = None,
                      underlyings: Iterable[str] | None = None) -> "InstrumentMaster":
        """Load a Kite instruments CSV (path, or an open text file).

        ``underlyings`` optionally restricts loading to those names (faster, smaller). Rows
        outside NFO/BFO derivative segments are skipped. Measured: the 39,941-row dump of
        2026-08-18 loads in about 0.3 s on the dev container (csv parsing alone is ~0.16 s there); Contract objects are built lazily on first access (see tests/unit/market/test_instruments.py).

        Raises:
            MarketError: the header does not have Kite's columns, or a row is malformed
                (message names the line number).
        """
        if isinstance(source, (str, Path)):
            with open(source, newline="", encoding="utf-8") as handle:
                return cls._parse(handle, as_of, underlyings)
        return cls._parse(source, as_of, underlyings)

    @classmethod
    def _parse(cls, handle: Any, as_of: date | None, underlyings: Iterable[str] | None) -> "InstrumentMaster":
        reader = csv.reader(handle)
        header = next(reader, None)
        expected = ["instrument_token", "exchange_token", "tradingsymbol", "name", "last_price", "expiry",
                    "strike", "tick_size", "lot_size", "instrument_type", "segment", "exchange"]
        if header is None or [h.strip() for h in header[: len(expected)]] != expected:
            raise MarketError(f"not a Kite instruments CSV: header {header!r}, expected {expected!r}")
        wanted = frozenset(underlyings) if underlyings is not None else None
        master = cls((), as_of)
        strikes: dict[str, Decimal] = {}
        dates: dict[str, date] = {}
        types = cls._TYPES
        add = master._add
        for line_no, row in enumerate(reader, start=2):
            if len(row) < 12 or row[10] not in _KEPT_SEGMENTS:
                continue
            if wanted is not None and row[3] not in wanted:
                continue
            try:
                expiry = dates.get(row[5])
                if expiry is None:
                    expiry = dates[row[5]] = date.fromisoformat(row[5])
                option_type = types[row[9]]
                strike = strikes.get(row[6])
                if strike is None:
                    strike = strikes[row[6]] = _canon(Decimal(row[6]))
                if row[11] not in cls._EXCHANGES:
                    raise KeyError(row[11])
                int(row[0]), int(row[8])
            except (ValueError, KeyError, ArithmeticError) as exc:
                raise MarketError(f"Kite instruments CSV line {line_no}: malformed row {row!r} ({exc})") from exc
            add(row[3], expiry, strike, option_type, row)
        master._finish()
        return master

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self._all)

    def underlyings(self) -> list[str]:
        """Names (Kite ``name``) that have options listed, sorted."""
        return sorted(self._expiries)

    def exchange_of(self, underlying: str) -> Exchange:
        """NFO or BFO: where ``underlying``'s derivatives trade. Raises ContractNotFoundError."""
        try:
            return self._exchange_of[underlying]
        except KeyError:
            raise ContractNotFoundError(f"{underlying}: no contracts in the instrument master") from None

    def expiries(self, underlying: str, expiry_type: ExpiryType | None = None) -> list[date]:
        """Option expiries of ``underlying``, ascending; only MONTHLY ones when asked.

        WEEKLY returns every listed expiry (a monthly is also the week's expiry).
        Raises ContractNotFoundError when the underlying has no options.
        """
        if underlying not in self._expiries:
            raise ContractNotFoundError(
                f"{underlying}: no options in the instrument master (listed: {', '.join(self.underlyings()[:12])}, ...)"
            )
        expiries = self._expiries[underlying]
        if expiry_type == ExpiryType.MONTHLY:
            return [e for e in expiries if e in self._monthly[underlying]]
        return list(expiries)

    def expiry_kind(self, underlying: str, expiry: date) -> ExpiryType:
        """MONTHLY when ``expiry`` is the last listed expiry of its month, else WEEKLY.

        Raises ContractNotFoundError when ``expiry`` is not listed for ``underlying``.
        """
        if expiry not in set(self.expiries(underlying)):
            raise ContractNotFoundError(f"{underlying}: expiry {expiry.isoformat()} not listed")
        return ExpiryType.MONTHLY if expiry in self._monthly[underlying] else ExpiryType.WEEKLY

    def strikes(self, underlying: str, expiry: date, option_type: OptionType | str) -> list[Decimal]:
        """Listed strikes (Decimal, ascending) of ``underlying`` ``expiry`` ``option_type``.

        Raises ContractNotFoundError when nothing is listed for that expiry/type.
        """
        option_type = OptionType(option_type)
        key = (underlying, expiry, option_type)
        cached = self._strike_cache.get(key)
        if cached is None:
            chain = self._options.get(key)
            if not chain:
                listed = ", ".join(e.isoformat() for e in self._expiries.get(underlying, [])[:8])
                raise ContractNotFoundError(
                    f"{underlying} {option_type.value}: no strikes for expiry {expiry.isoformat()} (listed expiries: {listed or 'none'})"
                )
            cached = self._strike_cache[key] = sorted(chain)
        return list(cached)

    def contract(self, underlying: str, expiry: date, strike: Decimal | int | str, option_type: OptionType | str) -> Contract:
        """The option contract for the canonical key.

        Raises:
            ContractNotFoundError: naming the underlying/expiry/strike/type not found and the
                nearest listed strikes.
        """
        option_type = OptionType(option_type)
        strike = _canon(Decimal(str(strike)))
        chain = self._options.get((underlying, expiry, option_type))
        if not chain:
            self.strikes(underlying, expiry, option_type)  # raises with the listed expiries
        found = chain.get(strike)
        if found is not None:
            return self._build(found)
        strikes = self.strikes(underlying, expiry, option_type)
        nearest = sorted(strikes, key=lambda s: abs(s - strike))[:2]
        raise ContractNotFoundError(
            f"{underlying} {expiry.isoformat()} {_fmt_strike(strike)} {option_type.value}: strike not listed "
            f"(nearest listed: {', '.join(_fmt_strike(s) for s in sorted(nearest))})"
        )

    def future(self, underlying: str, expiry: date) -> Contract:
        """The future of ``underlying`` expiring on ``expiry``. Raises ContractNotFoundError."""
        found = self._futures.get((underlying, expiry))
        if found is None:
            listed = sorted(e for (u, e) in self._futures if u == underlying)
            raise ContractNotFoundError(
                f"{underlying}: no future expiring {expiry.isoformat()} (listed: {', '.join(e.isoformat() for e in listed) or 'none'})"
            )
        return self._build(found)

    def futures(self, underlying: str) -> list[Contract]:
        """All futures of ``underlying``, nearest expiry first."""
        return sorted((self._build(c) for (u, _), c in self._futures.items() if u == underlying), key=lambda c: c.expiry)

    def by_token(self, instrument_token: int) -> Contract:
        """The contract with Kite ``instrument_token``. Raises ContractNotFoundError."""
        if self._by_token is None:
            self._by_token = {self._build(e).instrument_token: e for e in self._all}
        try:
            return self._build(self._by_token[int(instrument_token)])
        except (KeyError, ValueError):
            raise ContractNotFoundError(f"instrument_token {instrument_token} not in the master") from None

    def by_symbol(self, exchange: str, tradingsymbol: str) -> Contract:
        """The contract with Kite ``exchange``/``tradingsymbol``. Raises ContractNotFoundError."""
        if self._by_symbol is None:
            self._by_symbol = {(c.exchange.value, c.tradingsymbol): e for e in self._all for c in (self._build(e),)}
        try:
            return self._build(self._by_symbol[(str(exchange), tradingsymbol)])
        except KeyError:
            raise ContractNotFoundError(f"{exchange}:{tradingsymbol} not in the master") from None

    def option_contracts(self, underlying: str, expiry: date) -> list[Contract]:
        """Every CE and PE of one expiry (for chain building)."""
        result: list[Contract] = []
        for option_type in OptionType:
            result.extend(self._build(e) for e in self._options.get((underlying, expiry, option_type), {}).values())
        return result


# ---------------------------------------------------------------------- underlyings
@dataclass(frozen=True)
class UnderlyingInfo:
    """Where an index's options trade and how each broker quotes its spot.

    ``kite_quote_key`` e.g. ``NSE:NIFTY 50``; tokens are None where not confirmed (see the
    ``sources`` block of ``config/market/underlyings.json``).
    """

    underlying: str
    options_exchange: Exchange
    spot_exchange: Exchange
    kite_quote_key: str
    kite_token: int | None
    angel_token: str | None
    angel_symbol: str | None
    noren_token: str | None
    noren_symbol: str | None
    weekly_listed_from: date | None
    weekly_listed_until: date | None


def load_underlyings(path: Path | str = UNDERLYINGS_FILE) -> dict[str, UnderlyingInfo]:
    """Read ``config/market/underlyings.json`` -> {underlying: UnderlyingInfo}.

    Raises MarketError when the file is missing or malformed.
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        result = {}
        for e in doc["underlyings"]:
            weekly = e.get("weekly_options", {})
            result[e["underlying"]] = UnderlyingInfo(
                underlying=e["underlying"],
                options_exchange=Exchange(e["options_exchange"]),
                spot_exchange=Exchange(e["spot_exchange"]),
                kite_quote_key=e["kite"]["quote_key"],
                kite_token=e["kite"].get("instrument_token"),
                angel_token=e["angel"].get("token"),
                angel_symbol=e["angel"].get("symbol"),
                noren_token=e["noren"].get("token"),
                noren_symbol=e["noren"].get("tsym"),
                weekly_listed_from=date.fromisoformat(weekly["listed_from"]) if weekly.get("listed_from") else None,
                weekly_listed_until=date.fromisoformat(weekly["listed_until"]) if weekly.get("listed_until") else None,
            )
        return result
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise MarketError(f"cannot read underlyings file {path}: {exc}") from exc


# ---------------------------------------------------------------------- broker symbols
@dataclass(frozen=True)
class BrokerInstrument:
    """A contract as one broker names it: ``exchange`` (NFO/BFO), ``symbol`` (the broker's
    tradingsymbol) and ``token`` (the broker's instrument id; None when only constructed)."""

    broker: BrokerName
    exchange: str
    symbol: str
    token: str | None


def _ddmmmyy(day: date) -> str:
    return f"{day.day:02d}{_MONTHS[day.month - 1]}{day.year % 100:02d}"


class BrokerSymbolMaster:
    """A broker's own symbols/tokens keyed by (underlying, expiry, strike, option type).

    Build with :func:`load_angel_scrip_master` or :meth:`from_entries`.
    ``index_tokens``: {underlying name: token} for spot quotes (Angel ``AMXIDX`` rows).
    """

    def __init__(self, broker: BrokerName, entries: Mapping[tuple[str, str, date, Decimal, OptionType | None], BrokerInstrument],
                 index_tokens: Mapping[str, str] | None = None) -> None:
        self.broker = broker
        self._entries = dict(entries)
        self.index_tokens = dict(index_tokens or {})

    @classmethod
    def from_entries(cls, broker: BrokerName, rows: Iterable[Mapping[str, Any]]) -> "BrokerSymbolMaster":
        """Rows ``{exchange, underlying, expiry (date or ISO), strike, option_type (CE/PE/None),
        symbol, token}`` -> master. Raises MarketError on a malformed row."""
        entries = {}
        for row in rows:
            try:
                expiry = row["expiry"] if isinstance(row["expiry"], date) else date.fromisoformat(str(row["expiry"]))
                option_type = OptionType(row["option_type"]) if row.get("option_type") else None
                strike = _canon(Decimal(str(row.get("strike") or 0))) if option_type else Decimal(0)
                key = (str(row["exchange"]), row["underlying"], expiry, strike, option_type)
                entries[key] = BrokerInstrument(broker, str(row["exchange"]), row["symbol"], str(row["token"]))
            except (KeyError, ValueError, ArithmeticError) as exc:
                raise MarketError(f"{broker.value} symbol row {row!r}: {exc}") from exc
        return cls(broker, entries)

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, contract: Contract) -> BrokerInstrument:
        """The broker's instrument for ``contract``. Raises BrokerSymbolError naming the key."""
        strike = contract.strike if contract.option_type else Decimal(0)
        key = (contract.exchange.value, contract.underlying, contract.expiry, strike, contract.option_type)
        try:
            return self._entries[key]
        except KeyError:
            kind = contract.option_type.value if contract.option_type else "FUT"
            raise BrokerSymbolError(
                f"{self.broker.value}: {contract.exchange.value} {contract.underlying} {contract.expiry.isoformat()} "
                f"{_fmt_strike(contract.strike)} {kind} not in the broker's scrip master"
            ) from None


def broker_symbol(contract: Contract, broker: BrokerName | str, master: BrokerSymbolMaster | None = None) -> BrokerInstrument:
    """Map a canonical contract to ``broker``'s symbol and token.

    - zerodha / paper: the Kite dump's tradingsymbol and instrument_token.
    - angel: from ``master`` (Angel scrip master, gives the token) when given; otherwise the
      constructed NFO symbol (:func:`angel_option_symbol`) with ``token=None``.
    - finvasia / zebu (Noren): from ``master`` when given; otherwise the constructed NFO
      tradingsymbol (:func:`noren_symbol`) with ``token=None``.

    Raises:
        BrokerSymbolError: the master lacks the contract, or a BFO contract is asked for Angel
            or Noren without a master (their BFO formats are not confirmed), or an unknown broker.
    """
    try:
        broker = BrokerName(broker)
    except ValueError:
        raise BrokerSymbolError(f"unknown broker {broker!r}") from None
    if broker in (BrokerName.ZERODHA, BrokerName.PAPER):
        return BrokerInstrument(broker, contract.exchange.value, contract.tradingsymbol, str(contract.instrument_token))
    if master is not None:
        if master.broker != broker and not ({master.broker, broker} <= {BrokerName.FINVASIA, BrokerName.ZEBU}):
            raise BrokerSymbolError(f"a {master.broker.value} master cannot map symbols for {broker.value}")
        found = master.lookup(contract)
        return BrokerInstrument(broker, found.exchange, found.symbol, found.token)
    if contract.exchange != Exchange.NFO:
        raise BrokerSymbolError(
            f"{broker.value}: {contract.exchange.value} symbol for {contract.tradingsymbol} needs the broker's scrip master "
            "(its BFO symbol format is not confirmed); load it and pass master="
        )
    if broker == BrokerName.ANGEL:
        from shared_utils.brokers.angel.symbols import angel_option_symbol

        return BrokerInstrument(broker, "NFO", angel_option_symbol(contract), None)
    if broker in (BrokerName.FINVASIA, BrokerName.ZEBU):
        from shared_utils.brokers.noren.symbols import noren_symbol

        return BrokerInstrument(broker, "NFO", noren_symbol(contract), None)
    raise BrokerSymbolError(f"no symbol mapping for broker {broker.value}")


def __getattr__(name: str) -> Any:
    """Thin re-exports of the broker formats that moved into the adapters' folders (imported
    lazily: the market layer never loads a broker package it does not need)."""
    import importlib

    if name in ("angel_option_symbol", "load_angel_scrip_master"):
        return getattr(importlib.import_module("shared_utils.brokers.angel.symbols"), name)
    if name == "noren_symbol":
        return importlib.import_module("shared_utils.brokers.noren.symbols").noren_symbol
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
