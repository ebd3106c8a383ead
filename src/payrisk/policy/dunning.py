"""Dunning policy: from scores to a scenario per customer and the next action on each invoice.

Business rules only, vectorised over invoices; the thresholds are in `configs/dunning.yaml`.
- Segmentation: the first matching rule on the customer's amount-weighted risk picks one scenario
  for all its open invoices.
- An invoice moves one step at a time through its scenario (a formal notice is never the first
  contact); steps before the due date that can no longer happen are skipped.
- No contact before the invoice exists, none for a disputed invoice (it goes to dispute
  resolution), no two contacts of a customer closer than the configured gap: what falls due
  within a contact is bundled into it.
- Every action falls on a working day (`calendar`: worked weekdays, public and company holidays);
  one that would fall on a day off moves to the next working day.
- Agency or court only when the expected recovery covers the legal costs; otherwise the credit
  manager reviews the case (write-off, payment plan).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from payrisk.core.days import NEVER as NO_DAY
from payrisk.core.days import to_days
from payrisk.data.contract import CHANNELS, Channel
from payrisk.features.streams import SMALL_LOOKUP
from payrisk.policy.config import DunningConfig, recovery_rate
from payrisk.policy.ladder import LadderSteps, lawful, level_of, one_contact_a_day
from payrisk.policy.workdays import next_working_day

ACTION_REMIND = "remind"
ACTION_ESCALATE = "escalate"
ACTION_WRITE_OFF_REVIEW = "write_off_review"
ACTION_DISPUTE = "dispute_resolution"
ACTION_SCENARIO_DONE = "credit_manager_review"
ACTION_WAIT = "wait"  # the learned policy expects more from waiting: no contact until action_date
ACTION_DIRECT_DEBIT = "direct_debit"  # collected by direct debit: no reminder
ACTIONS = (
    ACTION_REMIND,
    ACTION_ESCALATE,
    ACTION_WRITE_OFF_REVIEW,
    ACTION_DISPUTE,
    ACTION_SCENARIO_DONE,
    ACTION_WAIT,
    ACTION_DIRECT_DEBIT,
)
CONTACT_ACTIONS = (ACTION_REMIND, ACTION_ESCALATE)  # the customer hears from us

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
NO_PLANNED_CONTACT = np.iinfo(np.int64).max  # a customer with no contact planned


def is_contact(action: Any) -> np.ndarray:
    """Which actions reach the customer (a reminder or an escalation): what the contact gap and
    the bundling of contacts count."""
    action = np.asarray(action, dtype=object)
    return np.logical_or.reduce([action == kind for kind in CONTACT_ACTIONS])


def earliest_contact(contacted: np.ndarray, today: int, gap: int) -> np.ndarray:
    """The first day each customer may hear from us again: `gap` days after its last contact
    (`contacted`, NO_CONTACT if never), or `today` if it was never contacted."""
    contacted = np.asarray(contacted, dtype="int64")
    return np.where(contacted == NO_CONTACT, today, contacted + gap)


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

    def latest(self, days: np.ndarray) -> np.ndarray:
        """Per customer, the latest of its invoices' `days` (NO_CONTACT where it has none)."""
        out = np.full(len(self.ids), NO_CONTACT, dtype="int64")
        np.maximum.at(out, self.codes, np.asarray(days, dtype="int64"))
        return out

    def first_contact(self, action: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Per customer, the earliest day among its invoices' contacts (NO_PLANNED_CONTACT where
        none is planned)."""
        contact = is_contact(action)
        out = np.full(len(self.ids), NO_PLANNED_CONTACT, dtype="int64")
        np.minimum.at(out, self.codes[contact], np.asarray(days, dtype="int64")[contact])
        return out


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
    ladder: LadderSteps  # what the ladder substitutes, per scenario

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
        ladder = LadderSteps.of(config.scenarios)
        return cls(names, n_steps, offsets, channel, template, actor, ladder)


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
    earliest = earliest_contact(last_contact_day, today, gap)[codes]
    action_day = np.maximum.reduce(
        [due + steps.offset_days[scenario_code, column], np.full_like(due, today), issue, earliest]
    )

    action = np.full(len(codes), ACTION_REMIND, dtype=object)
    expected_recovery = config.escalation.expected_recovery(
        scored["open_amount"], scored["default_probability"]
    )
    legal = channel == Channel.AGENCY.value
    worth_it = config.escalation.worth_it(scored["open_amount"], scored["default_probability"])
    action[legal & worth_it] = ACTION_ESCALATE
    action[legal & ~worth_it] = ACTION_WRITE_OFF_REVIEW
    action[finished] = ACTION_SCENARIO_DONE
    manual = (action == ACTION_WRITE_OFF_REVIEW) | (action == ACTION_SCENARIO_DONE)
    channel[manual], actor[manual], template[manual] = None, "credit_manager", None
    disputed = _flags(scored["disputed"])
    action[disputed] = ACTION_DISPUTE
    channel[disputed], actor[disputed], template[disputed] = None, "collector", None
    action_day = np.where(disputed, today, action_day)
    # Nobody acts on a day off: every action moves to the next working day.
    workdays = config.calendar.business_days
    step_day, action_day = action_day, next_working_day(action_day, workdays)

    action_day = bundle_contacts(action, action_day, step_day, customers, gap, workdays)

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


def bundle_contacts(
    action: np.ndarray,
    action_day: np.ndarray,
    step_day: np.ndarray,
    customers: CustomerCodes,
    gap: int,
    workdays: np.busdaycalendar,
    not_before: np.ndarray | None = None,
) -> np.ndarray:
    """One contact per customer: a step whose day (`step_day`) comes before the next allowed
    contact joins the customer's first one; the others wait for the first working day `gap` days
    after it. A contact never moves before its `not_before` day (a hold, a promised date): such
    a step waits instead of joining an earlier contact. Working `action_day`s in, working days
    out."""
    codes = customers.codes
    contact = is_contact(action)
    first = customers.first_contact(action, action_day)
    planned = first != NO_PLANNED_CONTACT
    allowed = np.zeros(len(customers), dtype="int64")
    allowed[planned] = next_working_day(first[planned] + gap, workdays)
    first, allowed = first[codes], allowed[codes]
    bundled = contact & (step_day < first + gap)
    if not_before is not None:
        bundled &= first >= not_before
    later = contact & ~bundled
    action_day = np.where(bundled, first, action_day)
    return np.where(later, np.maximum(action_day, allowed), action_day)


def priority_arrays(
    open_amount: Any, default_probability: Any, expected_days_late: Any, recovery: float = 0.0
) -> dict:
    """Expected loss (open amount x default probability x (1 - recovery rate)) first, then
    expected delay. The rate is the same for every invoice, so it never changes the order."""
    expected_loss = (
        np.asarray(open_amount, dtype="float64")
        * np.asarray(default_probability, dtype="float64")
        * (1.0 - recovery)
    ).round(2)
    days_late = np.asarray(expected_days_late, dtype="float64")
    # Descending on both, ties in input order (lexsort is stable; NaN last as in pandas).
    order = np.lexsort((-days_late, -expected_loss))
    rank = np.empty(len(order), dtype="int64")
    rank[order] = np.arange(1, len(order) + 1)
    return {"expected_loss": expected_loss, "priority_rank": rank}


def collector_priority(scored: pd.DataFrame, recovery: float = 0.0) -> pd.DataFrame:
    """`priority_arrays` on a frame: expected loss, expected delay and rank, indexed like it."""
    priority = priority_arrays(
        scored["open_amount"],
        scored["default_probability"],
        scored["expected_days_late"],
        recovery,
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
    recovery: float = 0.0,
) -> dict[str, np.ndarray]:
    """Per customer (sorted ids): its scenario, risk, and the next contact.

    The next contact is the earliest planned contact; its channel, actor and step are those of
    the most advanced step among the invoices it covers (the harder channel between equal
    steps): a courtesy reminder of a not-yet-due invoice never speaks for an overdue one.
    """
    codes, n = customers.codes, len(customers)
    action = np.asarray(plan["action"], dtype=object)
    contact = is_contact(action)
    day = to_days(plan["action_date"])
    first = customers.first_contact(action, day)
    in_next = contact & (day == first[codes])
    channel = np.asarray(plan["channel"], dtype=object)
    hardness = code_of(channel, tuple(CHANNELS)).astype("float64")  # none -> -1
    step = np.nan_to_num(np.asarray(plan["step"], dtype="float64"))
    rows = np.flatnonzero(in_next)
    rows = rows[np.lexsort((hardness[rows], step[rows], codes[rows]))]
    last_of_customer = np.ones(len(rows), dtype=bool)
    last_of_customer[:-1] = codes[rows][1:] != codes[rows][:-1]
    leading = rows[last_of_customer]  # one row per customer that has a next contact
    at = np.full(n, -1, dtype="int64")
    at[codes[leading]] = leading
    has = at >= 0
    safe = np.maximum(at, 0)

    def of_leading(values: np.ndarray, missing: Any) -> np.ndarray:
        if not len(values):
            return np.full(n, missing, dtype=object if missing is None else values.dtype)
        return np.where(has, values[safe], missing)

    open_amount = np.asarray(scored["open_amount"], dtype="float64")
    action_date = np.asarray(plan["action_date"], dtype="datetime64[ns]")
    return {
        "customer_id": customers.ids,
        **risk,
        "scenario": scenario,
        "next_contact_date": of_leading(action_date, np.datetime64("NaT", "ns")),
        "next_contact_channel": of_leading(channel, None),
        "next_contact_action": of_leading(action, None),
        "next_contact_actor": of_leading(np.asarray(plan["actor"], dtype=object), None),
        "next_contact_step": of_leading(step, np.nan).astype("float64"),
        "next_contact_invoices": np.bincount(codes[in_next], minlength=n),
        "next_contact_amount": np.bincount(
            codes[in_next], weights=open_amount[in_next], minlength=n
        ).round(2),
        "disputed_invoices": np.bincount(codes[action == ACTION_DISPUTE], minlength=n),
        "expected_loss": (
            customers.sum(open_amount * np.asarray(scored["default_probability"], dtype="float64"))
            * (1.0 - recovery)
        ).round(2),
    }


@dataclass(frozen=True)
class DunningPlan:
    invoices: dict[str, np.ndarray]  # per invoice, in input order: action, dates, priority
    customers: dict[str, np.ndarray]  # per customer, sorted by id: risk, scenario, next contact


def under_the_ladder(
    actions: dict[str, np.ndarray],
    scored: Columns,
    customers: CustomerCodes,
    contacted: np.ndarray,
    today: int,
    config: DunningConfig,
) -> dict[str, np.ndarray]:
    """The next actions under the escalation ladder (`payrisk.policy.ladder`), whichever policy
    chose them, then one contact a day per customer.

    `scored` may carry what the ladder reads (`top_level_sent`, `notice_day`, `review_day`,
    `on_track`, `paused_until`: the hardest level sent, the formal
    notice's day, the last review reported, whether a plan or promise holds the invoice to
    reminders, the last day of a hold or promise: no new contact before the day after); a
    caller without them (no channels known) gets the levels of the scenario's steps counted as
    sent. `contacted`: each customer's last contact (NO_CONTACT if none), for the gap.
    `actions` may say where the legal step does not pay (`legal_pays`, the learned policy's
    verdict on the agency): a scenario run out there goes to the write-off review instead."""
    legal_pays = actions.get("legal_pays")
    actions = {name: values for name, values in actions.items() if name != "legal_pays"}
    steps = StepTable.of(config)
    scenario_code = code_of(np.asarray(actions["scenario"], dtype=object), steps.names)
    sent = np.nan_to_num(np.asarray(scored["reminders_sent"], dtype="float64")).astype("int64")
    n = len(sent)
    if "top_level_sent" in scored:
        top = np.nan_to_num(np.asarray(scored["top_level_sent"], dtype="float64"))
    else:  # the scenario's first `sent` steps, as if each was sent as planned
        column = np.minimum(sent, steps.n_steps[scenario_code])
        reached = np.arange(steps.channel.shape[1])[None, :] < column[:, None]
        levels = level_of(steps.channel[scenario_code].ravel()).reshape(n, -1)
        top = np.where(reached, levels, 0).max(axis=1, initial=0).astype("float64")

    def given(name: str, missing: Any) -> np.ndarray:
        return np.asarray(scored[name]) if name in scored else np.full(n, missing)

    gap = config.contact.min_days_between_contacts
    not_before = np.maximum(
        earliest_contact(contacted, today, gap)[customers.codes],
        given("paused_until", today - 1).astype("int64") + 1,
    )

    out = lawful(
        actions,
        scenario_code,
        steps.ladder,
        top,
        given("notice_day", NO_DAY).astype("int64"),
        given("review_day", NO_DAY).astype("int64"),
        given("on_track", False).astype(bool),
        config.escalation.worth_it(scored["open_amount"], scored["default_probability"])
        & (True if legal_pays is None else np.asarray(legal_pays, dtype=bool)),
        sent,
        not_before,
        config.escalation.formal_notice_days,
        config.escalation.review_every_days,
        config.calendar.business_days,
    )
    day = one_contact_a_day(
        customers.codes,
        out["action"],
        out["channel"],
        to_days(out["action_date"]),
        gap,
        config.calendar.business_days,
    )
    out["action_date"] = day.astype("datetime64[D]").astype("datetime64[ns]")
    return out


def plan_arrays(
    scored: Columns,
    last_contact_day: np.ndarray,
    today: int,
    config: DunningConfig,
    adjust: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]] | None = None,
    customers: CustomerCodes | None = None,
) -> DunningPlan:
    """The dunning plan of scored open invoices on plain arrays (the one implementation).

    `last_contact_day` is per invoice (its customer's latest reminder before `today`, a day
    number, NO_CONTACT if none); `today` is the as-of day number. `adjust` may change the next
    actions before the customers' next contacts are drawn from them (the learned policy).
    `customers` are the invoices' customer codes when the caller has them already.
    """
    missing = [c for c in SCORED_COLUMNS if c not in scored]
    if missing:
        raise ValueError(f"scored invoices lack column(s) {missing}")
    if customers is None:
        customers = CustomerCodes.of(scored["customer_id"])
    contacted = customers.latest(last_contact_day)
    risk = risk_arrays(scored, customers)
    scenario = scenario_arrays(risk, config)
    actions = action_arrays(scored, customers, scenario, contacted, today, config)
    if adjust is not None:
        actions = adjust(actions)
    actions = under_the_ladder(actions, scored, customers, contacted, today, config)
    recovery = recovery_rate(config)
    priority = priority_arrays(
        scored["open_amount"],
        scored["default_probability"],
        scored["expected_days_late"],
        recovery,
    )
    return DunningPlan(
        invoices={**actions, **priority},
        customers=customer_plan_arrays(scored, actions, customers, risk, scenario, recovery),
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


GROUP_COLUMNS = (
    "customer_id",
    "action_date",
    "action",
    "channel",
    "actor",
    "step",
    "template",
    "scenario",
    "invoice_ids",
    "open_amount",
    "expected_loss",
    "priority_rank",
)


def action_group_arrays(columns: Columns) -> dict[str, Any]:
    """Planned actions as people carry them out, on plain arrays: one group per contact of a
    customer on a day (its channel, actor, step and template those of the most advanced step
    among its invoices, as the customer plan's next contact), and one per review of a customer
    on a day (same action). Groups come sorted by customer, day and kind; `invoice_ids` is a
    list per group.

    `columns` holds the plan's per-invoice columns (customer_id, invoice_id, action, channel,
    actor, step, template, scenario, action_date, open_amount, expected_loss, priority_rank).
    """
    action = np.asarray(columns["action"], dtype=object)
    n = len(action)
    if n == 0:
        return {name: np.array([], dtype=object) for name in GROUP_COLUMNS}
    customers = CustomerCodes.of(columns["customer_id"])
    day = to_days(columns["action_date"])
    contact = is_contact(action)
    kind = np.where(contact, -1, code_of(action, ACTIONS))  # all contacts of a day are one
    hardness = code_of(np.asarray(columns["channel"], dtype=object), tuple(CHANNELS))
    step = np.nan_to_num(np.asarray(columns["step"], dtype="float64"))
    order = np.lexsort((hardness, step, kind, day, customers.codes))
    code, day_sorted, kind_sorted = customers.codes[order], day[order], kind[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = (
        (code[1:] != code[:-1]) | (day_sorted[1:] != day_sorted[:-1])
        | (kind_sorted[1:] != kind_sorted[:-1])
    )  # fmt: skip
    first = np.flatnonzero(starts)
    last = np.append(first[1:], n) - 1  # sorted within a group by step: its most advanced one
    hardest = order[last]

    def pick(name: str) -> np.ndarray:
        return np.asarray(columns[name])[hardest]

    ids = np.asarray(columns["invoice_id"], dtype=object)[order]
    return {
        "customer_id": pick("customer_id"),
        "action_date": np.asarray(columns["action_date"], dtype="datetime64[ns]")[hardest],
        "action": pick("action"),
        "channel": pick("channel"),
        "actor": pick("actor"),
        "step": np.asarray(columns["step"], dtype="float64")[hardest],
        "template": pick("template"),
        "scenario": pick("scenario"),
        "invoice_ids": [list(part) for part in np.split(ids, first[1:])],
        "open_amount": np.add.reduceat(
            np.asarray(columns["open_amount"], dtype="float64")[order], first
        ).round(2),
        "expected_loss": np.add.reduceat(
            np.asarray(columns["expected_loss"], dtype="float64")[order], first
        ).round(2),
        "priority_rank": np.minimum.reduceat(
            np.asarray(columns["priority_rank"], dtype="int64")[order], first
        ),
    }


def action_groups(invoices: pd.DataFrame) -> pd.DataFrame:
    """`action_group_arrays` of a frame of planned invoices, as a frame sorted by the best
    priority rank among each group's invoices (the collectors' worklist)."""
    groups = action_group_arrays({name: invoices[name].to_numpy() for name in invoices})
    out = pd.DataFrame({name: pd.Series(groups[name], dtype=object) if name in (
        "customer_id", "action", "channel", "actor", "template", "scenario", "invoice_ids"
    ) else groups[name] for name in GROUP_COLUMNS})  # fmt: skip
    if out.empty:
        return out
    out["action_date"] = pd.to_datetime(out["action_date"])
    out = out.sort_values(["priority_rank", "action_date"], kind="stable").reset_index(drop=True)
    for name in ("channel", "template"):
        out[name] = out[name].where(out[name].notna(), None)
    return out
