"""The engine fixtures of tests/functional/engine (moto tables, the 2026-08-18 master, a seeded
simulator, paper brokers, a fixed clock), reused for the runs through the synthesized ASL."""

from tests.functional.engine.conftest import engine, seed_strategy  # noqa: F401 - fixtures
