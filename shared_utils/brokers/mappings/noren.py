"""Noren OMS codes, shared by Finvasia Shoonya and Zebu (source: reference/broker-apis.md and
the brokers' published REST docs; the vendor SDK is not copied).
"""

from __future__ import annotations

from shared_utils.models.enums import Exchange, OrderStatus, OrderType, Product, TransactionType

PRODUCT = {Product.NRML: "M", Product.MIS: "I"}
ORDER_TYPE = {
    OrderType.MARKET: "MKT",
    OrderType.LIMIT: "LMT",
    OrderType.SL: "SL-LMT",
    OrderType.SL_M: "SL-MKT",
}
TRANSACTION_TYPE = {TransactionType.BUY: "B", TransactionType.SELL: "S"}
EXCHANGE = {Exchange.NFO: "NFO", Exchange.BFO: "BFO", Exchange.NSE: "NSE", Exchange.BSE: "BSE"}
RETENTION = {"DAY": "DAY", "IOC": "IOC"}
#: Keys are NORMALISED statuses (:func:`normalise_status`: upper case, ``_`` -> space), because
#: Noren is inconsistent: ``Open``/``OPEN``, ``REJECT``/``REJECTED``, ``CANCELED`` (one L),
#: ``TRIGGER_PENDING``. Sources: broker-samples/noren/order_states.json (Shoonya README 2024 list
#: and sample values; openalgo normaliser 2026-07-30, secondary).
STATUS = {
    "OPEN": OrderStatus.OPEN,
    "PENDING": OrderStatus.OPEN,
    "NEW": OrderStatus.OPEN,
    "REPLACED": OrderStatus.OPEN,
    "OPEN PENDING": OrderStatus.OPEN,
    "MODIFY PENDING": OrderStatus.OPEN,
    "CANCEL PENDING": OrderStatus.OPEN,
    "AFTER MARKET ORDER REQ RECEIVED": OrderStatus.OPEN,
    "COMPLETE": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELLED,
    "CANCELLED": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
    "REJECT": OrderStatus.REJECTED,
    "TRIGGER PENDING": OrderStatus.TRIGGER_PENDING,
}


def normalise_status(raw: str) -> str:
    """``"Trigger_Pending"`` -> ``"TRIGGER PENDING"`` (case and separator folded)."""
    return " ".join(raw.replace("_", " ").upper().split())


#: 2026 hosts: both brokers serve the OAuth-era API under ``/NorenWClientAPI`` (oauth_flow.json
#: step_4: Shoonya SECONDARY openalgo 2026-04-02; Zebu OFFICIAL myntapi 0.0.7); the pre-OAuth
#: Shoonya path ``/NorenWClientTP`` is retired with QuickAuth.
HOSTS = {
    "finvasia": "https://api.shoonya.com/NorenWClientAPI",
    "zebu": "https://go.mynt.in/NorenWClientAPI",
}
#: Browser authorize pages (oauth_flow.json step_1; Zebu OFFICIAL docs, Shoonya SECONDARY).
AUTHORIZE_URLS = {
    "finvasia": "https://api.shoonya.com/OAuthlogin/authorize/oauth",
    "zebu": "https://go.mynt.in/OAuthlogin/authorize/oauth",
}
#: Order types Shoonya refuses for API orders (api_order_type_restrictions.json, SECONDARY:
#: openalgo 1b5522915, 2026-04-06). The adapter never sends them, to either Noren broker.
REFUSED_FOR_API = frozenset({"MKT", "SL-MKT"})
#: Longest ``remarks`` the platform sends (the order tag is <= 20 characters everywhere).
REMARKS_MAX = 20
