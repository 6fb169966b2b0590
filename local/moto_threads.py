"""moto's DynamoDB backend, made safe for the threads of one process.

The local platform and the tests run the Map's PlaceOrders branches as threads against ONE
in-process moto backend. moto's ``transact_write_items`` deep-copies the table for its rollback
while another thread's ``put_item`` changes it, and fails with "dictionary changed size during
iteration": a branch dies for a reason DynamoDB itself never has (it serialises per item). This
module serialises the backend's public operations with one re-entrant lock, so what the engine
sees is DynamoDB's behaviour, not moto's thread-safety. Never imported by Lambda code.
"""

from __future__ import annotations

import functools
import threading

_LOCK = threading.RLock()
_MARK = "_ql_thread_safe"


def make_dynamodb_thread_safe() -> None:
    """Wrap every public method of moto's ``DynamoDBBackend`` with one process-wide lock
    (idempotent: a second call changes nothing)."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, _MARK, False):
        return
    for name, method in list(vars(DynamoDBBackend).items()):
        if name.startswith("_") or not callable(method) or isinstance(method, (staticmethod, classmethod, type)):
            continue

        def locked(*args, __method=method, **kwargs):
            with _LOCK:
                return __method(*args, **kwargs)

        setattr(DynamoDBBackend, name, functools.wraps(method)(locked))
    setattr(DynamoDBBackend, _MARK, True)
