"""Dunning policy: from scores to a scenario per customer and the next action on each invoice.

Business rules only, vectorised over invoices; the thresholds are in `configs/dunning.yaml`.
- Segmentation: the first matching rule on the customer's amount-weighted risk picks one scenario
  for all its open invoices.
- An invoice moves one step at a time through its scenario (a formal notice is never the first
  contact); steps before the due date that can no longer happen are skipped.
- No contact before the invoice exists, none for a disputed invoice (it goes to dispute
  resolution), no two contacts of a customer closer than the configured gap: what falls due
  within a contact is bundled into it.
- Agency or court only when the expected recovery covers the legal costs; otherwise the credit
  manager reviews the case (write-off, payment plan).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from payrisk.core.days import to_days
from payrisk.data.contract import CHANNELS, Channel
from payrisk.features.streams import SMALL_LOOKUP
from payrisk.policy.config import DunningConfig

ACTION_REMIND = "remind"
ACTION_ESCALATE = "escalate"
ACTION_WRITE_OFF_REVIEW = "write_off_review"
ACTION_DISPUTE = "dispute_resolution"
ACTION_SCENARIO_DONE = "credit_manager_review"
ACTION_WAIT = "wait"  # the learned policy expects more from waiting: no contact until action_date

SCORED_COLUMNS = (
    "invoice_id",
    "customer_id",
    "issue_date",
    "due_date",
    "open_amount",
    "disputed",
    "key_account",
    "late_probability",
    "default_probability",
    "expected_days_late",
    "reminders_sent",
)

Columns = Mapping[str, Any]  # column name -> one value per invoice (arrays, Series or a frame)
NO_CONTACT = np.iinfo(np.int64).min  # a customer never contacted


_STEP_TABLES: dict[int, tuple[DunningConfig, StepTable]] = {}


def _flags(values: Any) -> np.ndarray:
    """Booleans with missing as False (the frame path may carry None or NaN)."""
    array = np.asarray(values)
    if array.dtype == bool:
        return array
    return pd.Series(array).fillna(False).to_numpy(dtype="bool")


def code_of(values: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """Position of each value in `names` (-1 where absent): a dict probe per value for a
    request, one vectorised lookup for a portfolio."""
    if len(values) <= SMALL_LOOKUP:
        lookup = {name: i for i, name in enumerate(names)}
        return np.array([lookup.get(v, -1) for v in values], dtype="int64")
    return pd.Index(names, dtype=object).get_indexer(np.asarray(values, dtype=object))


@dataclass(frozen=True)
class CustomerCodes:
    """Each invoice's customer as a code into `ids` (sorted), shared by every rule below."""

    codes: np.ndarray
    ids: np.ndarray

    @classmethod
    def of(cls, customer_ids: Any) -> CustomerCodes:
        values = np.asarray(customer_ids, dtype=object)
        if len(values) <= SMALL_LOOKUP:  # a request: numpy's sort beats building a hash table
            ids, codes = np.unique(values, return_inverse=True)
            return cls(codes.astype("intp"), ids)
        codes, ids = pd.factorize(values, sort=True)
        return cls(codes, np.asarray(ids, dtype=object))

    def __len__(self) -> int:
        return len(self.ids)

    def sum(self, weights: np.ndarray) -> np.ndarray:
        return np.bincount(self.codes, weights=weights, minlength=len(self.ids))


def risk_arrays(scored: Columns, customers: CustomerCodes) -> dict[str, np.ndarray]:
    """Amount-weighted risk of each customer's open invoices: what segmentation looks at."""
    open_amount = np.asarray(scored["open_amount"], dtype="float64")
    weight = np.clip(open_amount, 0.01, None)
    total = customers.sum(weight)
    return {
        "late_probability": customers.sum(
            np.asarray(scored["late_probability"], dtype="float64") * weight
        )
        / total,
        "default_probability": customers.sum(
            np.asarray(scored["default_probability"], dtype="float64") * weight
        )
        / total,
        "expected_days_late": customers.sum(
            np.asarray(scored["expected_days_late"], dtype="float64") * weight
        )
        / total,
        "open_amount": customers.sum(open_amount).round(2),
        "open_invoices": np.bincount(customers.codes, minlength=len(customers)),
        "key_account": customers.sum(_flags(scored["key_account"]).astype("float64")) > 0,
    }


