from tests.functional.engine.conftest import engine, seed_strategy  # noqa: F401 - fixtures
