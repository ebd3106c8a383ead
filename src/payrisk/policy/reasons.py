"""Reasons in plain words: the facts a score rests on, in French or English.

The contributions are the model's own (TreeSHAP from LightGBM), so a reason is always something the
score really rests on. How they become reasons:
- one reason per fact: features are grouped by family (`payrisk.features.definitions.Family`: the
  payment record, the open balance, the invoice itself...); a family's weight is the sum of its
  features' contributions, and it is told by its feature that weighs most in that direction, so
  "paid 85% late" is never repeated three ways;
- what raises the risk (up to three families) and what lowers it (up to two);
- never a value nobody knows (a missing country, no reminder date yet), never calendar trivia
  (the weekday or month of issue: the model may use them, a credit manager cannot act on them);
- phrased from the feature's value at render time (`describe`), so the pages show the same reason
  in the reader's language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from itertools import pairwise

import numpy as np

from payrisk.core.i18n import Formats
from payrisk.features.definitions import FEATURE_BY_NAME, Family
from payrisk.features.history import UNKNOWN

RAISES, LOWERS = "raises", "lowers"
REASON_COUNT = 3  # families that raise the risk, at most
LOWERING_COUNT = 2  # families that lower it, at most
MIN_CONTRIBUTION = 0.02  # log-odds: a family that moves the score less is not a reason
SILENT_FAMILIES = frozenset({Family.CALENDAR})  # never a reason

FAMILIES: tuple[Family, ...] = tuple(Family)
FAMILY_NAMES: tuple[str, ...] = tuple(family.value for family in FAMILIES)
CHANNEL_LABELS = {
    "en": {"email": "e-mail", "sms": "SMS", "phone": "phone call", "letter": "letter",
           "formal_notice": "formal notice", "agency": "collection agency"},
    "fr": {"email": "e-mail", "sms": "SMS", "phone": "appel", "letter": "courrier",
           "formal_notice": "mise en demeure", "agency": "société de recouvrement"},
}  # fmt: skip

Phrase = Callable[[float | str, Formats], str]


def _fr(f: Formats) -> bool:
    return f.language == "fr"


def _count(v: float, f: Formats) -> str:
    return f.number(v)


def _n(v: float, f: Formats, en: str, fr: str) -> str:
    """A count with its noun in the singular or plural: "1 reminder", "3 relances".
    `en` and `fr` are "singular|plural"."""
    one, many = (fr if _fr(f) else en).split("|")
    return f"{f.number(v)} {one if round(abs(v)) == 1 else many}"


def _delay(v: float, f: Formats) -> str:
    """A signed delay: "12 days late" / "3 days early" / "on time"."""
    if round(v) == 0:
        return "à l'échéance" if _fr(f) else "on time"
    if v > 0:
        return f"{f.days(v)} de retard" if _fr(f) else f"{f.days(v)} late"
    return f"{f.days(v)} d'avance" if _fr(f) else f"{f.days(v)} early"


def _duration(v: float, f: Formats) -> str:
    """Days as days, months or years, as people say a tenure."""
    if v < 60:
        return f.days(v)
    if v < 730:
        months = f.number(v / 30.44)
        return f"{months} mois" if _fr(f) else f"{months} months"
    years = f.number(v / 365.25)
    return f"{years} ans" if _fr(f) else f"{years} years"


def _mean_delay(prefix_en: str, prefix_fr: str) -> Phrase:
    def phrase(v: float, f: Formats) -> str:
        if round(v) == 0:
            return f"{prefix_fr} à l'échéance" if _fr(f) else f"{prefix_en} on the due date"
        side = ("après" if v > 0 else "avant") if _fr(f) else ("after" if v > 0 else "before")
        if _fr(f):
            return f"{prefix_fr} {f.days(v)} {side} l'échéance"
        return f"{prefix_en} {f.days(v)} {side} the due date"

    return phrase


def _amount(en: str, fr: str, none_en: str, none_fr: str) -> Phrase:
    """An amount phrase ("{} already past due"), and what to say when it is nothing."""

    def phrase(v: float, f: Formats) -> str:
        if round(v, 2) == 0:
            return none_fr if _fr(f) else none_en
        return (fr if _fr(f) else en).format(f.money(v, cents=False))

    return phrase


def _counted(en: str, fr: str, none_en: str, none_fr: str) -> Phrase:
    """A count with its noun (`_n`: "singular|plural"), and what to say when it is zero."""

    def phrase(v: float, f: Formats) -> str:
        if v == 0:
            return none_fr if _fr(f) else none_en
        return _n(v, f, en, fr)

    return phrase


def _both(en: Callable[..., str], fr: Callable[..., str]) -> Phrase:
    return lambda v, f: fr(v, f) if _fr(f) else en(v, f)


PHRASES: dict[str, Phrase] = {
    # the invoice
    "log_amount": _both(lambda v, f: f"amount {f.money(np.expm1(v), cents=False)}",
                        lambda v, f: f"montant de {f.money(np.expm1(v), cents=False)}"),
    "terms_days": _both(lambda v, f: f"payment terms of {f.days(v)}",
                        lambda v, f: f"délai de paiement de {f.days(v)}"),
    "days_since_issue": _both(lambda v, f: f"issued {f.days(v)} ago",
                              lambda v, f: f"émise il y a {f.days(v)}"),
    "days_past_due": lambda v, f: (
        (f"déjà {f.days(v)} de retard" if _fr(f) else f"already {f.days(v)} past due") if v > 0
        else ("échéance aujourd'hui" if _fr(f) else "due today") if v == 0
        else (f"échéance dans {f.days(v)}" if _fr(f) else f"due in {f.days(v)}")
    ),
    "amount_vs_customer_mean": _both(
        lambda v, f: f"amount {f.number(v, 1)}× the customer's usual invoice",
        lambda v, f: f"montant {f.number(v, 1)}× la facture habituelle du client"),
    "amount_vs_open_balance": _both(
        lambda v, f: f"this invoice is {f.pct(v)} of the customer's balance",
        lambda v, f: f"cette facture fait {f.pct(v)} de l'encours du client"),
    # this invoice's own dunning
    "reminders_sent": _counted(
        "reminder already sent for this invoice|reminders already sent for this invoice",
        "relance déjà envoyée pour cette facture|relances déjà envoyées pour cette facture",
        "no reminder sent yet for this invoice", "aucune relance encore pour cette facture"),
    "last_reminder_step": lambda v, f: (
        ("pas encore dans le scénario de relance" if _fr(f) else "not yet in dunning") if v == 0
        else (f"relance déjà à l'étape {_count(v, f)}" if _fr(f)
              else f"dunning already at step {_count(v, f)}")
    ),
    "days_since_last_reminder": _both(lambda v, f: f"last reminder {f.days(v)} ago",
                                      lambda v, f: f"dernière relance il y a {f.days(v)}"),
    "last_reminder_channel": lambda v, f: (
        ("pas encore relancée" if _fr(f) else "not reminded yet") if v == "none"
        else (f"dernière relance par {CHANNEL_LABELS['fr'].get(str(v), v)}" if _fr(f)
              else f"last reminder by {CHANNEL_LABELS['en'].get(str(v), v)}")
    ),
    # the customer's payment record
    "is_new_customer": lambda v, f: (
        ("nouveau client : aucun historique de paiement" if _fr(f)
         else "new customer: no payment history yet") if v
        else ("client avec un historique de paiement" if _fr(f) else "has a payment history")
    ),
    "settled_invoices": lambda v, f: (
        ("aucune facture encore réglée" if _fr(f) else "no invoice settled yet") if v == 0
        else (f"{_n(v, f, 'invoice|invoices', 'facture réglée|factures réglées')}"
              + (" jusqu'ici" if _fr(f) else " settled so far"))
    ),
    "late_share": _both(lambda v, f: f"paid {f.pct(v)} of past invoices late",
                        lambda v, f: f"a payé {f.pct(v)} de ses factures en retard"),
    "late_share_recent": _both(
        lambda v, f: f"paid {f.pct(v)} of recent invoices late",
        lambda v, f: f"a payé {f.pct(v)} de ses factures récentes en retard"),
    "late_share_amount_weighted": _both(
        lambda v, f: f"{f.pct(v)} of the amount invoiced so far was paid late",
        lambda v, f: f"{f.pct(v)} du montant facturé jusqu'ici payé en retard"),
    "late_share_long_run_weighted": _both(
        lambda v, f: f"paid {f.pct(v)} of the last year's invoices late",
        lambda v, f: f"a payé {f.pct(v)} des factures de l'année écoulée en retard"),
    "mean_days_late": _mean_delay("pays on average", "paie en moyenne"),
    "recent_mean_days_late": _mean_delay("recently pays", "paie récemment"),
    "days_late_trend": lambda v, f: (
        f"retards en {'hausse' if v > 0 else 'baisse'} ({f.days(v)} par rapport à la moyenne)"
         if _fr(f) else
         f"payment delays {'lengthening' if v > 0 else 'shortening'} ({f.days(v)} against the "
         "long run)"
    ),
    "median_days_late_recent": _both(
        lambda v, f: f"typical delay of the last invoices: {_delay(v, f)}",
        lambda v, f: f"délai typique des dernières factures : {_delay(v, f)}"),
    "max_days_late": _both(lambda v, f: f"worst delay so far: {_delay(v, f)}",
                           lambda v, f: f"pire retard à ce jour : {_delay(v, f)}"),
    "severe_late_share": _both(
        lambda v, f: f"{f.pct(v)} of past invoices paid over a month late",
        lambda v, f: f"{f.pct(v)} des factures payées avec plus d'un mois de retard"),
    "written_off_share": _both(lambda v, f: f"{f.pct(v)} of past invoices written off",
                               lambda v, f: f"{f.pct(v)} des factures passées en perte"),
    "default_share": _both(lambda v, f: f"{f.pct(v)} of past invoices ended in default",
                           lambda v, f: f"{f.pct(v)} des factures restées impayées"),
    "dispute_rate": _both(lambda v, f: f"disputes {f.pct(v)} of invoices",
                          lambda v, f: f"conteste {f.pct(v)} des factures"),
    "open_dispute": lambda v, f: (
        ("un litige est ouvert sur cette facture" if v else "aucun litige ouvert sur cette facture")
        if _fr(f) else
        ("a dispute is open on this invoice" if v else "no dispute open on this invoice")
    ),
    "days_since_dispute": _both(lambda v, f: f"disputed {f.days(v)} ago",
                                lambda v, f: f"contestée il y a {f.days(v)}"),
    "customer_open_disputes": _counted(
        "other dispute open|other disputes open", "autre litige ouvert|autres litiges ouverts",
        "no other dispute open", "aucun autre litige ouvert"),
    "mean_days_to_end_dispute": _both(
        lambda v, f: f"its disputes take {f.days(v)} to settle on average",
        lambda v, f: f"ses litiges se règlent en {f.days(v)} en moyenne"),
    "instalment_share": _both(
        lambda v, f: f"paid {f.pct(v)} of invoices in instalments",
        lambda v, f: f"a payé {f.pct(v)} des factures en plusieurs fois"),
    "promise_kept_share": _both(
        lambda v, f: f"kept {f.pct(v)} of its promises to pay",
        lambda v, f: f"a tenu {f.pct(v)} de ses promesses de paiement"),
    "reminded_share": _both(lambda v, f: f"needed reminders on {f.pct(v)} of invoices",
                            lambda v, f: f"a dû être relancé pour {f.pct(v)} des factures"),
    "mean_days_reminder_to_payment": _both(
        lambda v, f: f"pays {f.days(v)} after a reminder on average",
        lambda v, f: f"paie en moyenne {f.days(v)} après une relance"),
    "days_since_last_settlement": _both(lambda v, f: f"last payment {f.days(v)} ago",
                                        lambda v, f: f"dernier paiement il y a {f.days(v)}"),
    # how much and how long it has been buying
    "invoices_issued": _counted(
        "earlier invoice|earlier invoices", "facture antérieure|factures antérieures",
        "the customer's first invoice", "première facture du client"),
    "days_since_first_invoice": _both(
        lambda v, f: f"first invoice {_duration(v, f)} ago",
        lambda v, f: f"première facture il y a {_duration(v, f)}"),
    # the customer's other open invoices
    "open_invoices": _counted(
        "other invoice open|other invoices open", "autre facture ouverte|autres factures ouvertes",
        "no other invoice open", "aucune autre facture ouverte"),
    "open_amount": _amount("{} already outstanding", "{} déjà en cours sur d'autres factures",
                           "nothing else outstanding", "aucun autre encours"),
    "past_due_amount": _amount("{} already past due", "{} déjà échus",
                               "nothing past due", "rien d'échu"),
    "past_due_1_30_amount": _amount("{} past due by 1-30 days", "{} échus depuis 1 à 30 jours",
                                    "nothing 1-30 days past due",
                                    "rien d'échu depuis 1 à 30 jours"),
    "past_due_31_60_amount": _amount("{} past due by 31-60 days", "{} échus depuis 31 à 60 jours",
                                     "nothing 31-60 days past due",
                                     "rien d'échu depuis 31 à 60 jours"),
    "past_due_61_90_amount": _amount("{} past due by 61-90 days", "{} échus depuis 61 à 90 jours",
                                     "nothing 61-90 days past due",
                                     "rien d'échu depuis 61 à 90 jours"),
    "past_due_over_90_amount": _amount("{} past due by over 90 days",
                                       "{} échus depuis plus de 90 jours",
                                       "nothing over 90 days past due",
                                       "rien d'échu depuis plus de 90 jours"),
    "past_due_invoices": _counted(
        "other invoice past due|other invoices past due",
        "autre facture échue|autres factures échues",
        "no other invoice past due", "aucune autre facture échue"),
    "past_due_share": _both(lambda v, f: f"{f.pct(v)} of the open balance is past due",
                            lambda v, f: f"{f.pct(v)} de l'encours est échu"),
    # dunning the customer received
    "reminders_received": _counted(
        "reminder received so far|reminders received so far",
        "relance reçue jusqu'ici|relances reçues jusqu'ici",
        "never reminded", "jamais relancé"),
    "hard_reminders_received": _counted(
        "formal notice or agency referral so far|formal notices or agency referrals so far",
        "mise en demeure ou recouvrement déjà|mises en demeure ou recouvrements déjà",
        "never sent a formal notice", "jamais mis en demeure"),
    "days_since_customer_contact": _both(lambda v, f: f"last contacted {f.days(v)} ago",
                                         lambda v, f: f"dernier contact il y a {f.days(v)}"),
    # customer attributes
    "country": lambda v, f: (
        f"pays : {_territory(v, f)}" if _fr(f) else f"based in {_territory(v, f)}"
    ),
    "industry": _both(lambda v, f: f"industry: {v}", lambda v, f: f"secteur : {v}"),
    "credit_limit": _both(lambda v, f: f"credit limit of {f.money(v, cents=False)}",
                          lambda v, f: f"plafond de crédit de {f.money(v, cents=False)}"),
    "credit_utilisation": _both(
        lambda v, f: f"would use {f.pct(v)} of its credit limit",
        lambda v, f: f"utiliserait {f.pct(v)} de son plafond de crédit"),
    "key_account": lambda v, f: (
        ("compte clé" if v else "pas un compte clé") if _fr(f)
        else ("key account" if v else "not a key account")
    ),
    "customer_tenure_days": _both(lambda v, f: f"customer for {_duration(v, f)}",
                                  lambda v, f: f"client depuis {_duration(v, f)}"),
}  # fmt: skip


def _territory(code: object, f: Formats) -> str:
    """A country code as its name in the reader's language ("FR" -> "France")."""
    return f.locale.territories.get(str(code).upper(), str(code))


