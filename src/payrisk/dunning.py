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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from payrisk.config import DunningConfig
from payrisk.contract import CHANNELS, Channel

ACTION_REMIND = "remind"
ACTION_ESCALATE = "escalate"
ACTION_WRITE_OFF_REVIEW = "write_off_review"
ACTION_DISPUTE = "dispute_resolution"
ACTION_SCENARIO_DONE = "credit_manager_review"

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


def customer_risk(scored: pd.DataFrame) -> pd.DataFrame:
    """Amount-weighted risk of each customer's open invoices: what segmentation looks at."""
    weight = scored["open_amount"].clip(lower=0.01)
    frame = pd.DataFrame(
        {
            "customer_id": scored["customer_id"],
            "weight": weight,
            "late": scored["late_probability"] * weight,
            "default": scored["default_probability"] * weight,
            "days_late": scored["expected_days_late"] * weight,
            "open_amount": scored["open_amount"],
            "key_account": scored["key_account"].fillna(False).astype("bool"),
        }
    )
    grouped = frame.groupby("customer_id", sort=True)
    sums = grouped[["weight", "late", "default", "days_late", "open_amount"]].sum()
    return pd.DataFrame(
        {
            "late_probability": sums["late"] / sums["weight"],
            "default_probability": sums["default"] / sums["weight"],
            "expected_days_late": sums["days_late"] / sums["weight"],
            "open_amount": sums["open_amount"].round(2),
            "open_invoices": grouped.size(),
            "key_account": grouped["key_account"].any(),
        }
    )


def choose_scenario(risk: pd.DataFrame, config: DunningConfig) -> pd.Series:
    """First segment rule whose every condition holds, per customer."""
    chosen = pd.Series(pd.NA, index=risk.index, dtype="object")
    bounds = {
        "late_probability": "late_probability",
        "default_probability": "default_probability",
        "expected_days_late": "expected_days_late",
        "open_amount": "open_amount",
    }
    for rule in config.segments:
        mask = pd.Series(True, index=risk.index)
        for field, column in bounds.items():
            low, high = getattr(rule, f"min_{field}"), getattr(rule, f"max_{field}")
            if low is not None:
                mask &= risk[column] >= low
            if high is not None:
                mask &= risk[column] <= high
        if rule.key_account is not None:
            mask &= risk["key_account"] == rule.key_account
        chosen = chosen.where(chosen.notna() | ~mask, rule.scenario)
    return chosen.astype("str")


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


def _days(values: pd.Series | pd.Timestamp) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[D]").astype("int64")


def next_actions(
    scored: pd.DataFrame,
    scenario: pd.Series,
    last_contact: pd.Series,
    as_of: pd.Timestamp,
    config: DunningConfig,
) -> pd.DataFrame:
    """The next dunning action of each open invoice, bundled per customer.

    `scenario` and `last_contact` (the customer's latest reminder before `as_of`) are indexed by
    customer id. Returns one row per invoice of `scored`, same index. Plain arrays throughout:
    the service calls this for every request, often for a single invoice.
    """
    steps = StepTable.of(config)
    customer_codes, customers = pd.factorize(scored["customer_id"])
    scenario_code = pd.Index(steps.names).get_indexer(
        scenario.reindex(customers).to_numpy(dtype=object)
    )[customer_codes]
    n_steps = steps.n_steps[scenario_code]
    offsets = steps.offset_days[scenario_code]  # invoices x steps
    today = int(_days(as_of))
    due = _days(scored["due_date"])
    issue = _days(scored["issue_date"])

    # Steps before the due date whose day has passed cannot happen any more: skip them.
    passed_pre_due = ((offsets < 0) & (due[:, None] + offsets < today)).sum(axis=1)
    sent = scored["reminders_sent"].fillna(0).to_numpy(dtype="int64")
    step_number = np.maximum(sent, passed_pre_due) + 1
    finished = step_number > n_steps
    column = np.minimum(step_number, n_steps) - 1
    channel = steps.channel[scenario_code, column].copy()
    template = steps.template[scenario_code, column].copy()
    actor = steps.actor[scenario_code, column].copy()

    gap = config.contact.min_days_between_contacts
    contacted = _days(last_contact.astype("datetime64[ns]").reindex(customers))
    earliest = np.where(contacted == np.iinfo(np.int64).min, today, contacted + gap)[customer_codes]
    action_day = np.maximum.reduce(
        [due + steps.offset_days[scenario_code, column], np.full_like(due, today), issue, earliest]
    )

    action = np.full(len(scored), ACTION_REMIND, dtype=object)
    expected_recovery = (
        scored["open_amount"].to_numpy("float64")
        * scored["default_probability"].to_numpy("float64")
        * config.escalation.recovery_rate
    )
    legal = channel == Channel.AGENCY.value
    worth_it = expected_recovery > config.escalation.legal_costs
    action[legal & worth_it] = ACTION_ESCALATE
    action[legal & ~worth_it] = ACTION_WRITE_OFF_REVIEW
    action[finished] = ACTION_SCENARIO_DONE
    manual = (action == ACTION_WRITE_OFF_REVIEW) | (action == ACTION_SCENARIO_DONE)
    channel[manual], actor[manual], template[manual] = None, "credit_manager", None
    disputed = scored["disputed"].fillna(False).to_numpy(dtype="bool")
    action[disputed] = ACTION_DISPUTE
    channel[disputed], actor[disputed], template[disputed] = None, "collector", None
    action_day = np.where(disputed, today, action_day)

    # One contact per customer: what falls due before the next allowed contact joins it.
    contact = (action == ACTION_REMIND) | (action == ACTION_ESCALATE)
    first = np.full(len(customers), np.iinfo(np.int64).max, dtype="int64")
    np.minimum.at(first, customer_codes[contact], action_day[contact])
    first = first[customer_codes]
    bundled = contact & (action_day < first + gap)
    later = contact & ~bundled
    action_day = np.where(bundled, first, action_day)
    action_day = np.where(later, np.maximum(action_day, first + gap), action_day)

    def text(values: np.ndarray) -> pd.Series:  # keep None as None (no NaN) for JSON answers
        return pd.Series(values, index=scored.index, dtype=object)

    return pd.DataFrame(
        {
            "scenario": text(np.asarray(steps.names, dtype=object)[scenario_code]),
            "action": text(action),
            "step": np.where(disputed | finished, np.nan, step_number).astype("float64"),
            "channel": text(channel),
            "template": text(template),
            "actor": text(actor),
            "action_date": action_day.astype("datetime64[D]").astype("datetime64[ns]"),
            "expected_recovery": expected_recovery.round(2),
        },
        index=scored.index,
    )


