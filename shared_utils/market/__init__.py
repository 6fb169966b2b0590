"""The Indian market model (issue 4): pure Python, no AWS and no broker SDK imports.

Modules (import them directly; this package imports nothing so that the calendar stays cheap
for callers that do not need SciPy):

- ``calendar``: :class:`TradingCalendar` (NSE/BSE holidays and special sessions as sourced
  data in ``config/market/calendar/``, operator overrides), :func:`default_calendar`.
- ``instruments``: :class:`InstrumentMaster` over Kite's instruments dump, :class:`Contract`,
  :func:`broker_symbol` (Kite, Angel One, Noren) and :func:`load_angel_scrip_master`.
- ``expiry``: :func:`resolve_expiry`, :func:`has_weeklies`, DTE helpers.
- ``strikes``: :class:`OptionChain`, :class:`OptionQuote`, :func:`choose_strike` (every
  ``EntryBy`` method), :func:`atm_strike`.
- ``pricing``: Black-76 / Black-Scholes price, delta, :func:`implied_vol` (brentq),
  :func:`round_to_tick`.
- ``freeze``: :func:`freeze_quantity` (dated data), :func:`slice_quantity`.
- ``simulator``: :class:`MarketSimulator`, a seeded market for paper trading and the demo.
- ``errors``: :class:`MarketError` and its subclasses.
"""
