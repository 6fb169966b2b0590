"""Exceptions of the market model. Every message names what was asked for and what is missing.

All derive from :class:`MarketError` (a ``ValueError``), so a caller that only wants to turn
"the market cannot do that" into a 4xx/SKIPPED reason can catch one class.
"""

from __future__ import annotations


class MarketError(ValueError):
    """Base class: a market rule or the market data cannot satisfy the request."""


class CalendarError(MarketError):
    """Calendar data is malformed, or a date is outside the data the calendar holds."""


class ContractNotFoundError(MarketError, LookupError):
    """No listed contract matches (underlying, expiry, strike, option type) in the master."""


class ExpiryNotFoundError(MarketError, LookupError):
    """No expiry of the requested type/offset exists on or after the trade date."""


class NoWeeklyExpiryError(ExpiryNotFoundError):
    """A WEEKLY expiry was requested for an index that lists no weekly options.

    Source: SEBI circular SEBI/HO/MRD/TPD-1/P/CIR/2024/132 (1 Oct 2024), in force from
    20 Nov 2024: one weekly index per exchange (NSE: NIFTY, BSE: SENSEX).
    """


class StrikeSelectionError(MarketError):
    """A strike rule cannot be executed: a missing value, no qualifying strike, no quotes."""


class PricingError(MarketError):
    """Bad pricing inputs (non-positive spot/strike/time) or no implied volatility solves."""


class BrokerSymbolError(MarketError, LookupError):
    """A canonical contract cannot be mapped to a broker's symbol/token."""


class QuantityError(MarketError):
    """An order quantity that is not a positive multiple of the lot size, or a bad freeze limit."""
