"""The learned dunning policy: contact now or wait, and on which channel, from the channel effects.

At a decision moment of an open invoice, each channel the escalation rules allow is worth
    open amount x cash_value_rate x uplift in P(paid within response_days) - the channel's cost,
and the policy contacts on the best one if that is worth more than waiting (zero), else waits.
The escalation rules (the same for every policy that chooses channels itself, the oracle of the
simulator included) are in `allowed_channels`; where no allowed channel has an estimated effect
(no overlap) or the customer is new, the rules table decides instead (`fallback`). Vectorised over
decisions; every decision carries the words that explain it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from payrisk.core.days import next_business_day
from payrisk.core.i18n import Formats
from payrisk.data.contract import CHANNELS
from payrisk.policy.config import DunningConfig
from payrisk.policy.dunning import NO_CONTACT
from payrisk.policy.ladder import LEVEL, allowed_levels

# Escalation levels (policy.ladder.LEVEL): friendly (e-mail, SMS), firm (call, letter), formal
# notice, agency. Inside the ladder's law the learned policy climbs one level at a time: a channel
# may be used only once the invoice got a reminder of the level below (friendly before firm).
KEY_ACCOUNT_MAX_LEVEL = 2  # key accounts: firm steps go through the sales rep, never legal ones
# The decision's words, in the answer's language (the channel as a noun phrase of its sentence).
CHANNEL_WORDS = {
    "en": {"email": "e-mail", "sms": "SMS", "phone": "a call", "letter": "a letter",
           "formal_notice": "a formal notice", "agency": "the collection agency"},
    "fr": {"email": "un e-mail", "sms": "un SMS", "phone": "un appel", "letter": "un courrier",
           "formal_notice": "une mise en demeure", "agency": "la société de recouvrement"},
}  # fmt: skip
POLICY_WORDS = {
    "en": {
        "new": "Rules table: a new customer, no answers to learn from yet.",
        "untried": "Rules table: no channel allowed now has been tried often enough on customers "
        "like this one to estimate its effect.",
        "wait": "Wait: {p} chance of payment within {days} days without contact",
        "wait_best": "; {channel} would raise it to {q}, not worth its cost here.",
        "chosen": "{channel}: {p} chance of payment within {days} days",
        "against": " against {q} by {channel}",
        "without": " ({p} without contact).",
        "rules_config": "Rules table (policy: rules in the dunning configuration).",
        "rules_no_effects": "Rules table: this model has no channel-effect models.",
        "rules_step": "Rules table: the scenario step of the customer's segment.",
        "kept": "As planned: nothing has changed since it was planned.",
        "broken_promise": "Promise broken: at once, the channel no softer than what was sent "
        "that works best for this customer.",
    },
    "fr": {
        "new": "Table des règles : nouveau client, sans réponses dont apprendre encore.",
        "untried": "Table des règles : aucun canal permis à ce stade n'a été assez essayé sur des "
        "clients comparables pour en estimer l'effet.",
        "wait": "Attendre : {p} de chances de paiement sous {days} jours sans contact",
        "wait_best": " ; {channel} les porterait à {q}, sans couvrir son coût ici.",
        "chosen": "{channel} : {p} de chances de paiement sous {days} jours",
        "against": ", contre {q} par {channel}",
        "without": " ({p} sans contact).",
        "rules_config": "Table des règles (policy: rules dans la configuration des relances).",
        "rules_no_effects": "Table des règles : ce modèle n'a pas de modèles d'effet des canaux.",
        "rules_step": "Table des règles : l'étape du scénario du segment du client.",
        "kept": "Comme prévu : rien n'a changé depuis que l'action a été planifiée.",
        "broken_promise": "Promesse non tenue : sans attendre, le canal au moins aussi ferme que "
        "ce qui a été envoyé qui marche le mieux pour ce client.",
    },
}


def _percent(language: str) -> Callable[[float], str]:
    """A share as whole percent, as Babel writes it in `language` ("93%", "93\xa0%"): its
    pattern read once, not a Babel call per number (thousands of decisions a batch)."""
    pattern = Formats(language).pct(0.5).replace("50", "{}", 1)  # type: ignore[arg-type]
    return lambda p: pattern.format(round(p * 100))


POLICY_LEARNED = "learned"
POLICY_RULES = "rules"


def allowed_channels(
    before_due: np.ndarray,
    max_level_sent: np.ndarray,
    key_account: np.ndarray,
    agency_worth_it: np.ndarray,
    disputed: np.ndarray,
    channels: tuple[str, ...] = CHANNELS,
    no_softer_than: np.ndarray | None = None,
) -> np.ndarray:
    """Decisions x channels: which channels the escalation rules allow.

    Before the due date only a friendly courtesy reminder; then one level above the hardest
    reminder already sent at most; key accounts never beyond a call or letter (the sales rep
    follows up); the agency only when the expected recovery covers the legal costs; nothing on a
    disputed invoice (dispute resolution); where `no_softer_than` gives a level (a broken
    promise: the hardest sent), nothing softer.
    """
    levels = np.array([LEVEL[c] for c in channels])[None, :]
    allowed = levels <= np.asarray(max_level_sent)[:, None] + 1
    if no_softer_than is not None:
        allowed &= levels >= np.asarray(no_softer_than)[:, None]
    allowed &= allowed_levels(levels[0], np.asarray(max_level_sent))  # the law
    allowed &= ~np.asarray(before_due, dtype=bool)[:, None] | (levels == 1)
    allowed &= ~np.asarray(key_account, dtype=bool)[:, None] | (levels <= KEY_ACCOUNT_MAX_LEVEL)
    is_agency = np.array([c == "agency" for c in channels])[None, :]
    allowed &= ~is_agency | np.asarray(agency_worth_it, dtype=bool)[:, None]
    allowed &= ~np.asarray(disputed, dtype=bool)[:, None]
    return allowed


def escalation_violations(
    channel: np.ndarray,
    before_due: np.ndarray,
    max_level_sent: np.ndarray,
    key_account: np.ndarray,
    agency_worth_it: np.ndarray,
    disputed: np.ndarray,
) -> np.ndarray:
    """Which chosen contacts (channel names; None = wait) break an escalation rule."""
    channel = np.asarray(channel, dtype=object)
    contact = np.array([c is not None for c in channel])
    allowed = allowed_channels(before_due, max_level_sent, key_account, agency_worth_it, disputed)
    code = np.array([CHANNELS.index(c) if c is not None else 0 for c in channel], dtype="int64")
    return contact & ~allowed[np.arange(len(channel)), code]


@dataclass(frozen=True)
class Choice:
    """The learned policy's decisions: channel (None: wait), which policy chose, and why."""

    channel: np.ndarray  # object: channel name or None
    policy: np.ndarray  # object: "learned" or "rules" (fallback: the rules decide)
    value: np.ndarray  # expected value of the chosen contact (0 when waiting; NaN: fallback)
    effect: np.ndarray  # uplift in P(paid within the window) of the chosen channel
    probability: np.ndarray  # P(paid within the window) with the chosen channel
    baseline: np.ndarray  # P(paid within the window) without contact
    why: np.ndarray  # object: plain words
    allowed: np.ndarray  # decisions x channels: what the escalation rules allowed
    worth: np.ndarray  # decisions x channels: each channel's expected value (NaN: no estimate)