def collector_priority(scored: pd.DataFrame) -> pd.DataFrame:
    """Expected loss (open amount x default probability) first, then expected delay."""
    expected_loss = (scored["open_amount"] * scored["default_probability"]).round(2)
    order = pd.DataFrame(
        {"expected_loss": expected_loss, "expected_days_late": scored["expected_days_late"]}
    )
    rank = order.sort_values(
        ["expected_loss", "expected_days_late"], ascending=False, kind="stable"
    ).index
    order["priority_rank"] = pd.Series(np.arange(1, len(order) + 1), index=rank)
    return order


def customer_plans(scored: pd.DataFrame, plan: pd.DataFrame, risk: pd.DataFrame) -> pd.DataFrame:
    """Per customer: its scenario, risk, and the next contact (date, channel, invoices covered).

    The next contact is the earliest planned contact; its channel, actor and step are those of
    the hardest step among the invoices it covers.
    """
    codes, customers = pd.factorize(scored["customer_id"])
    n = len(customers)
    action = plan["action"].to_numpy(dtype=object)
    contact = (action == ACTION_REMIND) | (action == ACTION_ESCALATE)
    day = _days(plan["action_date"])
    first = np.full(n, np.iinfo(np.int64).max, dtype="int64")
    np.minimum.at(first, codes[contact], day[contact])
    in_next = contact & (day == first[codes])
    hardness = (
        plan["channel"].map({c: i for i, c in enumerate(CHANNELS)}).fillna(-1).to_numpy("float64")
    )
    step = plan["step"].fillna(0).to_numpy("float64")
    rows = np.flatnonzero(in_next)
    rows = rows[np.lexsort((step[rows], hardness[rows], codes[rows]))]
    last_of_customer = np.ones(len(rows), dtype=bool)
    last_of_customer[:-1] = codes[rows][1:] != codes[rows][:-1]
    hardest = rows[last_of_customer]  # one row per customer that has a next contact

    open_amount = scored["open_amount"].to_numpy("float64")
    per_customer = pd.DataFrame(
        {
            "next_contact_invoices": np.bincount(codes[in_next], minlength=n),
            "next_contact_amount": np.bincount(
                codes[in_next], weights=open_amount[in_next], minlength=n
            ).round(2),
            "disputed_invoices": np.bincount(codes[action == ACTION_DISPUTE], minlength=n),
            "expected_loss": np.bincount(
                codes,
                weights=open_amount * scored["default_probability"].to_numpy("float64"),
                minlength=n,
            ).round(2),
        },
        index=customers,
    )
    next_contact = pd.DataFrame(
        {
            "next_contact_date": plan["action_date"].to_numpy()[hardest],
            "next_contact_channel": plan["channel"].to_numpy(dtype=object)[hardest],
            "next_contact_action": action[hardest],
            "next_contact_actor": plan["actor"].to_numpy(dtype=object)[hardest],
            "next_contact_step": step[hardest],
        },
        index=customers[codes[hardest]],
    )
    out = risk.join(next_contact).join(per_customer)
    out.index.name = "customer_id"
    return out.reset_index()


def plan_dunning(
    scored: pd.DataFrame, last_contact: pd.Series, as_of: pd.Timestamp, config: DunningConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Invoice-level plan (action, priority) and customer-level plan for scored open invoices."""
    missing = [c for c in SCORED_COLUMNS if c not in scored.columns]
    if missing:
        raise ValueError(f"scored invoices lack column(s) {missing}")
    risk = customer_risk(scored)
    scenario = choose_scenario(risk, config)
    plan = next_actions(scored, scenario, last_contact, as_of, config)
    priority = collector_priority(scored).drop(columns="expected_days_late")
    invoices = pd.concat([plan, priority], axis=1)
    return invoices, customer_plans(scored, plan, risk.assign(scenario=scenario))
