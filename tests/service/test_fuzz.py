"""Property-based fuzzing of the OpenAPI spec (schemathesis) against the real `bentoml serve`.

For every operation in the served spec, schemathesis generates requests that fit the schema
(positive) and requests that break it (negative: wrong types, missing fields, extra fields, out of
range values); the service must answer each with a 2xx or a 4xx carrying a JSON error, never a 5xx,
and still be alive at the end. Bounded (FUZZ_EXAMPLES per operation and mode) to keep the suite
fast; raise PAYRISK_FUZZ_EXAMPLES for a longer hunt.
"""

from __future__ import annotations

import os

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.conftest import AUTH

pytestmark = pytest.mark.slow  # starts processes, clusters or browsers: make test-fast skips it

FUZZ_EXAMPLES = int(os.environ.get("PAYRISK_FUZZ_EXAMPLES", "40"))


@pytest.fixture(scope="module")
def api_schema(server):
    return schemathesis.openapi.from_url(f"{server}/docs.json", headers=AUTH, timeout=30)


def operations(api_schema) -> list:
    found = [result.ok() for result in api_schema.get_all_operations()]
    assert found, "the served spec has no operations"
    return found


def fuzz(server: str, operation, mode: GenerationMode, seen: dict[str, set[int]]) -> None:
    """Send FUZZ_EXAMPLES generated requests for one operation; fail on any server error."""
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case) -> None:
        response = case.call(base_url=server, headers=AUTH, timeout=60)
        seen.setdefault(label, set()).add(response.status_code)
        assert response.status_code < 500, (
            f"{label} answered {response.status_code}: {response.text[:500]}"
        )
        if response.status_code >= 400:
            media = response.headers.get("content-type") or [""]
            media = media[0] if isinstance(media, list) else media
            assert media.startswith("application/json"), (label, media)
            assert response.json()["error"]

    try:
        check()
    except Unsatisfiable:
        # An operation without any input (a probe, /metrics) has nothing to break.
        assert mode is GenerationMode.NEGATIVE, label
        seen.setdefault(label, set())


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_request_gets_a_server_error(server, api_schema, mode):
    seen: dict[str, set[int]] = {}
    paths = set()
    for operation in operations(api_schema):
        paths.add(operation.path)
        fuzz(server, operation, mode, seen)
    assert {"/v1/score", "/v1/customer", "/v1/credit-review", "/v1/status"} <= paths
    if mode is GenerationMode.NEGATIVE:  # broken requests were actually refused, not ignored
        assert any(400 in codes for codes in seen.values()), seen
    else:
        assert 200 in seen["POST /v1/status"], seen
    assert httpx.post(f"{server}/v1/status", headers=AUTH, timeout=30).json()["ready"] is True