def scenario_arrays(risk: Columns, config: DunningConfig) -> np.ndarray:
    """First segment rule whose every condition holds, per customer (object array of names)."""
    n = len(risk["late_probability"])
    chosen = np.full(n, None, dtype=object)
    for rule in config.segments:
        mask = np.ones(n, dtype=bool)
        for name in (
            "late_probability",
            "default_probability",
            "expected_days_late",
            "open_amount",
        ):
            low, high = getattr(rule, f"min_{name}"), getattr(rule, f"max_{name}")
            values = np.asarray(risk[name], dtype="float64")
            if low is not None:
                mask &= values >= low
            if high is not None:
                mask &= values <= high
        if rule.key_account is not None:
            mask &= np.asarray(risk["key_account"], dtype=bool) == rule.key_account
        chosen[(chosen == None) & mask] = rule.scenario  # noqa: E711 (elementwise)
    chosen[chosen == None] = str(pd.NA)  # noqa: E711 (no rule matched, as before)
    return chosen


@dataclass(frozen=True)
class StepTable:
    """The scenarios' steps as arrays [scenario, step]; padded beyond a scenario's last step."""

    names: tuple[str, ...]
    n_steps: np.ndarray
    offset_days: np.ndarray
    channel: np.ndarray
    template: np.ndarray
    actor: np.ndarray

    @classmethod
    def of(cls, config: DunningConfig) -> StepTable:
        """The table of `config`, built once per configuration object (it is immutable)."""
        cached = _STEP_TABLES.get(id(config))
        if cached is None or cached[0] is not config:
            if len(_STEP_TABLES) > 16:  # configurations are loaded once per run; stay bounded
                _STEP_TABLES.clear()
            cached = _STEP_TABLES[id(config)] = (config, cls.build(config))
        return cached[1]

    @classmethod
    def build(cls, config: DunningConfig) -> StepTable:
        names = tuple(config.scenarios)
        width = max(len(s.steps) for s in config.scenarios.values())
        shape = (len(names), width)
        offsets = np.full(shape, np.iinfo(np.int32).max, dtype="int64")
        channel = np.full(shape, None, dtype=object)
        template = np.full(shape, None, dtype=object)
        actor = np.full(shape, None, dtype=object)
        for row, name in enumerate(names):
            for column, step in enumerate(config.scenarios[name].steps):
                offsets[row, column] = step.offset_days
                channel[row, column] = step.channel
                template[row, column] = step.template
                actor[row, column] = step.actor
        n_steps = np.array([len(config.scenarios[n].steps) for n in names], dtype="int64")
        return cls(names, n_steps, offsets, channel, template, actor)


