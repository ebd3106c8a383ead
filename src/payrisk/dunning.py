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


def _steps_table(config: DunningConfig) -> pd.DataFrame:
    rows = [
        {
            "scenario": name,
            "step": index + 1,
            "offset_days": step.offset_days,
            "channel": step.channel,
            "template": step.template,
            "actor": step.actor,
        }
        for name, scenario in config.scenarios.items()
        for index, step in enumerate(scenario.steps)
    ]
    return pd.DataFrame(rows)


def next_actions(
    scored: pd.DataFrame,
    scenario: pd.Series,
    last_contact: pd.Series,
    as_of: pd.Timestamp,
    config: DunningConfig,
) -> pd.DataFrame:
    """The next dunning action of each open invoice, bundled per customer.

    `scenario` and `last_contact` (the customer's latest reminder before `as_of`) are indexed by
    customer id. Returns one row per invoice of `scored`, same index.
    """
    steps = _steps_table(config)
    invoice_scenario = scored["customer_id"].map(scenario).astype("str")
    n_steps = invoice_scenario.map(steps.groupby("scenario").size()).to_numpy()
    due = scored["due_date"]

    # Steps before the due date whose day has passed cannot happen any more: skip them.
    passed_pre_due = np.zeros(len(scored), dtype="int64")
    for name, group in steps.groupby("scenario"):
        in_scenario = (invoice_scenario == name).to_numpy()
        for offset in group.loc[group["offset_days"] < 0, "offset_days"]:
            passed = (due + pd.Timedelta(days=int(offset)) < as_of).to_numpy()
            passed_pre_due += in_scenario & passed
    sent = scored["reminders_sent"].fillna(0).to_numpy(dtype="int64")
    step_number = np.maximum(sent, passed_pre_due) + 1
    finished = step_number > n_steps
    lookup = steps.set_index(["scenario", "step"])
    keys = pd.MultiIndex.from_arrays([invoice_scenario, np.minimum(step_number, n_steps)])
    chosen = lookup.reindex(keys).reset_index(drop=True)
    chosen.index = scored.index

    own_date = due + pd.to_timedelta(chosen["offset_days"], unit="D")
    own_date = own_date.where(own_date > as_of, as_of)
    own_date = own_date.where(own_date >= scored["issue_date"], scored["issue_date"])
    gap = pd.Timedelta(days=config.contact.min_days_between_contacts)
    contacted = last_contact.astype("datetime64[ns]").reindex(scored["customer_id"].to_numpy())
    earliest = pd.Series(contacted.to_numpy(), index=scored.index) + gap
    own_date = own_date.where(~(earliest > own_date), earliest)

    action = pd.Series(ACTION_REMIND, index=scored.index, dtype="object")
    channel = chosen["channel"].astype("object")
    actor = chosen["actor"].astype("object")
    template = chosen["template"].astype("object")
    legal = channel == Channel.AGENCY.value
    expected_recovery = (
        scored["open_amount"] * scored["default_probability"] * config.escalation.recovery_rate
    )
    worth_it = expected_recovery > config.escalation.legal_costs
    action[legal & worth_it] = ACTION_ESCALATE
    action[legal & ~worth_it] = ACTION_WRITE_OFF_REVIEW
    action[finished] = ACTION_SCENARIO_DONE
    manual = action.isin([ACTION_WRITE_OFF_REVIEW, ACTION_SCENARIO_DONE])
    channel[manual], actor[manual], template[manual] = None, "credit_manager", None
    disputed = scored["disputed"].fillna(False).astype("bool")
    action[disputed] = ACTION_DISPUTE
    channel[disputed], actor[disputed], template[disputed] = None, "collector", None

    plan = pd.DataFrame(
        {
            "scenario": invoice_scenario,
            "action": action,
            "step": np.where(disputed | finished, np.nan, step_number).astype("float64"),
            "channel": channel,
            "template": template,
            "actor": actor,
            "action_date": own_date.where(~disputed, as_of),
            "expected_recovery": expected_recovery.round(2),
        },
        index=scored.index,
    )
    return _bundle_contacts(plan, scored["customer_id"], gap)


def _bundle_contacts(plan: pd.DataFrame, customer: pd.Series, gap: pd.Timedelta) -> pd.DataFrame:
    """One contact per customer: what falls due before the next allowed contact joins it."""
    contact = plan["action"].isin([ACTION_REMIND, ACTION_ESCALATE])
    first = plan["action_date"].where(contact).groupby(customer).transform("min")
    bundled = contact & (plan["action_date"] < first + gap)
    later = contact & ~bundled
    plan = plan.copy()
    plan.loc[bundled, "action_date"] = first[bundled]
    plan.loc[later, "action_date"] = plan.loc[later, "action_date"].where(
        plan.loc[later, "action_date"] >= first[later] + gap, first[later] + gap
    )
    return plan


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
    """Per customer: its scenario, risk, and the next contact (date, channel, invoices covered)."""
    frame = pd.concat([scored[["customer_id", "open_amount"]], plan], axis=1)
    contact = frame["action"].isin([ACTION_REMIND, ACTION_ESCALATE])
    hardness = frame["channel"].map({c: i for i, c in enumerate(CHANNELS)})
    first_date = frame["action_date"].where(contact).groupby(frame["customer_id"]).transform("min")
    in_next = contact & (frame["action_date"] == first_date)
    next_rows = frame.loc[in_next].assign(hardness=hardness[in_next])
    hardest = next_rows.sort_values(["customer_id", "hardness", "step"], kind="stable")
    hardest = hardest.groupby("customer_id").tail(1).set_index("customer_id")
    covered = next_rows.groupby("customer_id").agg(
        next_contact_invoices=("action", "size"), next_contact_amount=("open_amount", "sum")
    )
    out = risk.copy()
    out["next_contact_date"] = hardest["action_date"]
    out["next_contact_channel"] = hardest["channel"]
    out["next_contact_action"] = hardest["action"]
    out["next_contact_actor"] = hardest["actor"]
    out["next_contact_step"] = hardest["step"]
    out = out.join(covered)
    out["disputed_invoices"] = (
        frame.loc[frame["action"] == ACTION_DISPUTE].groupby("customer_id").size()
    )
    out["disputed_invoices"] = out["disputed_invoices"].fillna(0).astype("int64")
    out["next_contact_invoices"] = out["next_contact_invoices"].fillna(0).astype("int64")
    out["expected_loss"] = (
        (scored["open_amount"] * scored["default_probability"])
        .groupby(scored["customer_id"])
        .sum()
        .round(2)
    )
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
