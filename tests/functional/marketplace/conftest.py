"""The engine fixtures (moto tables, the 2026-08-18 master, paper brokers at Mon 17 Aug 2026
09:28:05 IST) for the marketplace tests."""

from tests.functional.engine.conftest import engine  # noqa: F401
