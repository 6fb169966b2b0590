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
STATUS = {
    "OPEN": OrderStatus.OPEN,
    "PENDING": OrderStatus.OPEN,
    "COMPLETE": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELLED,
    "REJECTED": OrderStatus.REJECTED,
    "TRIGGER_PENDING": OrderStatus.TRIGGER_PENDING,
}
HOSTS = {
    "finvasia": "https://api.shoonya.com/NorenWClientTP",
    "zebu": "https://go.mynt.in/NorenWClientAPI",
}
