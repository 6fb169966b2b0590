"""The auth-broker fixtures (moto, fakes, frozen clock, ``api``) for the egress tests."""

from tests.functional.auth_broker.conftest import angel, api, clock, kite, no_internet, noren, sm, vault  # noqa: F401
