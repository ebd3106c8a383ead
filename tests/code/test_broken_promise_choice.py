"""After a broken promise the learned policy contacts at once (issue 25): `choose` with
`must_contact` takes the allowed channel of highest expected value where it would wait, and
`_levels_sent` reads the hardest level sent (issue 32: the runner's `decisions` target). Every
expected value is worked by hand: an amount of 100 with P(default) 0.9 is worth 100 x (0.1 +
0.9) = 100 per point of P(paid), less the channel's cost (a call 4.00, a letter 1.50)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from payrisk.data.contract import CHANNELS
from payrisk.policy.config import load_dunning_config
from payrisk.policy.learned import POLICY_WORDS, Choice, choose
from payrisk.policy.planning import LearnedNextActions

NAN = np.nan
DUNNING = load_dunning_config()
BROKEN = POLICY_WORDS["en"]["broken_promise"]


def _choose(rows: list[dict[str, float]], baseline: list[float], broken: list[bool] | None,
            amount: list[float] | None = None) -> Choice:  # fmt: skip
    """`choose` on rows of {channel: effect} (the channels allowed; NaN: no estimate), the
    agency never allowed though it would work best."""
    n = len(rows)
    response = {"none": np.array(baseline)}
    for c in CHANNELS:
        response[f"{c}_effect"] = np.array([r.get(c, 0.9 if c == "agency" else NAN) for r in rows])
    allowed = np.array([[c in r for c in CHANNELS] for r in rows], dtype=bool)
    return choose(
        response,
        np.array(amount or [100.0] * n),
        allowed,
        np.zeros(n, dtype=bool),
        DUNNING,
        default_probability=np.full(n, 0.9),
        must_contact=None if broken is None else np.array(broken),
    )


def test_a_broken_promise_gets_the_best_allowed_channel_instead_of_a_wait():
    rows = [
        # 0: a call 2 - 4 = -2, a letter 1 - 1.5 = -0.5: the letter, though waiting pays more.
        {"phone": 0.02, "letter": 0.01},
        # 1: the call has no estimate: the letter, 0.5 - 1.5 = -1, known.
        {"phone": NAN, "letter": 0.005},
        # 2: nothing allowed can be weighed: the rules decide, no channel forced.
        {"phone": NAN},
        # 3: not broken: the policy's wait stands.
        {"phone": 0.02},
        # 4: broken but the letter pays anyway (5 - 1.5 = 3.5): its own choice.
        {"phone": 0.02, "letter": 0.05},
    ]
    baseline = [0.5, 0.4, 0.3, 0.2, 0.1]
    got = _choose(rows, baseline, [True, True, True, False, True])
    assert got.channel.tolist() == ["letter", "letter", None, None, "letter"]
    assert got.policy.tolist() == ["learned", "learned", "rules", "learned", "learned"]
    assert got.value.tolist() == pytest.approx([-0.5, -1.0, NAN, 0.0, 3.5], nan_ok=True)
    assert got.effect.tolist() == pytest.approx([0.01, 0.005, NAN, 0.0, 0.05], nan_ok=True)
    # P(paid) with the channel: the baseline plus the channel's effect.
    assert got.probability.tolist() == pytest.approx([0.51, 0.405, NAN, 0.2, 0.15], nan_ok=True)
    assert got.why[:2].tolist() == [BROKEN, BROKEN]
    assert BROKEN not in got.why[2:].tolist()


def test_the_probability_with_the_channel_stays_between_0_and_1():
    # Amount 1: a letter worth 0.2 - 1.5 < 0 (forced), 0.9 + 0.2 -> 1; amount 100, an effect of
    # -0.125: worth -14 (forced), 0.05 - 0.125 -> 0.
    rows = [{"letter": 0.2}, {"letter": -0.125}]
    got = _choose(rows, [0.9, 0.05], [True, True], amount=[1.0, 100.0])
    assert got.channel.tolist() == ["letter", "letter"]
    assert got.probability.tolist() == [1.0, 0.0]


def test_without_a_broken_promise_the_choice_is_the_same():
    rows = [{"phone": 0.02, "letter": 0.01}, {"letter": 0.05}]
    plain, none_broken = _choose(rows, [0.5, 0.5], None), _choose(rows, [0.5, 0.5], [False] * 2)
    for name in ("channel", "policy", "why"):
        assert getattr(plain, name).tolist() == getattr(none_broken, name).tolist()
    assert plain.channel.tolist() == [None, "letter"]


def test_the_hardest_level_sent_is_the_given_one_or_the_last_reminders_whichever_is_harder():
    features = {"last_reminder_channel": np.array(["email", "letter", None, "formal_notice"],
                                                  dtype=object)}  # fmt: skip
    own = SimpleNamespace(top_level_sent=None)
    # email 1, letter 2, none 0, formal notice 3.
    assert LearnedNextActions._levels_sent(own, np.arange(4), features).tolist() == [1, 2, 0, 3]
    # Given per invoice (rows 3, 2, 1, 0 of the request): 2, NaN (nothing said), 1, 4.
    given = SimpleNamespace(top_level_sent=np.array([4.0, 1.0, NAN, 2.0]))
    rows = np.array([3, 2, 1, 0])
    assert LearnedNextActions._levels_sent(given, rows, features).tolist() == [2, 2, 1, 4]


# LearnedNextActions end to end on five invoices of five customers, the effect models and
# `decide` replaced by a hand-made choice (the policy's own weighing is test_learned_policy's).
DUE = np.datetime64("2025-03-03", "D").astype("int64")  # a Monday
TODAY = DUE + 1  # Tuesday 2025-03-04
# The shipped decision moments, due + (-4, 5, 15, 30, 45, 75): on or after today the first is
# due + 5 = Saturday 2025-03-08 -> Monday 2025-03-10; the next due + 15 = Tuesday 2025-03-18.
MOMENT, FOLLOWING = "2025-03-10", "2025-03-18"
RULES_DAYS = ["2025-03-05", "2025-03-05", "2025-03-05", "2025-03-05", "2025-03-06"]
# amount -> (channel chosen, which policy, the agency's expected value)
CHOSEN = {
    100.0: ("phone", "learned", -1.0),  # contact by phone; the agency would not pay
    200.0: (None, "learned", 5.0),  # wait until the next moment; the agency would pay
    300.0: ("agency", "learned", 3.0),  # the agency
    400.0: ("email", "rules", -2.0),  # no estimate: the rules' action and date stay
    1000.0: ("email", "learned", 1.0),
    1100.0: ("email", "learned", 1.0),
    1200.0: ("letter", "learned", 1.0),
    1300.0: ("phone", "learned", 0.0),  # an agency that only breaks even does not pay
    1400.0: (None, "learned", 0.5),
}
DECIDED: list[dict] = []  # what the policy was asked, per call


class _Effects:
    def for_days(self, days):
        return self

    def response(self, features):
        return {}


def _fake_decide(response, features, amount, levels, default_probability, disputed, config,
                 language, broken_promise):  # fmt: skip
    DECIDED.append(
        {"amount": amount.tolist(), "levels": levels.tolist(), "broken": broken_promise.tolist()}
    )
    n = len(amount)
    rows = [CHOSEN[a] for a in amount]
    worth = np.zeros((n, len(CHANNELS)))
    worth[:, CHANNELS.index("agency")] = [r[2] for r in rows]
    return Choice(
        channel=np.array([r[0] for r in rows], dtype=object),
        policy=np.array([r[1] for r in rows], dtype=object),
        value=np.ones(n),
        effect=np.full(n, 0.1),
        probability=np.full(n, 0.6),
        baseline=np.full(n, 0.5),
        why=np.array([f"why {a:g}" for a in amount], dtype=object),
        allowed=np.ones((n, len(CHANNELS)), dtype=bool),
        worth=worth,
    )


FIRST_ROWS = [
    # amount, rules action, rules channel, step, rules day, due day, ruled by the state
    (100.0, "remind", "email", 2.0, RULES_DAYS[0], DUE, False),
    (200.0, "remind", "email", 2.0, RULES_DAYS[1], DUE, False),
    (300.0, "remind", "letter", 4.0, RULES_DAYS[2], DUE, False),
    (400.0, "remind", "email", 1.0, RULES_DAYS[3], DUE, False),
    (500.0, "remind", "letter", 3.0, RULES_DAYS[4], DUE, True),
]


def _learned_next_actions(monkeypatch, mode="learned", rows=FIRST_ROWS, offsets=None,
                          broken=None, top_level_sent=None):  # fmt: skip
    from payrisk.policy import planning
    from payrisk.policy.config import load_dunning_config
    from payrisk.policy.dunning import NO_CONTACT

    DECIDED.clear()
    monkeypatch.setattr(planning, "decide", _fake_decide)
    monkeypatch.setattr(planning, "invoice_feature_arrays", lambda *args: {
        "last_reminder_channel": np.full(len(args[2]), None, dtype=object)})  # fmt: skip
    dunning = load_dunning_config()
    update = {"mode": mode} if offsets is None else {"mode": mode, "decision_offsets": offsets}
    dunning = dunning.model_copy(update={"policy": dunning.policy.model_copy(update=update)})
    n = len(rows)
    amount = np.array([r[0] for r in rows])
    due = np.array([r[5] for r in rows], dtype="int64")
    invoices = planning.OpenInvoices(
        invoice_id=np.array([f"I{i}" for i in range(n)], dtype=object),
        customer_id=np.array([f"C{i}" for i in range(n)], dtype=object),
        issue_day=due - 30,
        due_day=due,
        amount=amount,
        open_amount=amount,
        disputed=np.zeros(n, dtype=bool),
    )
    scorer = SimpleNamespace(
        effects=_Effects(), feature_set=SimpleNamespace(with_features=lambda names: None)
    )
    history = SimpleNamespace(key_account_flags=lambda ids: np.zeros(len(ids), dtype=bool))
    scored = {"open_amount": amount, "default_probability": np.full(n, 0.2)}
    policy = LearnedNextActions(
        scorer, history, invoices, scored, np.full(n, NO_CONTACT), int(TODAY), dunning,
        ruled=np.array([r[6] for r in rows]), broken=broken, top_level_sent=top_level_sent,
    )  # fmt: skip
    actions = {
        "action": np.array([r[1] for r in rows], dtype=object),
        "channel": np.array([r[2] for r in rows], dtype=object),
        "template": np.array(["t"] * n, dtype=object),
        "actor": np.array(["collector"] * n, dtype=object),
        "step": np.array([r[3] for r in rows]),
        "action_date": np.array([r[4] for r in rows], dtype="datetime64[ns]"),
    }
    return policy(actions)


def test_the_learned_choice_becomes_the_next_action_and_the_agencys_verdict(monkeypatch):
    out = _learned_next_actions(monkeypatch)
    assert out["action"].tolist() == ["remind", "wait", "escalate", "remind", "remind"]
    assert out["channel"].tolist() == ["phone", None, "agency", "email", "letter"]
    # A wait is no step; a contact keeps the invoice's place in its count.
    assert out["step"][[0, 2, 3, 4]].tolist() == [2.0, 4.0, 1.0, 3.0]
    assert np.isnan(out["step"][1])
    assert out["actor"][1] == "automatic" and out["template"][1] is None
    days = out["action_date"].astype("datetime64[D]").astype(str).tolist()
    assert days == [MOMENT, FOLLOWING, MOMENT, RULES_DAYS[3], RULES_DAYS[4]]
    assert out["policy"].tolist() == ["learned", "learned", "learned", "rules", "rules"]
    assert out["policy_reason"][:4].tolist() == ["why 100", "why 200", "why 300", "why 400"]
    # The agency pays where the policy weighed it above 0; the rules' say (True) elsewhere.
    assert out["legal_pays"].tolist() == [False, True, True, True, True]


def test_with_the_rules_policy_configured_the_rules_plan_stays(monkeypatch):
    out = _learned_next_actions(monkeypatch, mode="rules")
    assert out["action"].tolist() == ["remind"] * 5
    assert out["action_date"].astype("datetime64[D]").astype(str).tolist() == RULES_DAYS
    assert out["policy"].tolist() == ["rules"] * 5
    assert out["policy_reason"].tolist() == [POLICY_WORDS["en"]["rules_config"]] * 5
    assert out["legal_pays"].all()


def test_a_single_invoice_is_weighed_too(monkeypatch):
    out = _learned_next_actions(monkeypatch, rows=FIRST_ROWS[:1])
    assert (out["action"][0], out["channel"][0], out["policy"][0]) == ("remind", "phone", "learned")


LONG_AGO = np.datetime64("2024-12-02", "D").astype("int64")  # its last moment passed in December
THURSDAY = DUE + 3  # 2025-03-06


def test_moments_on_the_due_date_reviews_and_steps_past_the_last_moment(monkeypatch):
    """Decision moments at due - 2, due and due + 5 (Tuesday 4 March is today):
    - due today: its moment is today, on the due date, so a friendly reminder, not a courtesy one;
    - due Thursday: its moment is today, two days before, a courtesy reminder;
    - a review (the scenario ran out) with a moment ahead is weighed like a contact (a letter);
      its promise was broken, so the policy is offered nothing softer than the letter sent;
    - a review past the last moment: only the agency's verdict (it breaks even: no), the review
      stays the rules';
    - a reminder past the last moment is weighed on its own day (Wednesday 12 March), and a wait
      there waits until then (no moment follows);
    - a dispute is not the policy's."""
    rows = [
        (1000.0, "remind", "letter", 1.0, "2025-03-05", DUE + 1, False),
        (1100.0, "remind", "letter", 1.0, "2025-03-05", THURSDAY, False),
        (1200.0, "credit_manager_review", None, np.nan, "2025-03-05", DUE + 1, False),
        (1300.0, "credit_manager_review", None, np.nan, "2025-03-12", LONG_AGO, False),
        (1400.0, "remind", "letter", 3.0, "2025-03-12", LONG_AGO, False),
        (1500.0, "dispute_resolution", None, np.nan, "2025-03-05", DUE + 1, False),
    ]
    broken = np.array([False, False, True, False, False, False])
    sent = np.array([NAN, NAN, 2.0, NAN, NAN, NAN])  # a letter (level 2) was sent
    out = _learned_next_actions(monkeypatch, rows=rows, offsets=(-2, 0, 5), broken=broken,
                                top_level_sent=sent)  # fmt: skip
    assert DECIDED == [{"amount": [1000.0, 1100.0, 1200.0, 1300.0, 1400.0],
                        "levels": [0, 0, 2, 0, 0],
                        "broken": [False, False, True, False, False]}]  # fmt: skip
    assert out["action"].tolist() == ["remind", "remind", "remind", "credit_manager_review",
                                      "wait", "dispute_resolution"]  # fmt: skip
    assert out["template"][:3].tolist() == ["friendly_reminder", "courtesy_before_due",
                                            "second_reminder_penalties"]  # fmt: skip
    days = out["action_date"].astype("datetime64[D]").astype(str).tolist()
    today = "2025-03-04"
    assert days == [today, today, today, "2025-03-12", "2025-03-12", "2025-03-05"]
    assert out["policy"].tolist() == ["learned", "learned", "learned", "rules", "learned",
                                      "rules"]  # fmt: skip
    assert out["legal_pays"].tolist() == [True, True, True, False, True, True]
