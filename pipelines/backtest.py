"""`payrisk backtest --at issue`: every invoice of a period scored on its issue date by the model
of that time, as a user would have seen it; the predictions and their metrics once known.

The period is cut into steps of `evaluation.backtest_step_days`; for each step a scorer is fitted
on the snapshots dated before the step starts, with the labels known then (the same fit as
`payrisk train`), and scores the invoices issued during the step at issue. Outcomes are read at
as-of, mature only (`labels.mature_only`): an invoice whose outcome cannot be known yet keeps its
prediction and has no label.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from payrisk.core.storage import check_table_path, write_json, write_table
from payrisk.data.receivables import as_timestamp
from payrisk.models.evaluation import classification_metrics, payment_metrics
from payrisk.models.training import (
    CLASSIFICATION_TARGETS,
    Examples,
    InsufficientHistoryError,
    Window,
    age_groups,
    fit_scorer,
    window_examples,
)
from pipelines.catalog import Catalog
from pipelines.training import load_training_data

PREDICTION_COLUMNS = (
    "late_probability",
    "default_probability",
    "days_to_payment_low",
    "days_to_payment",
    "days_to_payment_high",
)
ACTUALS = (*CLASSIFICATION_TARGETS, "days_to_payment")


def steps(start: pd.Timestamp, end: pd.Timestamp, days: int) -> list[tuple]:
    """[start, end) cut into consecutive steps of `days` (the last one shorter)."""
    cuts = pd.date_range(start, end, freq=f"{days}D", inclusive="left")
    return [(c, min(c + pd.Timedelta(days=days), end)) for c in cuts]


def metrics_of(frame: pd.DataFrame) -> dict:
    """Late and default ROC AUC, log loss and calibration, payment MAE and coverage, on the
    predictions whose outcome is known."""
    out: dict = {"invoices": len(frame)}
    for target in CLASSIFICATION_TARGETS:
        known = frame[f"actual_{target}"].notna().to_numpy()
        y = frame.loc[known, f"actual_{target}"].to_numpy().astype("int64")
        p = frame.loc[known, f"{target}_probability"].to_numpy()
        values = classification_metrics(y, p, frame.loc[known, "amount"].to_numpy())
        out[target] = {k: values[k] for k in ("n", "positive_rate", "roc_auc", "log_loss", "brier")}
        out[target]["mean_predicted"] = float(p.mean()) if len(p) else float("nan")
    paid = frame["actual_days_to_payment"].notna().to_numpy()
    out["payment"] = payment_metrics(
        frame.loc[paid, "actual_days_to_payment"].to_numpy(),
        frame.loc[paid, "days_to_payment"].to_numpy(),
        frame.loc[paid, "days_to_payment_low"].to_numpy(),
        frame.loc[paid, "days_to_payment_high"].to_numpy(),
    )
    return out


def backtest_at_issue(
    catalog: Catalog,
    data_dir: str | Path,
    out: str | Path,
    start: str | None = None,
    end: str | None = None,
    as_of: str | None = None,
) -> dict:
    """Score every invoice issued in [start, end) (default: the training holdout's window) at
    issue with the model of its time; write the predictions to `out` (.csv/.parquet) and the
    metrics beside it (`<out>.metrics.json`), both atomically; return the metrics."""
    out = check_table_path(out, "--out")
    config = catalog.train_config
    data = load_training_data(data_dir, as_of, config, None)
    first = as_timestamp(start) if start else data.holdout_window.start
    last = as_timestamp(end) if end else data.holdout_window.end
    if not first < last <= data.as_of:
        raise InsufficientHistoryError(
            f"backtest period [{first.date()}, {last.date()}) must be non-empty and end by the "
            f"data's as-of date {data.as_of.date()}"
        )
    everything, invoices = data.everything, data.dataset.invoices
    at_issue = age_groups(everything.queries) == "at_issue"
    issued = everything.queries["snapshot_date"]
    labelled = window_examples(everything, invoices, Window(None, data.as_of, data.as_of), config)
    frames, folds = [], []
    for begin, finish in steps(first, last, config.evaluation.backtest_step_days):
        train = window_examples(everything, invoices, Window(None, begin, begin), config)
        rows = at_issue & ((issued >= begin) & (issued < finish)).to_numpy()
        if len(train) == 0 or not rows.any():
            folds.append({"trained_until": begin.date().isoformat(), "skipped": "no snapshot"})
            continue
        scorer = fit_scorer(train, config)
        test = Examples(
            everything.queries.loc[rows].reset_index(drop=True),
            everything.features.loc[rows].reset_index(drop=True),
            labelled.labels.loc[rows].reset_index(drop=True),
        )
        scores = scorer.predict(test.features[list(scorer.feature_columns)])
        frame = test.queries[["invoice_id", "customer_id", "issue_date", "due_date", "amount"]]
        frame = frame.assign(
            model_trained_until=begin,
            **{c: scores[c].to_numpy() for c in PREDICTION_COLUMNS},
            **{f"actual_{t}": test.labels[t].to_numpy() for t in ACTUALS},
        )
        frames.append(frame)
        folds.append(
            {
                "trained_until": begin.date().isoformat(),
                "scores_issued": [begin.date().isoformat(), finish.date().isoformat()],
                "models": {t: s["model"] for t, s in scorer.model_summary().items()},
                **metrics_of(frame),
            }
        )
    if not frames:
        raise InsufficientHistoryError(
            f"no invoice issued in [{first.date()}, {last.date()}) with history before it"
        )
    predictions = pd.concat(frames, ignore_index=True)
    report = {
        "as_of": data.as_of.date().isoformat(),
        "period": [first.date().isoformat(), last.date().isoformat()],
        "at": "issue",
        "overall": metrics_of(predictions),
        "folds": folds,
        "predictions": out.name,
    }
    write_table(predictions, out)
    write_json(out.with_name(f"{out.stem}.metrics.json"), _finite(report))
    return report


def _finite(value: object) -> object:
    """NaN as null in the JSON (an undefined AUC is not a number)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def render_backtest(report: dict) -> str:
    overall = report["overall"]
    lines = [
        f"Backtest at issue, invoices issued {report['period'][0]} .. {report['period'][1]} "
        f"(outcomes as known on {report['as_of']}): {overall['invoices']:,} invoices"
    ]
    for fold in [*report["folds"], {"label": "all steps", **overall}]:
        label = fold.get("label") or f"model through {fold['trained_until']}"
        if "skipped" in fold:
            lines.append(f"  {label}: skipped ({fold['skipped']})")
            continue
        late, default, pay = fold["late"], fold["default"], fold["payment"]
        lines.append(
            f"  {label:<24}  late ROC AUC {late['roc_auc']:.3f} "
            f"log loss {late['log_loss']:.3f} (n {int(late['n'])}, {late['positive_rate']:.1%} "
            f"late, {late['mean_predicted']:.1%} predicted); default ROC AUC "
            f"{default['roc_auc']:.3f} (n {int(default['n'])}); payment MAE "
            f"{pay['mae_days']:.1f} days (n {int(pay['n'])})"
        )
    return "\n".join(lines)
