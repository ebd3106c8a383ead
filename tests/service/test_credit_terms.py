"""The terms a credit review asks of a likely late payer are never beyond the legal maximum
(issue 29's legal terms beside the review's shorter terms)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import project_catalog


@pytest.mark.parametrize("shorter", [90, 20])
def test_the_terms_asked_are_the_lower_of_the_shorter_terms_and_the_legal_maximum(
    trained, snapshot_file, shorter
):
    """Every customer a likely late payer (threshold 0.0001), 100-day terms asked, France's
    maximum (60 days, or 45 end of month: 61 on the sample's day; tests/data/test_legal_terms.py):
    shorter terms of 90 days ask for the legal maximum (not an unlawful 90), of 20 for 20."""
    from payrisk.data.terms import lawful_terms_days
    from payrisk.features.snapshot import load_history
    from payrisk.policy.config import load_dunning_config
    from payrisk.policy.credit import review_credit
    from payrisk.policy.planning import formats_of

    policy = load_dunning_config()
    rules = policy.credit_review.model_copy(
        update={
            "shorter_terms_days": shorter,
            "conditions_late_probability": 0.0001,
            # Nothing refers or declines: the approval with conditions shows its conditions.
            "refer_default_probability": 1.0,
            "decline_default_probability": 1.0,
            "refer_over_credit_limit": False,
        }
    )
    history, _ = load_history(snapshot_file)
    lawful = lawful_terms_days(pd.Timestamp(history.as_of), policy.legal_terms, None)
    assert 20 < lawful < 90
    expected = min(shorter, lawful)
    scorer = project_catalog(trained).load_scorer().scorer
    decision = review_credit(
        scorer, history, "C000001", 1000.0, 100, pd.Timestamp(history.as_of), rules,
        formats_of(policy, "en"), policy.legal_terms,
    )  # fmt: skip
    assert decision.recommendation == "approve_with_conditions", decision
    terms = [c for c in decision.conditions if "payment terms of at most" in c]
    assert terms == [f"payment terms of at most {expected} days"]
