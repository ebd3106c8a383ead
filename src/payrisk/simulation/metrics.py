"""What a play of a policy achieved on the simulated period's invoices: the report's figures.

Every figure is over the invoices issued in the period, observed at the horizon (the end of the
period plus the follow-up): days late count up to the horizon for invoices still unpaid then.
"""

from __future__ import annotations

import numpy as np

from payrisk.data.contract import CHANNELS
from payrisk.data.world import PlayState
from payrisk.policy.config import ChannelCosts

METRICS: tuple[str, ...] = (
    "amount_weighted_days_late",
    "late_share",
    "default_share",
    "contacts_per_invoice",
    "contact_cost",
    "cash_collected_share_by_due_plus_30",
)
DEFAULT_AFTER_DAYS = 90


def policy_metrics(
    state: PlayState, rows: np.ndarray, horizon: int, costs: ChannelCosts
) -> dict[str, float]:
    """The report's figures for invoice `rows` of a play (METRICS, in that order).

    amount_weighted_days_late: sum of amount x days past due (0 if paid on time; up to the horizon
    if unpaid) over the amount; late_share: invoices paid after due or unpaid; default_share:
    invoices unpaid DEFAULT_AFTER_DAYS after due; contacts_per_invoice: reminders per invoice;
    contact_cost: what those reminders cost in total (configs/dunning.yaml costs);
    cash_collected_share_by_due_plus_30: share of the amount paid by due + 30 days.
    """
    world = state.world
    amount = world.amount_cents[rows] / 100.0
    due = world.due_day[rows]
    paid = np.minimum(state.paid_day[rows], horizon)
    days_late = np.clip(paid - due, 0, None).astype("float64")
    in_period = np.zeros(len(world), dtype=bool)
    in_period[rows] = True
    log = state.reminders()
    mine = in_period[log["row"]]
    sent_rows, sent_channel = log["row"][mine], log["channel"][mine]
    cost = 0.0
    for code, channel in enumerate(CHANNELS):
        on = sent_channel == code
        cost += float(np.sum(costs.of(channel, world.amount_cents[sent_rows[on]] / 100.0)))
    return {
        "amount_weighted_days_late": float(np.sum(amount * days_late) / np.sum(amount)),
        "late_share": float(np.mean(state.paid_day[rows] > due)),
        "default_share": float(np.mean(state.paid_day[rows] > due + DEFAULT_AFTER_DAYS)),
        "contacts_per_invoice": float(len(sent_rows) / len(rows)),
        "contact_cost": round(cost, 2),
        "cash_collected_share_by_due_plus_30": float(
            np.sum(amount[state.paid_day[rows] <= due + 30]) / np.sum(amount)
        ),
    }


def markdown_table(policies: dict[str, dict[str, float]]) -> str:
    """The comparison as a markdown table, one row per policy."""
    header = "| policy | " + " | ".join(METRICS) + " |"
    lines = [header, "|" + "---|" * (len(METRICS) + 1)]
    for name, values in policies.items():
        cells = []
        for metric in METRICS:
            value = values[metric]
            if "_share" in metric:
                cells.append(f"{value:.1%}")
            elif metric == "contact_cost":
                cells.append(f"{value:,.0f}")
            else:
                cells.append(f"{value:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def gap_closed(policies: dict[str, dict[str, float]], name: str = "learned") -> float | None:
    """Share of the random-to-oracle gap in amount_weighted_days_late that `name` closes."""
    try:
        random = policies["random"]["amount_weighted_days_late"]
        oracle = policies["oracle"]["amount_weighted_days_late"]
        value = policies[name]["amount_weighted_days_late"]
    except KeyError:
        return None
    if random == oracle:
        return None
    return (random - value) / (random - oracle)