def choose(
    response: dict[str, np.ndarray],
    open_amount: np.ndarray,
    allowed: np.ndarray,
    new_customer: np.ndarray,
    config: DunningConfig,
    channels: tuple[str, ...] = CHANNELS,
    weigh_costs: bool = True,
    default_probability: np.ndarray | None = None,
    explain: bool = True,
    language: str = "en",
    must_contact: np.ndarray | None = None,
) -> Choice:
    """The best allowed channel per decision, or wait, from `response` (ChannelEffects.response
    or the simulator's truth: per arm the probability and f"{channel}_effect"). Where
    `must_contact` (a broken promise), the best allowed channel even when waiting pays more.

    Without `weigh_costs` (the simulator's oracle, an upper bound on what contacts can achieve)
    the channel with the largest effect is chosen whenever it has one. A payment brought in is
    worth `cash_value_rate` of its amount, plus its `default_probability` (an invoice paid can no
    longer be lost). Without `explain` (the simulator's thousands of decisions a week) `why` is
    left empty; else it is written in `language` (en, fr).
    """
    n = len(open_amount)
    amount = np.asarray(open_amount, dtype="float64")
    rate = config.policy.cash_value_rate + (
        0.0 if default_probability is None else np.asarray(default_probability, dtype="float64")
    )
    rate = np.broadcast_to(np.asarray(rate, dtype="float64"), (n,))
    effect = np.full((n, len(channels)), np.nan)
    cost = np.zeros((n, len(channels)))
    for j, channel in enumerate(channels):
        if f"{channel}_effect" in response:
            effect[:, j] = response[f"{channel}_effect"]
        cost[:, j] = config.costs.of(channel, amount) if weigh_costs else 1e-9 * amount
    estimated = allowed & ~np.isnan(effect)
    worth = (amount * rate)[:, None] * effect - cost
    value = np.where(estimated, worth, -np.inf)
    best = np.argmax(value, axis=1)
    rows = np.arange(n)
    best_value = value[rows, best]
    fallback = ~estimated.any(axis=1) | np.asarray(new_customer, dtype=bool)
    forced = ~fallback & ~(best_value > 0)
    forced &= np.zeros(n, dtype=bool) if must_contact is None else np.asarray(must_contact, bool)
    contact = ~fallback & ((best_value > 0) | forced)
    names = np.asarray(channels, dtype=object)
    chosen = np.where(contact, names[best], None)
    baseline = np.asarray(response["none"], dtype="float64")
    best_effect = np.where(contact, effect[rows, best], 0.0)
    days = config.policy.response_days
    why = (
        _explain(chosen, fallback, new_customer, response, baseline, value, names, days, language)
        if explain
        else np.full(n, None, dtype=object)
    )
    if explain and forced.any():
        why[forced] = POLICY_WORDS[language]["broken_promise"]
    return Choice(
        channel=chosen,
        policy=np.where(fallback, POLICY_RULES, POLICY_LEARNED).astype(object),
        value=np.where(fallback, np.nan, np.where(contact, best_value, 0.0)),
        effect=np.where(fallback, np.nan, best_effect),
        probability=np.where(fallback, np.nan, np.clip(baseline + best_effect, 0.0, 1.0)),
        baseline=baseline,
        why=why,
        allowed=allowed,
        worth=worth,
    )


