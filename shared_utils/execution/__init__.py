"""The execution engine: the per-minute emitter, the state machine's steps (prepare, resolve,
place orders, finalize), the order state machine and position booking.

ARCHITECTURE.md "Execution: from the minute tick to the exact second". The steps are plain
functions over JSON-able state dicts, so the Express state machine (one Lambda per step) and
the local platform (the same steps in order, in one process) run the same code.
"""
