"""Late-payment penalties to the cent: exact days, leap years, partial payments, the indemnity."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from payrisk.policy.config import PenaltyRules, load_dunning_config
from payrisk.policy.penalties import penalty_arrays, round_cents, year_fractions
from tests.helpers import interest_by_hand

EPOCH = date(1970, 1, 1)


def day(text: str) -> int:
    return (date.fromisoformat(text) - EPOCH).days


def by_hand(amount: str, rate: str, due: str, on: str) -> Decimal:
    """Interest summed day by day in decimals: each day after due, 1/365 or 1/366 of the rate."""
    return interest_by_hand(amount, rate, date.fromisoformat(due), date.fromisoformat(on))


@pytest.mark.parametrize(
    ("amount", "due", "on"),
    [
        ("1000.00", "2023-01-31", "2023-03-02"),  # 30 days, common year
        ("1000.00", "2024-01-31", "2024-03-01"),  # 30 days across 29 February
        ("12345.67", "2023-12-15", "2024-01-20"),  # across a new year into a leap year
        ("250.00", "2024-12-20", "2025-02-10"),  # out of a leap year
        ("99.99", "2000-02-27", "2000-03-01"),  # 2000 is a leap year (divisible by 400)
        ("99.99", "2100-02-27", "2100-03-01"),  # 2100 is not
        ("5000.00", "2026-10-31", "2026-11-01"),  # one day
    ],
)
def test_interest_matches_the_day_by_day_sum_to_the_cent(amount, due, on):
    rules = PenaltyRules(annual_rate=0.0828, indemnity=40.0)
    owed = penalty_arrays(
        np.array([float(amount)]), np.array([day(due)]), np.array([day(on)]), rules
    )
    assert owed["penalty_interest"][0] == float(by_hand(amount, "0.0828", due, on))
    assert owed["penalty_days"][0] == day(on) - day(due)
    assert owed["penalty_indemnity"][0] == 40.0
    assert owed["penalty_total"][0] == float(by_hand(amount, "0.0828", due, on) + 40)


def test_a_leap_day_counts_one_366th():
    across = year_fractions(np.array([day("2024-02-28")]), np.array([day("2024-03-01")]))[0]
    assert across == pytest.approx(2 / 366)
    whole = year_fractions(np.array([day("2023-12-31")]), np.array([day("2024-12-31")]))[0]
    assert whole == pytest.approx(1.0)
    common = year_fractions(np.array([day("2022-12-31")]), np.array([day("2023-12-31")]))[0]
    assert common == pytest.approx(1.0)


def test_interest_runs_on_the_open_amount_after_partial_payments():
    """10,000 invoiced, 6,000 paid: interest on the 4,000 left, the indemnity unchanged."""
    rules = PenaltyRules(annual_rate=0.10, indemnity=40.0)
    owed = penalty_arrays(
        np.array([10_000.0, 4_000.0]),
        np.array([day("2025-03-31")] * 2),
        np.array([day("2025-05-30")] * 2),
        rules,
    )
    assert owed["penalty_interest"].tolist() == [
        float(by_hand("10000", "0.10", "2025-03-31", "2025-05-30")),
        float(by_hand("4000", "0.10", "2025-03-31", "2025-05-30")),
    ]
    assert owed["penalty_interest"][1] == 65.75  # 4000 x 10% x 60 / 365 = 65.753...
    assert owed["penalty_indemnity"].tolist() == [40.0, 40.0]


def test_nothing_is_owed_on_or_before_the_due_date():
    rules = PenaltyRules()
    owed = penalty_arrays(
        np.array([500.0, 500.0]), np.array([day("2026-05-10")] * 2),
        np.array([day("2026-05-10"), day("2026-05-01")]), rules,
    )  # fmt: skip
    assert owed["penalty_total"].tolist() == [0.0, 0.0]
    assert owed["penalty_days"].tolist() == [0, 0]
    assert owed["penalty_interest"].tolist() == [0.0, 0.0]
    assert owed["penalty_indemnity"].tolist() == [0.0, 0.0]


def test_rate_indemnity_and_templates_are_configurable():
    default = load_dunning_config().penalties
    assert default.annual_rate == pytest.approx(3 * 0.0276)  # the French minimum since 2025-07
    assert default.indemnity == 40.0 and default.indemnity_currency == "EUR"
    rules = PenaltyRules(annual_rate=0.12, indemnity=50.0, indemnity_currency="chf")
    assert rules.indemnity_currency == "CHF"
    owed = penalty_arrays(np.array([1000.0]), np.array([day("2025-01-01")]),
                          np.array([day("2025-01-31")]), rules)  # fmt: skip
    assert owed["penalty_interest"][0] == float(by_hand("1000", "0.12", "2025-01-01", "2025-01-31"))
    assert owed["penalty_indemnity"][0] == 50.0
    with pytest.raises(ValueError, match="ISO 4217"):
        PenaltyRules(indemnity_currency="EURO")


def test_a_tiny_negative_rounds_to_a_plain_zero_not_minus_zero():
    rounded = round_cents(np.array([-0.001, 0.001]))
    assert rounded.tolist() == [0.0, 0.0] and not np.signbit(rounded).any()


def test_cents_round_half_up_not_to_even():
    assert round_cents(np.array([0.125, 0.135, 2.675, -0.125])).tolist() == [
        0.13, 0.14, 2.68, -0.13,
    ]  # fmt: skip


def test_an_indemnity_in_another_currency_is_converted_to_the_base_in_batch_too():
    """EUR 40 owed on a ledger kept in GBP: the batch plan carries it in GBP (it used to carry 40
    as if it were pounds), and a policy without the rate to convert it is refused."""
    from payrisk.core.config import ConfigError
    from payrisk.policy.config import DunningConfig
    from payrisk.policy.planning import dunning_amounts
    from payrisk.policy.state import DunningState

    shipped = load_dunning_config()
    pounds = DunningConfig.model_validate(
        {
            **shipped.model_dump(),
            "currencies": {"base": "GBP", "rates": {"EUR": 0.85}},
        }
    )
    assert pounds.indemnity_in_base() == pytest.approx(34.0)
    template = pounds.penalties.templates[0]
    plan = {
        "action": np.array(["remind"], dtype=object),
        "template": np.array([template], dtype=object),
        "action_date": np.array(["2025-03-03"], dtype="datetime64[ns]"),
    }
    owed = dunning_amounts(
        plan, np.array([1000.0]), np.array([day("2025-01-31")]), DunningState.empty(1),
        np.array([np.nan]), pounds,
    )  # fmt: skip
    assert owed["penalty_indemnity"][0] == 34.0
    assert owed["penalty_total"][0] == pytest.approx(34.0 + owed["penalty_interest"][0])
    with pytest.raises((ConfigError, ValueError), match="indemnity_currency EUR needs a rate"):
        DunningConfig.model_validate({**shipped.model_dump(), "currencies": {"base": "GBP"}})


def test_under_a_payment_plan_interest_runs_on_the_instalment_due_not_the_whole_invoice():
    """3,000 left on an invoice paid by instalments of 1,000: the letter about the missed
    instalment (due 2025-01-31, sent 2025-03-03) claims interest on 1,000; an invoice without a
    plan, on its whole open amount; an instalment larger than what is left, on what is left."""
    from payrisk.policy.planning import dunning_amounts
    from payrisk.policy.state import NO_DAY, DunningState

    policy = load_dunning_config()
    template = policy.penalties.templates[0]
    plan = {
        "action": np.array(["remind"] * 3, dtype=object),
        "template": np.array([template] * 3, dtype=object),
        "action_date": np.array(["2025-03-03"] * 3, dtype="datetime64[ns]"),
    }
    state = DunningState.empty(3)
    state.plan_due_day[:] = [day("2025-01-31"), NO_DAY, day("2025-01-31")]
    state.plan_amount[:] = [1000.0, np.nan, 800.0]
    owed = dunning_amounts(
        plan, np.array([3000.0, 3000.0, 500.0]), np.array([day("2025-01-31")] * 3), state,
        np.full(3, np.nan), policy,
    )  # fmt: skip
    rate = str(policy.penalties.annual_rate)
    assert owed["amount_due"].tolist() == [1000.0, 3000.0, 500.0]
    assert owed["penalty_interest"].tolist() == [
        float(by_hand("1000", rate, "2025-01-31", "2025-03-03")),  # 7.03
        float(by_hand("3000", rate, "2025-01-31", "2025-03-03")),
        float(by_hand("500", rate, "2025-01-31", "2025-03-03")),
    ]
    assert owed["penalty_interest"][0] == 7.03  # 1,000 x 8.28% x 31 / 365 = 7.0323...
    assert owed["penalty_indemnity"].tolist() == [40.0, 40.0, 40.0]


def test_only_contacts_whose_template_mentions_penalties_carry_them_and_amounts_are_in_cents():
    from payrisk.policy.planning import dunning_amounts
    from payrisk.policy.state import DunningState

    policy = load_dunning_config()
    letter = policy.penalties.templates[0]
    assert "friendly_reminder" not in policy.penalties.templates
    plan = {
        "action": np.array(["remind", "remind", "wait"], dtype=object),
        "template": np.array([letter, "friendly_reminder", letter], dtype=object),
        "action_date": np.array(["2025-03-03"] * 3, dtype="datetime64[ns]"),
    }
    owed = dunning_amounts(
        plan, np.array([1234.567, 1234.567, 1234.567]), np.array([day("2025-01-31")] * 3),
        DunningState.empty(3), np.full(3, np.nan), policy,
    )  # fmt: skip
    assert owed["amount_due"].tolist() == [1234.57] * 3
    assert owed["penalty_indemnity"][0] == 40.0
    assert np.isnan(owed["penalty_total"][1:]).all()  # a friendly reminder; no contact at all
    assert np.isnan(owed["penalty_interest"][1:]).all()