def action_arrays(
    scored: Columns,
    customers: CustomerCodes,
    scenario: np.ndarray,
    last_contact_day: np.ndarray,
    today: int,
    config: DunningConfig,
) -> dict[str, np.ndarray]:
    """The next dunning action of each open invoice, bundled per customer.

    `scenario` (names) and `last_contact_day` (the customer's latest reminder before today, as a
    day number or NO_CONTACT) are per customer code. Plain arrays throughout: the service calls
    this for every request, often for a single invoice.
    """
    steps = StepTable.of(config)
    codes = customers.codes
    scenario_code = code_of(scenario, steps.names)[codes]
    n_steps = steps.n_steps[scenario_code]
    offsets = steps.offset_days[scenario_code]  # invoices x steps
    due = to_days(scored["due_date"])
    issue = to_days(scored["issue_date"])

    # Steps before the due date whose day has passed cannot happen any more: skip them.
    passed_pre_due = ((offsets < 0) & (due[:, None] + offsets < today)).sum(axis=1)
    sent = np.nan_to_num(np.asarray(scored["reminders_sent"], dtype="float64")).astype("int64")
    step_number = np.maximum(sent, passed_pre_due) + 1
    finished = step_number > n_steps
    column = np.minimum(step_number, n_steps) - 1
    channel = steps.channel[scenario_code, column].copy()
    template = steps.template[scenario_code, column].copy()
    actor = steps.actor[scenario_code, column].copy()

    gap = config.contact.min_days_between_contacts
    earliest = np.where(last_contact_day == NO_CONTACT, today, last_contact_day + gap)[codes]
    action_day = np.maximum.reduce(
        [due + steps.offset_days[scenario_code, column], np.full_like(due, today), issue, earliest]
    )

    action = np.full(len(codes), ACTION_REMIND, dtype=object)
    expected_recovery = (
        np.asarray(scored["open_amount"], dtype="float64")
        * np.asarray(scored["default_probability"], dtype="float64")
        * config.escalation.recovery_rate
    )
    legal = channel == Channel.AGENCY.value
    worth_it = expected_recovery > config.escalation.legal_costs
    action[legal & worth_it] = ACTION_ESCALATE
    action[legal & ~worth_it] = ACTION_WRITE_OFF_REVIEW
    action[finished] = ACTION_SCENARIO_DONE
    manual = (action == ACTION_WRITE_OFF_REVIEW) | (action == ACTION_SCENARIO_DONE)
    channel[manual], actor[manual], template[manual] = None, "credit_manager", None
    disputed = _flags(scored["disputed"])
    action[disputed] = ACTION_DISPUTE
    channel[disputed], actor[disputed], template[disputed] = None, "collector", None
    action_day = np.where(disputed, today, action_day)

    # One contact per customer: what falls due before the next allowed contact joins it.
    contact = (action == ACTION_REMIND) | (action == ACTION_ESCALATE)
    first = np.full(len(customers), np.iinfo(np.int64).max, dtype="int64")
    np.minimum.at(first, codes[contact], action_day[contact])
    first = first[codes]
    bundled = contact & (action_day < first + gap)
    later = contact & ~bundled
    action_day = np.where(bundled, first, action_day)
    action_day = np.where(later, np.maximum(action_day, first + gap), action_day)

    return {
        "scenario": np.asarray(steps.names, dtype=object)[scenario_code],
        "action": action,
        "step": np.where(disputed | finished, np.nan, step_number).astype("float64"),
        "channel": channel,
        "template": template,
        "actor": actor,
        "action_date": action_day.astype("datetime64[D]").astype("datetime64[ns]"),
        "expected_recovery": expected_recovery.round(2),
    }


def priority_arrays(open_amount: Any, default_probability: Any, expected_days_late: Any) -> dict:
    """Expected loss (open amount x default probability) first, then expected delay."""
    expected_loss = (
        np.asarray(open_amount, dtype="float64") * np.asarray(default_probability, dtype="float64")
    ).round(2)
    days_late = np.asarray(expected_days_late, dtype="float64")
    # Descending on both, ties in input order (lexsort is stable; NaN last as in pandas).
    order = np.lexsort((-days_late, -expected_loss))
    rank = np.empty(len(order), dtype="int64")
    rank[order] = np.arange(1, len(order) + 1)
    return {"expected_loss": expected_loss, "priority_rank": rank}


def collector_priority(scored: pd.DataFrame) -> pd.DataFrame:
    """`priority_arrays` on a frame: expected loss, expected delay and rank, indexed like it."""
    priority = priority_arrays(
        scored["open_amount"], scored["default_probability"], scored["expected_days_late"]
    )
    return pd.DataFrame(
        {
            "expected_loss": priority["expected_loss"],
            "expected_days_late": scored["expected_days_late"].to_numpy(),
            "priority_rank": priority["priority_rank"],
        },
        index=scored.index,
    )


