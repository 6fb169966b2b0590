"""The market API over the engine's own context: moto tables, the 2026-08-18 instrument extract,
the calendar and the seeded simulator, at Monday 17 Aug 2026 09:28:05 IST (engine fixture)."""

import pytest

from tests.functional.engine.conftest import engine, seed_strategy  # noqa: F401 - fixtures


@pytest.fixture
def market_api(api, engine):  # noqa: F811
    """``api`` with the engine's context as the API's market context (what the local platform does)."""
    from shared_utils.services import market_status

    market_status.set_api_context(engine)
    api.engine = engine
    yield api
    market_status.set_api_context(None)