def describe(feature: str, value: object, formats: Formats | None = None) -> str:
    """One plain-words phrase for a feature value, in `formats`' language.

    Phrases are remembered (the most recent PHRASE_CACHE of them): a batch of invoices repeats
    the same values (days, counts, shares of few invoices) and Babel's number formatting costs
    more than the rest of a reason together."""
    formats = formats or Formats()
    if isinstance(value, np.generic):
        value = value.item()
    try:
        return _remembered(feature, value, formats)
    except TypeError:  # a value that cannot be a key: phrased every time
        return _phrase(feature, value, formats)


PHRASE_CACHE = 65_536


@lru_cache(maxsize=PHRASE_CACHE, typed=True)  # typed: 1, 1.0 and True are told apart
def _remembered(feature: str, value: object, formats: Formats) -> str:
    return _phrase(feature, value, formats)


def _phrase(feature: str, value: object, formats: Formats) -> str:
    phrase = PHRASES.get(feature)
    if phrase is not None:
        return phrase(value, formats)
    shown = formats.number(value, 2) if isinstance(value, int | float) else str(value)
    return f"{feature.replace('_', ' ')}: {shown}"


def _plain(value: object) -> object:
    """A feature's value as the reasons show it: a Python value, floats to 6 decimals."""
    if isinstance(value, np.generic):
        value = value.item()
    return round(value, 6) if isinstance(value, float) else value


