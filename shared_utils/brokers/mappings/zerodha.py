"""Zerodha Kite Connect v3 codes (source: kiteconnect 5.2.2 ``connect.py`` constants and
https://kite.trade/docs/connect/v3/orders/ ; reference/broker-apis.md).

Order statuses: Kite reports ``OPEN`` with ``filled_quantity > 0`` for a partial fill; the
adapter derives PARTIALLY_FILLED from the quantities. Transient OMS statuses (``PUT ORDER REQ
RECEIVED``, ``VALIDATION PENDING``, ``OPEN PENDING``, ``MODIFY ...``, ``CANCEL PENDING``) mean the
broker has the order and it is working, so they map to OPEN.
"""

from __future__ import annotations

from shared_utils.models.enums import Exchange, OrderStatus, OrderType, Product, TransactionType

BROKER = "zerodha"
VARIETY_REGULAR = "regular"

PRODUCT = {Product.NRML: "NRML", Product.MIS: "MIS"}
ORDER_TYPE = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.SL: "SL",
    OrderType.SL_M: "SL-M",
}
TRANSACTION_TYPE = {TransactionType.BUY: "BUY", TransactionType.SELL: "SELL"}
EXCHANGE = {Exchange.NFO: "NFO", Exchange.BFO: "BFO", Exchange.NSE: "NSE", Exchange.BSE: "BSE"}
#: every platform order is a ``regular`` Kite order (no AMO/CO/iceberg)
VARIETY = {ot: VARIETY_REGULAR for ot in OrderType}
VALIDITY = {"DAY": "DAY", "IOC": "IOC"}
STATUS = {
    "OPEN": OrderStatus.OPEN,
    "COMPLETE": OrderStatus.FILLED,
    "CANCELLED": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
    "TRIGGER PENDING": OrderStatus.TRIGGER_PENDING,
    "PUT ORDER REQ RECEIVED": OrderStatus.OPEN,  # spelling of kiteconnect-mocks order_info.json
    "PUT ORDER REQUEST RECEIVED": OrderStatus.OPEN,  # spelling of the docs' status table
    "VALIDATION PENDING": OrderStatus.OPEN,
    "OPEN PENDING": OrderStatus.OPEN,
    "MODIFY VALIDATION PENDING": OrderStatus.OPEN,
    "MODIFY PENDING": OrderStatus.OPEN,
    "MODIFIED": OrderStatus.OPEN,
    "CANCEL PENDING": OrderStatus.OPEN,
    "AMO REQ RECEIVED": OrderStatus.OPEN,
}
#: ``market_protection`` sent on every MARKET order (and SL-M, which the platform never sends on
#: options): -1 = automatic protection "as per market protection guidelines" (pykiteconnect
#: MARKET_PROTECTION_AUTO, 98ead41 2026-03-27). Since 1 Apr 2026 0 or missing is rejected
#: (kite.trade forum 15912, staff, edited 2026-03-30). Source: broker-samples/kite/place_order_params.json.
MARKET_PROTECTION_AUTO = -1
#: Kite ``tag`` limit (indian-markets.md "Kite Connect ... Order tag up to 20 characters").
TAG_MAX = 20
