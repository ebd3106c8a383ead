"""The OpenAPI spec a dunning system integrates from: versioned, ours, with the key scheme, every
error it can get and the allowed values as enums; refusals of unknown paths as JSON."""

from __future__ import annotations

import pytest

from payrisk import __version__
from payrisk.data.contract import CHANNELS
from payrisk.policy.config import ACTORS, load_dunning_config
from payrisk.policy.credit import RECOMMENDATIONS
from payrisk.policy.dunning import ACTIONS

API = ("/v1/score", "/v1/customer", "/v1/credit-review", "/v1/status", "/v1/worklist")


@pytest.fixture(scope="module")
def spec(client) -> dict:
    response = client.get("/docs.json")
    assert response.status_code == 200
    return response.json()


def enum_of(field: dict) -> list:
    """The enum of a field, through an Optional's anyOf."""
    if "enum" in field:
        return field["enum"]
    return next(part["enum"] for part in field.get("anyOf", []) if "enum" in part)


def test_the_spec_says_what_payrisk_is_in_its_own_words(spec):
    assert spec["info"]["version"] == __version__ != "None"
    description = spec["info"]["description"]
    assert "BentoML" not in description and "Slack" not in description
    assert "X-API-Key" in description and "late payment" in description
    assert "contact" not in spec["info"]


def test_the_api_key_scheme_is_declared_and_probes_are_open(spec, client):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["Bearer"]["scheme"] == "bearer"
    assert {"ApiKey": []} in spec["security"]
    for probe in ("/livez", "/readyz", "/healthz"):
        assert spec["paths"][probe]["get"]["security"] == []
    # What the spec says is what the service does: the API refuses a call without the key.
    anonymous = client.post("/v1/status", headers={"X-API-Key": ""})
    assert anonymous.status_code == 401


def test_every_error_the_api_answers_is_declared_with_its_json_body(spec):
    schemas = spec["components"]["schemas"]
    assert schemas["Error"]["required"] == ["error"]
    assert "detail" in schemas["ValidationError"]["properties"]
    for path in API:
        responses = spec["paths"][path]["post"]["responses"]
        for code in ("200", "400", "401", "405", "413", "415", "422", "429", "503"):
            assert code in responses, (path, code)
        for code in ("401", "413", "415", "422", "429", "503"):
            ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
            assert ref == "#/components/schemas/Error"
        assert responses["400"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ValidationError"
        )
        assert "404" not in responses  # BentoML's generic one, never answered by a route


def test_allowed_values_are_enums(spec):
    schemas = spec["components"]["schemas"]
    assert "ScoreRequestIODescriptor" not in schemas and "ScoreRequest" in schemas
    action = schemas["NextAction"]["properties"]
    assert enum_of(action["action"]) == list(ACTIONS)
    assert enum_of(action["channel"]) == list(CHANNELS)
    assert enum_of(action["actor"]) == list(ACTORS)
    review = schemas["CreditReviewResponse"]["properties"]
    assert enum_of(review["recommendation"]) == list(RECOMMENDATIONS)
    scenarios = list(load_dunning_config().scenarios)
    for name in ("InvoiceScore", "CustomerPlan", "WorklistItem"):
        assert enum_of(schemas[name]["properties"]["scenario"]) == scenarios
    assert enum_of(schemas["Reason"]["properties"]["direction"]) == ["raises", "lowers"]
    assert enum_of(schemas["ScoreRequest"]["properties"]["language"]) == ["en", "fr"]
    worklist = schemas["WorklistRequest"]["properties"]
    assert enum_of(worklist["actor"]) == list(ACTORS)


def test_unknown_paths_and_wrong_methods_are_refused_in_json(client):
    missing = client.get("/v2/score")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/json"
    assert "/v2/score" in missing.json()["error"]
    wrong = client.get("/v1/score")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert "use POST" in wrong.json()["error"]
