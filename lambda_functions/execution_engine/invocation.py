"""Which engine context a state-machine handler uses for this invocation.

Deployed, every handler builds (once per container) the context of :mod:`shared_utils.execution.wiring`.
In-process, the ASL interpreter (:mod:`shared_utils.execution.asl_runner`) invokes the same
handlers for the local platform and the tests; it installs its context for the thread running
the Task (each Task runs on its own thread there, as each invocation has its own container
deployed), so the handler code path is the deployed one except for where the context comes from.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

_local = threading.local()


def installed_context() -> Any | None:
    """The context installed for the current thread, or None (deployed: build your own)."""
    return getattr(_local, "ctx", None)


@contextmanager
def use_context(ctx: Any) -> Iterator[None]:
    """Install ``ctx`` for the current thread for the duration of one invocation."""
    previous = getattr(_local, "ctx", None)
    _local.ctx = ctx
    try:
        yield
    finally:
        _local.ctx = previous
