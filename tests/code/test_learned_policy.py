"""The learned policy: it never breaks an escalation rule, waits when a contact is not worth its
cost, falls back to the rules where effects cannot be estimated, and says why in plain words;
propensities are clipped and no effect is claimed without overlap."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from payrisk.core.config import EffectSettings
from payrisk.data.contract import CHANNELS
from payrisk.features.definitions import CATEGORICAL_FEATURES, EFFECT_FEATURE_COLUMNS
from payrisk.models.effects import fit_effect_models, overlap_report, pseudo_outcomes
from payrisk.policy.config import load_dunning_config
from payrisk.policy.dunning import NO_CONTACT
from payrisk.policy.learned import (
    POLICY_LEARNED,
    POLICY_RULES,
    allowed_channels,
    choose,
    escalation_violations,
    respect_gap,
)

DUNNING = load_dunning_config()


def _random_decisions(rng: np.random.Generator, n: int) -> dict:
    response = {"none": rng.uniform(0, 0.6, n)}
    for channel in CHANNELS:
        effect = rng.uniform(-0.1, 0.6, n)
        effect[rng.random(n) < 0.2] = np.nan  # no overlap there
        response[f"{channel}_effect"] = effect
        response[channel] = response["none"] + effect
    return {
        "response": response,
        "before_due": rng.random(n) < 0.3,
        "max_level": rng.integers(0, 5, n),
        "key_account": rng.random(n) < 0.2,
        "worth_it": rng.random(n) < 0.5,
        "disputed": rng.random(n) < 0.1,
        "amount": rng.lognormal(7.5, 1.2, n),
        "new": rng.random(n) < 0.1,
    }


# The escalation rules written out again, independently of allowed_channels: a channel's level.
_LEVEL = {"email": 1, "sms": 1, "phone": 2, "letter": 2, "formal_notice": 3, "agency": 4}


def _breaks_a_rule(channel: str | None, before_due: bool, max_level: int, key_account: bool,
                   worth_it: bool, disputed: bool) -> bool:  # fmt: skip
    if channel is None:
        return False
    level = _LEVEL[channel]
    return (
        disputed  # disputes leave dunning
        or (before_due and level > 1)  # only a courtesy reminder before the due date
        or level > max_level + 1  # friendly before firm, the formal notice never first
        or (key_account and level > 2)  # key accounts: the sales rep, never legal steps
        or (channel == "agency" and not worth_it)  # the agency only when recovery covers costs
        or (channel == "formal_notice" and max_level >= 3)  # a formal notice is sent once
    )


def _rule_breaks(channels: np.ndarray, situation: tuple[np.ndarray, ...]) -> list[bool]:
    return [
        _breaks_a_rule(channel, *(bool(a[i]) if a.dtype == bool else int(a[i]) for a in situation))
        for i, channel in enumerate(channels)
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_learned_policy_never_breaks_an_escalation_rule(seed: int) -> None:
    """Rules checked one decision at a time against the rules as the README states them (not
    against allowed_channels, which choose itself obeys); and each rule does restrict: with
    everything allowed, the same responses would break it."""
    d = _random_decisions(np.random.default_rng(seed), 5000)
    situation = (d["before_due"], d["max_level"], d["key_account"], d["worth_it"], d["disputed"])
    allowed = allowed_channels(*situation)
    choice = choose(d["response"], d["amount"], allowed, d["new"], DUNNING)
    contacts = np.array([c is not None for c in choice.channel])
    assert contacts.sum() > 1000  # it does contact, so the checks below bite
    broken = _rule_breaks(choice.channel, situation)
    assert not any(broken)
    assert not escalation_violations(choice.channel, *situation).any()
    free = choose(d["response"], d["amount"], np.ones_like(allowed), d["new"], DUNNING)
    unruly = _rule_breaks(free.channel, situation)
    assert sum(unruly) > 100  # without the rules the responses would break them
    np.testing.assert_array_equal(escalation_violations(free.channel, *situation), unruly)


def test_decisions_without_words_are_the_same_decisions() -> None:
    """The simulator asks for no explanation (thousands of decisions a week): same choice."""
    d = _random_decisions(np.random.default_rng(5), 2000)
    allowed = allowed_channels(
        d["before_due"], d["max_level"], d["key_account"], d["worth_it"], d["disputed"]
    )
    spoken = choose(d["response"], d["amount"], allowed, d["new"], DUNNING)
    silent = choose(d["response"], d["amount"], allowed, d["new"], DUNNING, explain=False)
    np.testing.assert_array_equal(silent.channel, spoken.channel)
    np.testing.assert_array_equal(silent.policy, spoken.policy)
    np.testing.assert_array_equal(silent.value, spoken.value)
    assert all(w is None for w in silent.why) and all(isinstance(w, str) for w in spoken.why)


def test_the_rule_checker_sees_each_broken_rule() -> None:
    broken = escalation_violations(
        np.array(["phone", "formal_notice", "agency", "letter", "email", None], dtype=object),
        before_due=np.array([True, False, False, False, False, False]),
        max_level_sent=np.array([1, 1, 3, 2, 0, 0]),
        key_account=np.array([False, False, False, True, False, False]),
        agency_worth_it=np.array([True, True, False, True, True, True]),
        disputed=np.array([False, False, False, False, True, True]),
    )
    np.testing.assert_array_equal(broken, [True, True, True, False, True, False])


def test_waits_when_no_contact_is_worth_its_cost_and_says_why() -> None:
    response = {"none": np.array([0.9, 0.2]), "phone_effect": np.array([0.05, 0.5])}
    response["phone"] = response["none"] + response["phone_effect"]
    allowed = np.zeros((2, len(CHANNELS)), dtype=bool)
    allowed[:, CHANNELS.index("phone")] = True
    choice = choose(response, np.array([50.0, 5000.0]), allowed, np.array([False, False]), DUNNING)
    assert choice.channel[0] is None and choice.policy[0] == POLICY_LEARNED
    assert choice.why[0].startswith("Wait: 90% chance of payment within 7 days")
    assert choice.channel[1] == "phone"
    assert choice.why[1].startswith("A call: 70% chance of payment within 7 days")
    assert choice.probability[1] == pytest.approx(0.7)


def test_the_policys_words_are_in_the_answers_language_with_the_same_numbers() -> None:
    """French credit managers read why in French: every kind of sentence (contact against the
    runner-up, wait, rules for a new customer or without overlap), with the same percentages as
    the English one, written as Babel writes them."""
    from payrisk.core.i18n import Formats

    response = {
        "none": np.array([0.9, 0.2, 0.3, 0.3]),
        "phone_effect": np.array([0.05, 0.5, 0.2, np.nan]),
        "email_effect": np.array([0.01, 0.1, 0.1, np.nan]),
    }
    for channel in ("phone", "email"):
        response[channel] = response["none"] + response[f"{channel}_effect"]
    allowed = np.zeros((4, len(CHANNELS)), dtype=bool)
    allowed[:, [CHANNELS.index("phone"), CHANNELS.index("email")]] = True
    new = np.array([False, False, True, False])
    amount = np.array([50.0, 5000.0, 5000.0, 5000.0])
    english = choose(response, amount, allowed, new, DUNNING, language="en").why
    french = choose(response, amount, allowed, new, DUNNING, language="fr").why
    fr = Formats("fr", "EUR")
    assert french[0].startswith(f"Attendre : {fr.pct(0.9)} de chances de paiement sous 7 jours")
    assert "un e-mail les porterait à " + fr.pct(0.91) in french[0]  # the cheaper one weighs most
    assert french[1] == (
        f"Un appel : {fr.pct(0.7)} de chances de paiement sous 7 jours, contre {fr.pct(0.3)} "
        f"par un e-mail ({fr.pct(0.2)} sans contact)."
    )
    assert english[1] == (
        "A call: 70% chance of payment within 7 days against 30% by e-mail (20% without contact)."
    )
    assert french[2].startswith("Table des règles : nouveau client")
    assert french[3].startswith("Table des règles : aucun canal permis")
    for en, fr_text in zip(english, french, strict=True):  # the same numbers in both
        assert re.findall(r"\d+", en) == re.findall(r"\d+", fr_text)


def test_rules_decide_for_new_customers_and_where_no_channel_has_overlap() -> None:
    response = {"none": np.array([0.3, 0.3, 0.3])}
    response["sms_effect"] = np.array([0.4, np.nan, 0.4])
    response["sms"] = response["none"] + np.nan_to_num(response["sms_effect"])
    allowed = np.ones((3, len(CHANNELS)), dtype=bool)
    choice = choose(response, np.full(3, 1000.0), allowed, np.array([False, False, True]), DUNNING)
    assert list(choice.policy) == [POLICY_LEARNED, POLICY_RULES, POLICY_RULES]
    assert "no channel" in choice.why[1] and "new customer" in choice.why[2]


def test_contacts_keep_the_customers_gap_and_bundle_what_falls_within_it() -> None:
    customer = np.array([0, 0, 0, 1, 1])
    day = np.array([100, 102, 120, 100, 101])
    last = np.array([NO_CONTACT, NO_CONTACT, NO_CONTACT, 98, 98])
    planned = respect_gap(customer, day, last, gap=5)
    np.testing.assert_array_equal(planned, [100, 100, 120, 103, 103])


def test_a_contact_exactly_the_gap_after_another_is_not_bundled_into_it() -> None:
    """Gap 5: day 104 joins the contact of day 100, day 105 is a contact of its own and what
    falls within its own gap (108, 109) joins it; 110 starts a third one."""
    customer = np.zeros(6, dtype="int64")
    day = np.array([100, 104, 105, 108, 109, 110])
    planned = respect_gap(customer, day, np.full(6, NO_CONTACT), gap=5)
    np.testing.assert_array_equal(planned, [100, 100, 105, 105, 105, 110])
    # After a last contact on day 95, day 100 is allowed (exactly the gap), 99 is not.
    assert respect_gap(np.array([0]), np.array([99]), np.array([95]), gap=5)[0] == 100
    assert respect_gap(np.array([0]), np.array([100]), np.array([95]), gap=5)[0] == 100
    assert respect_gap(np.array([0]), np.array([101]), np.array([95]), gap=5)[0] == 101


def _greedy_gap(days: list[int], last: int | None, gap: int) -> list[int]:
    """A simpler oracle: walk one customer's days in order; a day within the gap after the
    current contact joins it, any other day opens a new contact (never before last + gap)."""
    if last is not None:
        days = [max(d, last + gap) for d in days]
    out = [0] * len(days)
    anchor = None
    for i in sorted(range(len(days)), key=lambda k: days[k]):
        if anchor is None or days[i] >= anchor + gap:
            anchor = days[i]
        out[i] = anchor
    return out


@pytest.mark.parametrize("seed", range(5))
def test_the_contact_gap_agrees_with_a_one_customer_at_a_time_walk(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, gap = 300, int(rng.integers(1, 10))
    customer = rng.integers(0, 20, n)
    day = rng.integers(0, 60, n)
    last_of = np.where(rng.random(20) < 0.5, NO_CONTACT, rng.integers(-10, 10, 20))
    planned = respect_gap(customer, day, last_of[customer], gap)
    for c in range(20):
        mine = np.flatnonzero(customer == c)
        last = None if last_of[c] == NO_CONTACT else int(last_of[c])
        assert planned[mine].tolist() == _greedy_gap(day[mine].tolist(), last, gap)
        contacts = np.unique(planned[mine])
        assert (np.diff(contacts) >= gap).all()


def test_propensities_are_clipped_in_the_pseudo_outcomes() -> None:
    arm = np.array([1, 1])
    y = np.array([1.0, 1.0])
    propensity = np.array([[0.999, 0.001], [0.5, 0.5]])
    outcome = np.zeros((2, 2))
    phi = pseudo_outcomes(arm, y, propensity, outcome, clip=0.05)
    assert phi[0, 1] == pytest.approx(1 / 0.05)  # not 1 / 0.001
    assert phi[1, 1] == pytest.approx(2.0)


def _synthetic_units(n: int, rng: np.random.Generator):
    """Units where a call is only ever made after the due date: no overlap before it."""
    features = {name: rng.normal(size=n) for name in EFFECT_FEATURE_COLUMNS}
    for name in CATEGORICAL_FEATURES:
        features[name] = np.array(["a", "b"], dtype=object)[rng.integers(0, 2, n)]
    days_past_due = rng.integers(-10, 40, n).astype("float64")
    features["days_past_due"] = days_past_due
    arm = np.where(rng.random(n) < 0.5, "none", "email").astype(object)
    late = days_past_due > 0
    arm[late & (rng.random(n) < 0.4)] = "phone"
    uplift = np.where(arm == "phone", 0.3, np.where(arm == "email", 0.1, 0.0))
    y = (rng.random(n) < 0.2 + uplift).astype("float64")
    units = pd.DataFrame({"arm": arm, "customer_id": rng.integers(0, 400, n).astype(str)})
    return features, units, y


def test_no_effect_is_claimed_where_a_channel_was_never_used() -> None:
    rng = np.random.default_rng(4)
    features, units, y = _synthetic_units(6000, rng)
    settings = EffectSettings(n_estimators=40, final_n_estimators=30, min_units=100)
    model = fit_effect_models(features, units, {7: y}, settings, seed=1).for_days(7)
    assert model.arms == ("none", "email", "phone")
    matrix = model.matrix(features)
    effects = model.effects(matrix)
    before_due = features["days_past_due"] < -1
    phone = model.channels.index("phone")
    assert np.isnan(effects[before_due, phone]).all()  # never called before due: no claim
    assert np.isfinite(effects[features["days_past_due"] > 5, phone]).mean() > 0.9
    # The overlap report says so.
    report = model.overlap["no_overlap_share"]["phone"]
    assert report["before_due"] > 0.9 and report["15_29_days_past_due"] < 0.1
    # And the effects it does claim are the true ones on average (0.3 and 0.1).
    late = features["days_past_due"] > 5
    assert np.nanmean(effects[late, phone]) == pytest.approx(0.3, abs=0.06)
    assert np.nanmean(effects[:, model.channels.index("email")]) == pytest.approx(0.1, abs=0.05)
    # Each chance shown lies inside its own interval, as wide as its group's.
    response = model.response(features)
    for channel in model.channels:
        shown = np.isfinite(response[f"{channel}_effect"])
        assert shown.sum() > 100
        low, chance, high = (response[f"{channel}{k}"][shown] for k in ("_low", "", "_high"))
        assert (low <= chance).all() and (chance <= high).all(), channel
        assert (high - low > 0).mean() > 0.9


def test_overlap_report_shares() -> None:
    propensity = np.array([[0.9, 0.1], [0.99, 0.01], [0.5, 0.5], [0.98, 0.02]])
    report = overlap_report(propensity, ("none", "sms"), np.array([-3, -3, 10, 10]), clip=0.05)
    assert report["no_overlap_share"]["sms"]["all"] == 0.5
    assert report["no_overlap_share"]["sms"]["before_due"] == 0.5
    assert report["no_overlap_share"]["none"]["all"] == 0.0
