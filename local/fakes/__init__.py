"""Protocol-faithful fake broker servers for tests and the local platform (127.0.0.1 only).

- :class:`local.fakes.kite.FakeKiteServer`     Zerodha Kite Connect v3
- :class:`local.fakes.smartapi.FakeSmartApiServer`  Angel One SmartAPI
- :class:`local.fakes.noren.FakeNorenServer`   Finvasia Shoonya / Zebu (Noren OMS)

All share :mod:`local.fakes.core`: an instrument table, an order engine (book, trades,
positions), fault injection (:class:`~local.fakes.core.Faults`) and a request log.
"""
