"""After a broken promise the learned policy contacts at once (issue 25), read on a hand-made
choice: `LearnedNextActions._at_once` turns a wait into the allowed channel of highest expected
value, and `_levels_sent` reads the hardest level sent (issue 32: the runner's `decisions`
target). Every expected value is worked by hand."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from payrisk.policy.learned import POLICY_WORDS, Choice
from payrisk.policy.planning import LearnedNextActions

CHANNELS = ("email", "sms", "phone", "letter", "formal_notice", "agency")  # softest first
NAN = np.nan
WAITED = "Learned: waiting pays more."


def _row(allowed: dict[str, float]) -> tuple[list[bool], list[float]]:
    """A row's allowed mask and expected values: `allowed` channels and their worth, the other
    channels not allowed but worth a lot (they must never be picked)."""
    mask = [c in allowed for c in CHANNELS]
    worth = [allowed.get(c, 100.0) for c in CHANNELS]
    return mask, worth


def _choice(rows: list[dict], channel: list[str | None], baseline: list[float]) -> Choice:
    masks, worths = zip(*(_row(r) for r in rows), strict=True)
    n = len(rows)
    return Choice(
        channel=np.array(channel, dtype=object),
        policy=np.full(n, "learned", dtype=object),
        value=np.zeros(n),
        effect=np.full(n, 0.01),
        probability=np.array(baseline) + 0.01,
        baseline=np.array(baseline),
        why=np.full(n, WAITED, dtype=object),
        allowed=np.array(masks, dtype=bool),
        worth=np.array(worths, dtype="float64"),
    )


def _response(n: int, **effects: list[float]) -> dict[str, np.ndarray]:
    out = {f"{c}_effect": np.full(n, 0.0) for c in CHANNELS}
    out.update({f"{c}_effect": np.array(v) for c, v in effects.items()})
    return out


def _at_once(choice: Choice, broken: list[bool], response: dict) -> Choice:
    policy = SimpleNamespace(language="en")
    return LearnedNextActions._at_once(policy, choice, np.array(broken), response)


def test_a_broken_promise_gets_the_best_allowed_channel_instead_of_a_wait():
    rows = [
        # 0: letter (3.0) beats phone (2.0); the agency (100) is not allowed.
        {"phone": 2.0, "letter": 3.0},
        # 1: the phone has no estimate (NaN): the letter, worth less but known.
        {"phone": NAN, "letter": 1.0},
        # 2: nothing allowed can be weighed: it waits all the same.
        {"phone": NAN},
        # 3: not broken: the policy's wait stands.
        {"phone": 2.0},
        # 4: broken but the policy already contacts: left alone.
        {"phone": 2.0, "letter": 3.0},
    ]
    channel = [None, None, None, None, "phone"]
    baseline = [0.5, 0.4, 0.3, 0.2, 0.1]
    effects = {"letter": [0.25, 0.125, 0.0, 0.0, 0.0], "phone": [0.0, 0.0, 0.0, 0.0, 0.0]}
    got = _at_once(_choice(rows, channel, baseline), [True, True, True, False, True],
                   _response(5, **effects))  # fmt: skip
    assert got.channel.tolist() == ["letter", "letter", None, None, "phone"]
    assert got.value.tolist() == [3.0, 1.0, 0.0, 0.0, 0.0]
    assert got.effect.tolist() == [0.25, 0.125, 0.01, 0.01, 0.01]
    # P(paid) with the channel: the baseline plus the channel's effect (0.5 + 0.25, 0.4 + 0.125).
    assert got.probability.tolist() == pytest.approx([0.75, 0.525, 0.31, 0.21, 0.11])
    words = POLICY_WORDS["en"]["broken_promise"]
    assert got.why.tolist() == [words, words, WAITED, WAITED, WAITED]


def test_the_probability_with_the_channel_stays_between_0_and_1():
    rows = [{"letter": 1.0}, {"letter": 1.0}]
    got = _at_once(_choice(rows, [None, None], [0.9, 0.05]), [True, True],
                   _response(2, letter=[0.25, -0.125]))  # fmt: skip
    # 0.9 + 0.25 = 1.15 -> 1; 0.05 - 0.125 = -0.075 -> 0.
    assert got.probability.tolist() == [1.0, 0.0]


def test_without_a_broken_promise_waiting_the_choice_is_the_same_object():
    choice = _choice([{"letter": 1.0}], [None], [0.5])
    assert _at_once(choice, [False], _response(1)) is choice


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
}


class _Effects:
    def for_days(self, days):
        return self

    def response(self, features):
        return {}


def _fake_decide(response, features, amount, levels, default_probability, disputed, config,
                 language, no_softer_than):  # fmt: skip
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


def _learned_next_actions(monkeypatch, mode: str = "learned"):
    from payrisk.policy import planning
    from payrisk.policy.config import load_dunning_config
    from payrisk.policy.dunning import NO_CONTACT

    monkeypatch.setattr(planning, "decide", _fake_decide)
    monkeypatch.setattr(planning, "invoice_feature_arrays", lambda *args: {
        "last_reminder_channel": np.full(len(args[2]), None, dtype=object)})  # fmt: skip
    dunning = load_dunning_config()
    policy_settings = dunning.policy.model_copy(update={"mode": mode})
    dunning = dunning.model_copy(update={"policy": policy_settings})
    n = 5
    invoices = planning.OpenInvoices(
        invoice_id=np.array([f"I{i}" for i in range(n)], dtype=object),
        customer_id=np.array([f"C{i}" for i in range(n)], dtype=object),
        issue_day=np.full(n, DUE - 30),
        due_day=np.full(n, DUE),
        amount=np.array([100.0, 200.0, 300.0, 400.0, 500.0]),
        open_amount=np.array([100.0, 200.0, 300.0, 400.0, 500.0]),
        disputed=np.zeros(n, dtype=bool),
    )
    scorer = SimpleNamespace(
        effects=_Effects(), feature_set=SimpleNamespace(with_features=lambda names: None)
    )
    history = SimpleNamespace(key_account_flags=lambda ids: np.zeros(len(ids), dtype=bool))
    scored = {"open_amount": invoices.open_amount, "default_probability": np.full(n, 0.2)}
    policy = LearnedNextActions(
        scorer, history, invoices, scored, np.full(n, NO_CONTACT), int(TODAY), dunning,
        ruled=np.array([False, False, False, False, True]),
    )  # fmt: skip
    actions = {
        "action": np.array(["remind"] * n, dtype=object),
        "channel": np.array(["email", "email", "letter", "email", "letter"], dtype=object),
        "template": np.array(["t"] * n, dtype=object),
        "actor": np.array(["collector"] * n, dtype=object),
        "step": np.array([2.0, 2.0, 4.0, 1.0, 3.0]),
        "action_date": np.array(RULES_DAYS, dtype="datetime64[ns]"),
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
    assert out["legal_pays"].all()
