"""Shared test fixtures: fake AWS credentials (nothing may reach AWS), moto-backed tables built
from the same definitions the CDK stack uses, and the seed's fixtures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures" / "seed_journey_1"

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SECURITY_TOKEN", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "ap-south-1")
os.environ.setdefault("AWS_REGION", "ap-south-1")
os.environ.setdefault("QL_ENV", "local")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "QlAlgoTradingTest")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "tests")


def seed_request(name: str) -> dict:
    """One of the seed journey's requests, verbatim: {"method", "path", "body"}."""
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def env_config():
    from shared_utils.config import load_environment

    return load_environment("local")


@pytest.fixture
def aws():
    """An in-process moto mock of every AWS service for the duration of one test."""
    from moto import mock_aws

    from local.moto_threads import make_dynamodb_thread_safe
    from shared_utils.persistence.table import reset_clients

    make_dynamodb_thread_safe()  # the Map's branches are threads against one moto backend
    reset_clients()
    with mock_aws():
        yield
    reset_clients()


@pytest.fixture
def repos(aws, env_config):
    """Repositories over freshly created tables (single table + broker accounts)."""
    import boto3

    from shared_utils.persistence.repositories import Repositories
    from shared_utils.persistence.table_schema import broker_accounts_create_table_kwargs, create_table_kwargs

    client = boto3.client("dynamodb", region_name="ap-south-1")
    client.create_table(**create_table_kwargs(env_config.table_name))
    client.create_table(**broker_accounts_create_table_kwargs(env_config.broker_accounts_table_name))
    return Repositories.for_environment(env_config, client)
