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
#: AB1010 session expired, AB1011 client not logged in). NOT AB8050/AB8051: those are about the
#: REFRESH token (invalid / expired refresh token): the JWT may still work, and the answer to
#: them is a fresh MPIN+TOTP login from ``refresh()``, never an engine-wide "session expired".
SESSION_CODES = frozenset({"AG8001", "AG8002", "AG8003", "AB1010", "AB1011"})
REFRESH_TOKEN_CODES = frozenset({"AB8050", "AB8051"})
ORDER_NOT_FOUND_CODES = frozenset({"AB1013"})
#: Codes that mean Angel REFUSED the request (nothing was placed), with their meaning as given in
#: issue 15 / the SmartAPI forum (the official code table could not be read: smartapi/SOURCES.md
#: "Not found"): AB1007 login id or password invalid (docs introduction), AB1008 invalid order
#: variety, AB1009 symbol not found, AB1012 invalid product type, AB4008 ordertag length
#: exceeded, AB1050 invalid TOTP (user report).
REJECT_CODES = {
    "AB1007": "login id or MPIN invalid",
    "AB1008": "invalid order variety",
    "AB1009": "symbol not found",
    "AB1012": "invalid product type",
    "AB4008": "ordertag length exceeded",
    "AB1050": "invalid TOTP",
}
#: Everything else in a ``status: false`` body of an ORDER-CHANGING call, including AB2001
#: "internal error" and AB1004 "something went wrong", arrives with HTTP 200 and does not say
#: whether the order was placed: OutcomeUnknown -> reconcile by tag (never re-send).
AMBIGUOUS_CODES = frozenset({"AB1004", "AB2001"})
#: SmartAPI's plain-text (not JSON) throttle answer, user-reported with HTTP 403
#: (broker-samples/smartapi/rate_limits.json ``rate_limited_answer``).
RATE_LIMIT_TEXT = "access denied because of exceeding access rate"
#: The login "password" is the 4-digit MPIN (smartapi/SOURCES.md: README "Your pin"; admin
#: "the new login process will be MPIN based").
MPIN_PATTERN = r"^[0-9]{4}$"