def family_of(name: str) -> Family:
    """A feature's family; a feature declared in train.yaml (not built in) is "your own"."""
    feature = FEATURE_BY_NAME.get(name)
    return Family.DECLARED if feature is None else feature.family


@lru_cache(maxsize=64)
def _layout(names: tuple[str, ...]) -> tuple[np.ndarray, tuple[int, ...]]:
    """Per model's feature names, once: each column's family index, and the columns that may
    be a reason (not of a silent family)."""
    families = np.array([FAMILIES.index(family_of(n)) for n in names], dtype="int64")
    speaking = tuple(j for j, n in enumerate(names) if family_of(n) not in SILENT_FAMILIES)
    return families, speaking


def _known_mask(names: tuple[str, ...], features: Mapping[str, np.ndarray]) -> np.ndarray:
    """rows x names: the value is known and the family may be a reason."""
    rows = len(next(iter(features.values()))) if features else 0
    mask = np.zeros((rows, len(names)), dtype=bool)
    numeric: list[int] = []
    for column in _layout(tuple(names))[1]:
        name = names[column]
        if name not in features:
            continue
        values = np.asarray(features[name])
        if values.dtype == object:
            mask[:, column] = (values != UNKNOWN) & (values != "") & (values != None)  # noqa: E711
        else:
            numeric.append(column)
    if numeric:  # one pass over the numeric columns together
        block = np.column_stack([np.asarray(features[names[j]], dtype="float64") for j in numeric])
        mask[:, numeric] = ~np.isnan(block)
        # A customer without any settled invoice (a prospect, a first order) was never reminded
        # because it never had anything to pay late: "never reminded" would read as a good
        # record it does not have.
        if "is_new_customer" in features:
            new = np.asarray(features["is_new_customer"], dtype="float64") > 0
            received = _layout(tuple(names))[0][numeric] == FAMILIES.index(Family.DUNNING_RECEIVED)
            for k in np.flatnonzero(received):
                mask[new & (block[:, k] == 0), numeric[k]] = False
    return mask


