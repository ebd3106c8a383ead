"""Training examples: snapshots of invoices at several ages, and their labels as known at a cut-off.

Censoring is explicit. An outcome that is not yet known at the cut-off is missing (NaN), never
"on time": an invoice open and 10 days past due has a known late label (late) but an unknown
default label; an invoice open and not yet due has no label at all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from payrisk.core.config import SnapshotSettings, TargetSettings
from payrisk.core.days import NEVER, to_days
from payrisk.data.receivables import settled_date

TARGETS: tuple[str, ...] = ("late", "default", "default_given_late", "days_to_payment")
# Not labels but what the payment-date model learns from, censored open invoices included.
TIMING: tuple[str, ...] = ("paid_days_past_due", "observed_days_past_due")


def snapshot_queries(
    invoices: pd.DataFrame, before: pd.Timestamp, settings: SnapshotSettings
) -> pd.DataFrame:
    """Each invoice at issue and at fixed days past due, while open, dated before `before`.

    One row per (invoice, snapshot_date), with the invoice fields the features need.
    """
    issue = invoices["issue_date"]
    due = invoices["due_date"]
    settled = settled_date(invoices)
    moments = []
    if settings.at_issue:
        moments.append(issue)
    moments.extend(due + pd.Timedelta(days=offset) for offset in settings.days_past_due)
    frames = []
    columns = ["invoice_id", "customer_id", "issue_date", "due_date", "amount"]
    for moment in moments:
        still_open = ~(settled < moment) & (moment >= issue) & (moment < before)
        frame = invoices.loc[still_open, columns].copy()
        frame["snapshot_date"] = moment[still_open]
        frames.append(frame)
    queries = pd.concat(frames, ignore_index=True)
    # Due on the day of issue (or duplicate offsets) would give the same snapshot twice.
    queries = queries.drop_duplicates(["invoice_id", "snapshot_date"])
    return queries.sort_values(["snapshot_date", "invoice_id"], kind="stable").reset_index(
        drop=True
    )


def outcome_labels(
    queries: pd.DataFrame,
    invoices: pd.DataFrame,
    known_before: pd.Timestamp,
    targets: TargetSettings,
) -> pd.DataFrame:
    """Labels of each snapshot as known at the start of `known_before` (NaN when not yet known).

    - late: paid more than `late_after_days` after due; known once paid, written off, or open
      past that delay;
    - default: unpaid `default_after_days` after due or written off; known once paid, written
      off, or open past that delay;
    - default_given_late: the default label of invoices that ended up late (whether or not
      that was already decided at the snapshot): what P(default | late) learns from, so that
      P(default) = P(late) x P(default | late) never exceeds P(late);
    - days_to_payment: days from the snapshot to full payment; known once paid.
    Snapshots where the outcome was already decided at the snapshot date itself (already late,
    already in default) get NaN too: they teach nothing.

    Two more columns give the payment timing as known at the cut-off, for every snapshot:
    `paid_days_past_due` (days from the due date to full payment; NaN while unpaid) and
    `observed_days_past_due` (the last day watched: the day before the cut-off).
    """
    position = pd.Index(invoices["invoice_id"]).get_indexer(queries["invoice_id"])
    if (position < 0).any():
        raise ValueError("snapshot queries refer to invoices that are not in the invoice table")
    cutoff = int(to_days(pd.Series([known_before]))[0])
    paid = to_days(invoices["paid_date"])[position]
    written_off = to_days(invoices["written_off_date"])[position]
    due = to_days(queries["due_date"])
    snapshot = to_days(queries["snapshot_date"])
    paid = np.where(paid < cutoff, paid, NEVER)  # payments on or after the cut-off are unknown
    written_off = np.where(written_off < cutoff, written_off, NEVER)
    is_paid = paid != NEVER
    is_written_off = (written_off != NEVER) & ~is_paid
    open_days_past_due = cutoff - due  # for invoices still open at the cut-off

    labels = pd.DataFrame(index=queries.index)
    outcome = {}
    for name, threshold in (
        ("late", targets.late_after_days),
        ("default", targets.default_after_days),
    ):
        positive_paid = is_paid & (paid - due > threshold)
        positive_open = ~is_paid & (is_written_off | (open_days_past_due > threshold))
        known = is_paid | positive_open
        outcome[name] = np.where(known, (positive_paid | positive_open).astype("float64"), np.nan)
        already_decided = snapshot - due > threshold
        labels[name] = np.where(already_decided, np.nan, outcome[name])
    labels["default_given_late"] = np.where(outcome["late"] == 1, labels["default"], np.nan)
    labels["days_to_payment"] = np.where(is_paid, (paid - snapshot).astype("float64"), np.nan)
    labels["paid_days_past_due"] = np.where(is_paid, (paid - due).astype("float64"), np.nan)
    labels["observed_days_past_due"] = (cutoff - 1 - due).astype("float64")
    return labels


def mature_only(
    labels: pd.DataFrame, queries: pd.DataFrame, known_before: pd.Timestamp, targets: TargetSettings
) -> pd.DataFrame:
    """Keep a label only where every outcome of its kind would be known by the cut-off.

    Near a cut-off, on-time payments are known and defaults are not yet: training or testing on
    whatever happens to be known would under-count late payers and defaults. An invoice is mature
    for a target once its due date plus the target's delay has passed; the selection depends on
    the due date only, never on the outcome. The payment date uses the default delay (beyond it an
    invoice may never be paid).
    """
    due = to_days(queries["due_date"])
    cutoff = int(to_days(pd.Series([known_before]))[0])
    delay = {
        "late": targets.late_after_days,
        "default": targets.default_after_days,
        "default_given_late": targets.default_after_days,
        "days_to_payment": targets.default_after_days,
    }
    out = labels.copy()
    for target, days in delay.items():
        out[target] = out[target].where(due + days < cutoff)
    return out
