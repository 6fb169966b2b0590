"""Angel One SmartAPI codes (source: smartapi-python 1.5.5 README/``smartConnect.py`` and
https://smartapi.angelbroking.com/docs/Orders ; reference/broker-apis.md).

Stop-loss orders need variety ``STOPLOSS``; MARKET/LIMIT use ``NORMAL``. Order-book statuses
are lower case ("open", "complete", "trigger pending", ...).
"""

from __future__ import annotations

from shared_utils.models.enums import Exchange, OrderStatus, OrderType, Product, TransactionType

BROKER = "angel"

PRODUCT = {Product.NRML: "CARRYFORWARD", Product.MIS: "INTRADAY"}
ORDER_TYPE = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.SL: "STOPLOSS_LIMIT",
    OrderType.SL_M: "STOPLOSS_MARKET",
}
VARIETY = {
    OrderType.MARKET: "NORMAL",
    OrderType.LIMIT: "NORMAL",
    OrderType.SL: "STOPLOSS",
    OrderType.SL_M: "STOPLOSS",
}
TRANSACTION_TYPE = {TransactionType.BUY: "BUY", TransactionType.SELL: "SELL"}
EXCHANGE = {Exchange.NFO: "NFO", Exchange.BFO: "BFO", Exchange.NSE: "NSE", Exchange.BSE: "BSE"}
DURATION = {"DAY": "DAY", "IOC": "IOC"}
STATUS = {
    "open": OrderStatus.OPEN,
    "complete": OrderStatus.FILLED,
    "cancelled": OrderStatus.CANCELLED,
    "rejected": OrderStatus.REJECTED,
    "trigger pending": OrderStatus.TRIGGER_PENDING,
    "open pending": OrderStatus.OPEN,
    "validation pending": OrderStatus.OPEN,
    "put order req received": OrderStatus.OPEN,
    "modify pending": OrderStatus.OPEN,
    "modify validation pending": OrderStatus.OPEN,
    "modified": OrderStatus.OPEN,
    "cancel pending": OrderStatus.OPEN,
    "after market order req received": OrderStatus.OPEN,
}
#: error codes meaning "log in again" (AG8001 invalid token, AG8002 expired, AG8003 missing,
#: AB1010 session expired, AB1011 client not logged in)
SESSION_CODES = frozenset({"AG8001", "AG8002", "AG8003", "AB1010", "AB1011"})
ORDER_NOT_FOUND_CODES = frozenset({"AB1013"})
#: "Something went wrong, please try after sometime": the broker may or may not have acted
AMBIGUOUS_CODES = frozenset({"AB1004"})
