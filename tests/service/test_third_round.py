"""Issue 26's low findings that show through the service's ASGI app (no server needed)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("amount", [0.01, 0.5, 12_345.67])
def test_an_approved_request_is_within_the_most_approvable(client, amount):
    """Before: a prospect asking 0.01 got "approve" with `max_approvable_amount` 0."""
    review = client.post(
        "/v1/credit-review",
        json={"customer_id": "PROSPECT-LOW", "requested_amount": amount, "language": "en"},
    ).json()
    assert review["recommendation"] in ("approve", "approve_with_conditions"), review
    assert review["max_approvable_amount"] >= amount
