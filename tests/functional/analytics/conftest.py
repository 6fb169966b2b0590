"""The engine fixtures (moto tables, paper brokers, the seeded market) for the analytics tests."""

from tests.functional.engine.conftest import engine, seed_strategy  # noqa: F401
