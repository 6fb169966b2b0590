"""The protocol fakes wired to the platform's market: instrument tables and price sources from
the instrument master and the simulator, and the broker-side symbol masters the fakes need.

Angel One and Noren speak their OWN symbols and tokens. Offline there is no Angel scrip master
for NFO options (shared/data holds only index rows), so for the fakes this module builds one:
Angel's documented symbol format with SYNTHETIC tokens ("8" + the Kite instrument token). They
exist only between the platform and its fakes; a real deployment loads the broker's master.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable

from shared_utils.brokers import BrokerCredentials, BrokerSession, create_broker_client
from shared_utils.market.instruments import BrokerSymbolMaster, Contract, InstrumentMaster, broker_symbol
from shared_utils.models.enums import BrokerName


def contracts_for(master: InstrumentMaster, underlyings: list[str], expiries_per_underlying: int = 2) -> list[Contract]:
    out: list[Contract] = []
    for underlying in underlyings:
        for expiry in master.expiries(underlying)[:expiries_per_underlying]:
            out.extend(master.option_contracts(underlying, expiry))
    return out


def synthetic_master(broker: BrokerName, contracts: list[Contract]) -> BrokerSymbolMaster:
    """A broker symbol master for the fakes: the broker's symbol format, synthetic tokens."""
    rows = []
    for c in contracts:
        symbol = broker_symbol(c, broker).symbol
        rows.append({"exchange": c.exchange.value, "underlying": c.underlying, "expiry": c.expiry,
                     "strike": c.strike, "option_type": c.option_type.value if c.option_type else None,
                     "symbol": symbol, "token": f"8{c.instrument_token}"})
    return BrokerSymbolMaster.from_entries(broker, rows)


class FakeBrokers:
    """Kite, SmartAPI and Noren fakes on 127.0.0.1 priced by ``ltp(contract)``; ``clients``
    gives a real SDK-backed client per broker account."""

    def __init__(self, master: InstrumentMaster, ltp: Callable[[Contract], Decimal], underlyings: list[str],
                 exchange_latency_s: float | None = None) -> None:
        """``exchange_latency_s``: seconds from a fake accepting an order to the order being at the
        exchange (``local.fakes.core``; None = ``DEFAULT_EXCHANGE_LATENCY_S``, 0 = synchronous)."""
        from local.fakes.core import DEFAULT_EXCHANGE_LATENCY_S
        from local.fakes.kite import FakeKiteServer
        from local.fakes.noren import FakeNorenServer
        from local.fakes.smartapi import FakeSmartApiServer

        latency = DEFAULT_EXCHANGE_LATENCY_S if exchange_latency_s is None else exchange_latency_s
        contracts = contracts_for(master, underlyings)
        self.symbol_masters: dict[str, BrokerSymbolMaster] = {
            BrokerName.ANGEL.value: synthetic_master(BrokerName.ANGEL, [c for c in contracts if c.exchange.value == "NFO"]),
            BrokerName.FINVASIA.value: synthetic_master(BrokerName.FINVASIA, [c for c in contracts if c.exchange.value == "NFO"]),
        }
        self.symbol_masters[BrokerName.ZEBU.value] = self.symbol_masters[BrokerName.FINVASIA.value]
        by_symbol: dict[str, Contract] = {c.tradingsymbol: c for c in contracts}
        kite_rows = [(c.exchange.value, c.tradingsymbol, str(c.instrument_token), c.lot_size, str(c.tick_size)) for c in contracts]
        angel_rows, noren_rows = [], []
        for c in contracts:
            if c.exchange.value != "NFO":
                continue
            a = self.symbol_masters["angel"].lookup(c)
            n = self.symbol_masters["finvasia"].lookup(c)
            by_symbol[a.symbol] = c
            by_symbol[n.symbol] = c
            angel_rows.append((c.exchange.value, a.symbol, a.token, c.lot_size, str(c.tick_size)))
            noren_rows.append((c.exchange.value, n.symbol, n.token, c.lot_size, str(c.tick_size)))

        def price(exchange: Any, symbol: str) -> Decimal:
            return ltp(by_symbol[symbol])

        self.kite = FakeKiteServer(kite_rows, api_key="kite_key", api_secret="kite_secret", price_source=price,
                                   exchange_latency_s=latency).start()
        self.totp_secret = "JBSWY3DPEHPK3PXP"
        self.angel = FakeSmartApiServer(angel_rows, api_key="angel_key", client_code="A1", password="1234",
                                        totp_secret=self.totp_secret, price_source=price,
                                        exchange_latency_s=latency).start()
        self.noren = FakeNorenServer(noren_rows, price_source=price, exchange_latency_s=latency).start()

    def client(self, broker: str, account_id: str):
        """A real adapter (kiteconnect / smartapi-python / Noren over requests) on its fake."""
        if broker == "zerodha":
            return create_broker_client("zerodha", BrokerCredentials(api_key="kite_key", api_secret="kite_secret"),
                                        BrokerSession(access_token=self.kite.access_token), root=self.kite.url,
                                        account_id=account_id, timeout=3.0)
        if broker == "angel":
            return create_broker_client("angel", BrokerCredentials(api_key="angel_key", client_code="A1", password="1234",
                                                                   totp_secret=self.totp_secret),
                                        BrokerSession(access_token=self.angel.jwt, refresh_token=self.angel.refresh_token),
                                        root=self.angel.url, account_id=account_id, timeout=3.0)
        if broker in ("finvasia", "zebu"):
            return create_broker_client(broker, BrokerCredentials(user_id=self.noren.uid, api_key=self.noren.client_id,
                                                                  api_secret=self.noren.secret_key),
                                        BrokerSession(access_token=self.noren.access_token, user_id=self.noren.uid),
                                        root=self.noren.url, account_id=account_id, timeout=3.0)
        raise ValueError(f"no fake for broker {broker}")

    def stop(self) -> None:
        for server in (self.kite, self.angel, self.noren):
            server.stop()