def _explain(
    chosen: np.ndarray,
    fallback: np.ndarray,
    new_customer: np.ndarray,
    response: dict[str, np.ndarray],
    baseline: np.ndarray,
    value: np.ndarray,
    names: np.ndarray,
    days: int,
    language: str = "en",
) -> np.ndarray:
    """One sentence per decision: the chosen channel's chance against the runner-up's, or why it
    waits, or why the rules decide, in `language`. A loop over decisions: words are built for a
    page or a request, or for every contact of a batch: the ranking is computed once for all rows
    and the loop reads plain Python values."""
    words, channel_words = POLICY_WORDS[language], CHANNEL_WORDS[language]
    pct = _percent(language)
    out = np.empty(len(chosen), dtype=object)
    order = np.argsort(-value, axis=1)  # row by row as np.argsort; not estimated (-inf) last
    finite = np.isfinite(value).sum(axis=1)
    fallback, new_customer = np.asarray(fallback).tolist(), np.asarray(new_customer).tolist()
    ranked_rows = [row[:k] for row, k in zip(order.tolist(), finite.tolist(), strict=True)]
    baseline = np.asarray(baseline, dtype="float64").tolist()
    effects = {
        name: np.asarray(response[f"{name}_effect"], dtype="float64").tolist()
        for name in names
        if f"{name}_effect" in response
    }
    for i in range(len(chosen)):
        if fallback[i]:
            out[i] = words["new"] if new_customer[i] else words["untried"]
            continue
        ranked = ranked_rows[i]
        if chosen[i] is None:
            best = ranked[0] if ranked else None
            sentence = words["wait"].format(p=pct(baseline[i]), days=days)
            if best is not None:
                q = min(baseline[i] + effects[names[best]][i], 1)
                sentence += words["wait_best"].format(channel=channel_words[names[best]], q=pct(q))
            else:
                sentence += "."
            out[i] = sentence
            continue
        j = ranked[0]
        p = min(baseline[i] + effects[names[j]][i], 1.0)
        channel = channel_words[names[j]]
        sentence = words["chosen"].format(
            channel=channel[0].upper() + channel[1:], p=pct(p), days=days
        )
        if len(ranked) > 1:
            k = ranked[1]
            q = min(baseline[i] + effects[names[k]][i], 1.0)
            sentence += words["against"].format(q=pct(q), channel=channel_words[names[k]])
        out[i] = sentence + words["without"].format(p=pct(baseline[i]))
    return out


def decide(
    response: dict[str, np.ndarray],
    features: dict[str, np.ndarray],
    open_amount: np.ndarray,
    max_level_sent: np.ndarray,
    default_probability: np.ndarray | None,
    disputed: np.ndarray,
    config: DunningConfig,
    language: str = "en",
    broken_promise: np.ndarray | None = None,
) -> Choice:
    """The learned policy's decision at decision moments described by their features: the
    escalation rules from the invoice's state, then `choose` (its words in `language`). Without
    default probabilities the agency is never allowed (its rule needs the expected recovery).
    After a `broken_promise`: a contact all the same, nothing softer than the hardest sent."""
    amount = np.asarray(open_amount, dtype="float64")
    worth_it = (
        np.zeros(len(amount), dtype=bool)
        if default_probability is None
        else config.escalation.worth_it(amount, default_probability)
    )
    floor = None if broken_promise is None else np.where(broken_promise, max_level_sent, 0)
    allowed = allowed_channels(
        np.asarray(features["days_past_due"]) < 0,
        max_level_sent,
        np.nan_to_num(np.asarray(features["key_account"], dtype="float64")) > 0,
        worth_it,
        disputed,
        no_softer_than=floor,
    )
    new_customer = np.asarray(features["is_new_customer"], dtype="float64") > 0
    return choose(
        response,
        amount,
        allowed,
        new_customer,
        config,
        default_probability=default_probability,
        language=language,
        must_contact=broken_promise,
    )


