"""Issue 21 item 4: with the local platform's ``--at`` clock, ``updated_at`` follows the platform
clock like ``created_at`` (it took the wall clock: 2026-11-26 beside 2026-08-18)."""

from datetime import datetime

import pytest

from shared_utils.clock import IST, FixedClock, default_clock, parse_instant, set_default_clock
from tests.functional.api.journey import run_journey

AT = datetime(2026, 8, 18, 10, 0, tzinfo=IST)


@pytest.fixture
def platform_clock():
    previous = default_clock()
    set_default_clock(FixedClock(AT))
    yield AT
    set_default_clock(previous)


def test_updates_take_the_platform_clock(api, platform_clock):
    basket_id, strategy_id = run_journey(api, link=api.link)
    status, basket = api("PUT", f"/options/baskets/{basket_id}", {"description": "edited"})
    assert status == 200, basket
    status, paused = api("POST", f"/options/strategies/{strategy_id}/pause")
    assert status == 200, paused
    for record in (basket, paused):
        assert record["version"] >= 2
        assert parse_instant(record["created_at"]) == AT
        assert parse_instant(record["updated_at"]) == AT, record["updated_at"]
    stored = api.repos.strategies.get("user-a", strategy_id)
    assert stored.updated_at == AT
