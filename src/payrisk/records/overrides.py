"""Overrides as a report, for model governance: how often credit managers depart from the
recommendation, and how the customers then paid, beside those whose recommendation was followed.

"Then" is every invoice of the customer settled after the day of the decision (the portfolio
bundle's payment records): how many, the share paid late, the mean days late, the written off.
A customer with several decisions counts each decision's own "since".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from payrisk.policy.credit import DECISIONS, RECOMMENDATIONS

GROUPS = ("followed", "departed")


def _since(decisions: pd.DataFrame, payments: pd.DataFrame) -> pd.DataFrame:
    """Per decision: invoices settled after its day, late, days late, written off."""
    day = decisions["decided_at"].dt.tz_localize(None).dt.normalize()
    frame = pd.DataFrame({"decision": decisions["id"], "customer_id": decisions["customer_id"]})
    frame["day"] = day.to_numpy()
    joined = frame.merge(
        payments[["customer_id", "settled_date", "days_late", "written_off"]],
        on="customer_id",
        how="left",
    )
    after = joined.loc[joined["settled_date"] > joined["day"]]
    grouped = after.groupby("decision")
    out = pd.DataFrame(
        {
            "settled": grouped.size(),
            "late": grouped["days_late"].apply(lambda d: int((d > 0).sum())),
            "days_late": grouped["days_late"].sum(),
            "written_off": grouped["written_off"].sum(),
        }
    )
    return out.reindex(decisions["id"]).fillna(0)


def override_report(decisions: list[dict[str, Any]], payments: pd.DataFrame) -> dict[str, Any]:
    """The counts of recommendation x decision, and per group (followed, departed) the decisions
    and how their customers paid since (None where nothing was settled since)."""
    if not decisions:
        return {"decisions": 0, "overrides": 0, "matrix": {}, "groups": {}}
    frame = pd.DataFrame(decisions)
    frame["decided_at"] = pd.to_datetime(frame["decided_at"], utc=True)
    since = _since(frame, payments).to_numpy()
    matrix = {
        recommendation: {
            decision: int(
                (
                    (frame["recommendation"] == recommendation) & (frame["decision"] == decision)
                ).sum()
            )
            for decision in DECISIONS
        }
        for recommendation in RECOMMENDATIONS
    }
    groups = {}
    for name, mask in zip(GROUPS, (~frame["override"], frame["override"]), strict=True):
        chosen = since[mask.to_numpy(dtype=bool)]
        settled, late, days, written = (
            chosen.sum(axis=0) if len(chosen) else np.zeros(4, dtype="float64")
        )
        groups[name] = {
            "decisions": int(mask.sum()),
            "settled": int(settled),
            "late_share": float(late / settled) if settled else None,
            "mean_days_late": float(days / settled) if settled else None,
            "written_off": int(written),
        }
    return {
        "decisions": len(frame),
        "overrides": int(frame["override"].sum()),
        "matrix": matrix,
        "groups": groups,
    }