def customer_plan_arrays(
    scored: Columns,
    plan: Columns,
    customers: CustomerCodes,
    risk: dict[str, np.ndarray],
    scenario: np.ndarray,
) -> dict[str, np.ndarray]:
    """Per customer (sorted ids): its scenario, risk, and the next contact.

    The next contact is the earliest planned contact; its channel, actor and step are those of
    the hardest step among the invoices it covers.
    """
    codes, n = customers.codes, len(customers)
    action = np.asarray(plan["action"], dtype=object)
    contact = (action == ACTION_REMIND) | (action == ACTION_ESCALATE)
    day = to_days(plan["action_date"])
    first = np.full(n, np.iinfo(np.int64).max, dtype="int64")
    np.minimum.at(first, codes[contact], day[contact])
    in_next = contact & (day == first[codes])
    channel = np.asarray(plan["channel"], dtype=object)
    hardness = code_of(channel, tuple(CHANNELS)).astype("float64")  # none -> -1
    step = np.nan_to_num(np.asarray(plan["step"], dtype="float64"))
    rows = np.flatnonzero(in_next)
    rows = rows[np.lexsort((step[rows], hardness[rows], codes[rows]))]
    last_of_customer = np.ones(len(rows), dtype=bool)
    last_of_customer[:-1] = codes[rows][1:] != codes[rows][:-1]
    hardest = rows[last_of_customer]  # one row per customer that has a next contact
    at = np.full(n, -1, dtype="int64")
    at[codes[hardest]] = hardest
    has = at >= 0
    safe = np.maximum(at, 0)

    def of_hardest(values: np.ndarray, missing: Any) -> np.ndarray:
        if not len(values):
            return np.full(n, missing, dtype=object if missing is None else values.dtype)
        return np.where(has, values[safe], missing)

    open_amount = np.asarray(scored["open_amount"], dtype="float64")
    action_date = np.asarray(plan["action_date"], dtype="datetime64[ns]")
    return {
        "customer_id": customers.ids,
        **risk,
        "scenario": scenario,
        "next_contact_date": of_hardest(action_date, np.datetime64("NaT", "ns")),
        "next_contact_channel": of_hardest(channel, None),
        "next_contact_action": of_hardest(action, None),
        "next_contact_actor": of_hardest(np.asarray(plan["actor"], dtype=object), None),
        "next_contact_step": of_hardest(step, np.nan).astype("float64"),
        "next_contact_invoices": np.bincount(codes[in_next], minlength=n),
        "next_contact_amount": np.bincount(
            codes[in_next], weights=open_amount[in_next], minlength=n
        ).round(2),
        "disputed_invoices": np.bincount(codes[action == ACTION_DISPUTE], minlength=n),
        "expected_loss": customers.sum(
            open_amount * np.asarray(scored["default_probability"], dtype="float64")
        ).round(2),
    }


@dataclass(frozen=True)
class DunningPlan:
    invoices: dict[str, np.ndarray]  # per invoice, in input order: action, dates, priority
    customers: dict[str, np.ndarray]  # per customer, sorted by id: risk, scenario, next contact


def plan_arrays(
    scored: Columns,
    last_contact_day: np.ndarray,
    today: int,
    config: DunningConfig,
    adjust: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None,
) -> DunningPlan:
    """The dunning plan of scored open invoices on plain arrays (the one implementation).

    `last_contact_day` is per invoice (its customer's latest reminder before `today`, a day
    number, NO_CONTACT if none); `today` is the as-of day number. `adjust` may change the next
    actions before the customers' next contacts are drawn from them (the learned policy).
    """
    missing = [c for c in SCORED_COLUMNS if c not in scored]
    if missing:
        raise ValueError(f"scored invoices lack column(s) {missing}")
    customers = CustomerCodes.of(scored["customer_id"])
    contacted = np.full(len(customers), NO_CONTACT, dtype="int64")
    np.maximum.at(contacted, customers.codes, np.asarray(last_contact_day, dtype="int64"))
    risk = risk_arrays(scored, customers)
    scenario = scenario_arrays(risk, config)
    actions = action_arrays(scored, customers, scenario, contacted, today, config)
    if adjust is not None:
        actions = adjust(actions)
    priority = priority_arrays(
        scored["open_amount"], scored["default_probability"], scored["expected_days_late"]
    )
    return DunningPlan(
        invoices={**actions, **priority},
        customers=customer_plan_arrays(scored, actions, customers, risk, scenario),
    )


def frame(columns: Mapping[str, np.ndarray], index: pd.Index | None = None) -> pd.DataFrame:
    """A frame of plan columns; text columns stay object so that None stays None (JSON)."""
    return pd.DataFrame(
        {
            name: pd.Series(values, dtype=object, index=index)
            if values.dtype == object
            else pd.Series(values, index=index)
            for name, values in columns.items()
        },
        index=index,
    )