def respect_gap(
    customer: np.ndarray, day: np.ndarray, last_contact: np.ndarray, gap: int
) -> np.ndarray:
    """Contact days that keep each customer's contact gap: no earlier than its last reminder
    plus the gap, and what falls within the gap after a planned contact is bundled into that
    contact (the same day), as the rules table does. `last_contact` per decision (NO_CONTACT:
    never contacted). One round per distinct contact of a customer (a few)."""
    day = np.where(last_contact == NO_CONTACT, day, np.maximum(day, last_contact + gap))
    out = day.copy()
    todo = np.ones(len(day), dtype=bool)
    size = int(customer.max()) + 1 if len(customer) else 0
    while todo.any():
        first = np.full(size, np.iinfo(np.int64).max)
        np.minimum.at(first, customer[todo], day[todo])
        anchor = first[customer]
        bundled = todo & (day < anchor + gap)
        out[bundled] = anchor[bundled]
        todo &= ~bundled
        # What is left of a customer starts no earlier than the gap after its anchor.
        day = np.where(todo, np.maximum(day, anchor + gap), day)
    return out


def next_moments(
    due: np.ndarray, earliest: np.ndarray, offsets: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first decision moment of each invoice on or after `earliest` (day, 1-based index; 0
    and NaN-like -1 day when none is left) and the moment after it (-1: none)."""
    moments = np.column_stack([next_business_day(due + o) for o in offsets])
    ahead = moments >= np.asarray(earliest)[:, None]
    has = ahead.any(axis=1)
    k = np.where(has, np.argmax(ahead, axis=1), 0)
    rows = np.arange(len(due))
    day = np.where(has, moments[rows, k], -1)
    following = np.where(
        has & (k + 1 < len(offsets)), moments[rows, np.minimum(k + 1, len(offsets) - 1)], -1
    )
    return day, np.where(has, k + 1, 0), following


def template_and_actor(
    channel: np.ndarray, before_due: np.ndarray, key_account: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The message template and who acts, for the learned policy's contacts (the templates and
    actors of configs/dunning.yaml's scenarios)."""
    n = len(channel)
    template = np.full(n, None, dtype=object)
    actor = np.full(n, None, dtype=object)
    for i, name in enumerate(channel):
        if name is None:
            continue
        if name in ("email", "sms"):
            template[i] = "courtesy_before_due" if before_due[i] else "friendly_reminder"
            actor[i] = "automatic"
        elif name == "phone":
            template[i] = "account_manager_call" if key_account[i] else "reminder_call"
            actor[i] = "sales_rep" if key_account[i] else "collector"
        elif name == "letter":
            template[i], actor[i] = "second_reminder_penalties", "collector"
        elif name == "formal_notice":
            template[i], actor[i] = "formal_notice", "collector"
        else:
            template[i], actor[i] = "collection_agency", "credit_manager"
    return template, actor


def alternatives(
    response: dict[str, np.ndarray], choice: Choice, channels: tuple[str, ...] = CHANNELS
) -> list[list[dict]]:
    """Per decision, every channel considered: its estimated chance of payment within the
    window with a 90% interval, its expected value (the one `choose` weighed), and whether the
    rules allow it now."""
    # Per channel with an effect model, its columns as plain values (computed once, not per row).
    considered = []
    for j, channel in enumerate(channels):
        effect = response.get(f"{channel}_effect")
        if effect is None:
            continue
        considered.append(
            (
                channel,
                (~np.isnan(np.asarray(effect, dtype="float64"))).tolist(),
                *(
                    np.asarray(response[name], dtype="float64").tolist()
                    for name in (channel, f"{channel}_low", f"{channel}_high")
                ),
                choice.worth[:, j].tolist(),
                np.asarray(choice.allowed[:, j], dtype=bool).tolist(),
            )
        )
    out = []
    for i in range(len(choice.channel)):
        options = [
            {
                "channel": channel,
                "probability": round(probability[i], 4),
                "probability_low": round(low[i], 4),
                "probability_high": round(high[i], 4),
                "expected_value": round(value[i], 2),
                "allowed": ok[i],
            }
            for channel, estimated, probability, low, high, value, ok in considered
            if estimated[i]
        ]
        out.append(sorted(options, key=lambda o: -o["expected_value"]))
    return out
