"""Fuzzing the API from its own OpenAPI schema (schemathesis): whatever arrives, never a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.server import Server

pytestmark = pytest.mark.fuzz

EXAMPLES = 25  # per operation; bounded so that CI stays fast


@pytest.fixture(scope="session")
def api_schema(app_server: Server) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(app_server.base_url + "/schema/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_server_fail(case: schemathesis.Case, app_server: Server) -> None:
    case.call_and_validate(
        base_url=app_server.base_url,
        checks=[not_a_server_error],
        headers={"X-Forwarded-For": "10.251.0.1"},
        timeout=30,
    )