def reason_lists(
    matrix: np.ndarray,
    names: tuple[str, ...],
    features: Mapping[str, np.ndarray],
    formats: Formats | None = None,
    top: int = REASON_COUNT,
    lowering: int = LOWERING_COUNT,
) -> list[list[dict]]:
    """For each row, the families that raise the score most, then those that lower it most.

    `matrix` holds contributions (rows x names, no bias). Each entry: the family, the feature that
    tells it, its value, the direction, the family's summed contribution and the phrase. Choosing
    is vectorised; only the few reasons kept per row are phrased one by one.
    """
    formats = formats or Formats()
    effective = np.where(_known_mask(names, features), matrix, 0.0)
    families = _layout(tuple(names))[0]
    net = np.zeros((len(effective), len(FAMILIES)))
    teller = {RAISES: np.zeros(net.shape, dtype="int64"), LOWERS: np.zeros(net.shape, "int64")}
    for k in np.unique(families):
        columns = np.flatnonzero(families == k)
        block = effective[:, columns]
        net[:, k] = block.sum(axis=1)
        teller[RAISES][:, k] = columns[np.argmax(block, axis=1)]
        teller[LOWERS][:, k] = columns[np.argmin(block, axis=1)]
    # Candidates per row: the `top` most raising families, then the `lowering` most lowering.
    family = np.hstack([
        np.argsort(-net, axis=1, kind="stable")[:, :top],
        np.argsort(net, axis=1, kind="stable")[:, :lowering],
    ])  # fmt: skip
    raises = np.arange(family.shape[1]) < min(top, net.shape[1])
    row = np.arange(len(net))[:, None]
    weight = net[row, family]
    column = np.where(raises, teller[RAISES][row, family], teller[LOWERS][row, family])
    # A family moving the score too little is no reason; nor one whose features pull both
    # ways, none of which tells this side.
    kept = (np.where(raises, weight, -weight) >= MIN_CONTRIBUTION) & (
        (effective[row, column] > 0) == raises
    )
    rows, slots = np.nonzero(kept)  # row by row, candidates in order
    column, family, weight = column[rows, slots], family[rows, slots], weight[rows, slots]
    values: list = [None] * len(rows)
    for j in np.unique(column):  # each feature's values read in one go
        at = np.flatnonzero(column == j)
        read = np.asarray(features[names[j]])[rows[at]].tolist()
        for k, value in zip(at.tolist(), read, strict=True):
            values[k] = _plain(value)
    direction = np.where(raises[slots], RAISES, LOWERS).tolist()
    entries = [
        {
            "feature": names[j],
            "family": FAMILY_NAMES[k],
            "direction": d,
            "contribution": round(w, 4),
            "value": v,
            "text": describe(names[j], v, formats),
        }
        for j, k, d, w, v in zip(
            column.tolist(), family.tolist(), direction, weight.tolist(), values, strict=True
        )
    ]
    bounds = np.searchsorted(rows, np.arange(len(net) + 1)).tolist()
    return [entries[lo:hi] for lo, hi in pairwise(bounds)]


def rephrase(entries: list[dict] | None, formats: Formats) -> list[dict]:
    """The same reasons in another language (the pages, from the bundle's stored values)."""
    return [
        {**entry, "text": describe(entry["feature"], entry.get("value"), formats)}
        for entry in entries or []
    ]
