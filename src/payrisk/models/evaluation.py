"""Holdout metrics and plots: how good the scores are, and how they compare with the baselines."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean gap between predicted and observed rates over equal-count bins, weighted by size."""
    order = np.argsort(p, kind="stable")
    gaps = [
        abs(p[chunk].mean() - y[chunk].mean()) * len(chunk)
        for chunk in np.array_split(order, bins)
        if len(chunk)
    ]
    return float(np.sum(gaps) / max(len(y), 1))


def capture_rate(y: np.ndarray, p: np.ndarray, amount: np.ndarray, share: float) -> float:
    """Share of the positive (late/default) amount found in the riskiest `share` of invoices."""
    total = float(np.sum(amount * y))
    if total <= 0:
        return float("nan")
    top = np.argsort(-p, kind="stable")[: max(1, round(len(p) * share))]
    return float(np.sum(amount[top] * y[top]) / total)


def classification_metrics(
    y: np.ndarray,
    p: np.ndarray,
    amount: np.ndarray,
    top_shares: tuple[float, ...] = (0.1, 0.2),
    bins: int = 10,
) -> dict[str, float]:
    y = np.asarray(y, dtype="int64")
    p = np.clip(np.asarray(p, dtype="float64"), 1e-6, 1 - 1e-6)
    both_classes = len(np.unique(y)) == 2
    if len(y) == 0:
        empty = dict.fromkeys(
            ("positive_rate", "roc_auc", "pr_auc", "brier", "log_loss", "calibration_error"),
            float("nan"),
        )
        return {"n": 0.0, **empty} | {
            f"capture_top_{round(share * 100)}pct": float("nan") for share in top_shares
        }
    metrics = {
        "n": float(len(y)),
        "positive_rate": float(np.mean(y)) if len(y) else float("nan"),
        "roc_auc": float(roc_auc_score(y, p)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both_classes else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "calibration_error": expected_calibration_error(y, p, bins),
    }
    for share in top_shares:
        metrics[f"capture_top_{round(share * 100)}pct"] = capture_rate(y, p, amount, share)
    return metrics


def paired_bootstrap(
    y: np.ndarray,
    p_model: np.ndarray,
    p_other: np.ndarray,
    clusters: np.ndarray,
    metric: str,
    rounds: int = 200,
    seed: int = 0,
) -> tuple[float, float]:
    """`metric`(model) - `metric`(other) on the rows, and its standard deviation over a bootstrap
    that resamples whole clusters (a customer's snapshots are not independent).

    A resample is a weight per row (how many times its cluster was drawn): the metrics are
    computed weighted, which is the same as on the resample's rows repeated, without building
    them or sorting the scores again each round."""
    y = np.asarray(y, dtype="int64")
    a = np.clip(np.asarray(p_model, dtype="float64"), 1e-6, 1 - 1e-6)
    b = np.clip(np.asarray(p_other, dtype="float64"), 1e-6, 1 - 1e-6)
    if metric == "roc_auc":
        rank_a, rank_b = _TiedOrder(a), _TiedOrder(b)

        def value(weights: np.ndarray) -> float:
            return rank_a.auc(y, weights) - rank_b.auc(y, weights)

    else:
        loss = _row_log_loss(y, a) - _row_log_loss(y, b)

        def value(weights: np.ndarray) -> float:
            positives, total = weights @ y, weights.sum()
            if positives <= 0 or positives >= total:  # one class only: no comparison
                return float("nan")
            return float(weights @ loss / total)

    observed = value(np.ones(len(y)))
    codes, _ = pd.factorize(pd.Series(clusters))
    n_clusters = int(codes.max()) + 1 if len(codes) else 0
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(rounds):
        picked = rng.integers(0, n_clusters, size=n_clusters)
        draws.append(value(np.bincount(picked, minlength=n_clusters)[codes].astype("float64")))
    spread = float(np.nanstd(draws)) if np.isfinite(draws).any() else float("nan")
    return observed, spread


def metric_spread(
    y: np.ndarray, p: np.ndarray, clusters: np.ndarray, metric: str, seed: int = 0
) -> float:
    """Standard deviation of `metric` (roc_auc or log_loss) of one model over a bootstrap of
    clusters: `paired_bootstrap` against a constant score, whose AUC (0.5, all ties) and log
    loss (log 2) are the same in every resample, so the difference moves as the metric does."""
    return paired_bootstrap(y, p, np.full(len(p), 0.5), clusters, metric, seed=seed)[1]


def _row_log_loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


class _TiedOrder:
    """Scores sorted once, with their groups of equal values: weighted ROC AUC in one pass."""

    def __init__(self, scores: np.ndarray) -> None:
        self.order = np.argsort(scores, kind="stable")
        ordered = scores[self.order]
        starts = np.r_[True, ordered[1:] != ordered[:-1]] if len(ordered) else ordered
        self.group = np.cumsum(starts) - 1  # per sorted row, its group of equal scores
        self.groups = int(self.group[-1]) + 1 if len(ordered) else 0

    def auc(self, y: np.ndarray, weights: np.ndarray) -> float:
        """P(a positive outscores a negative), ties counting half (Mann-Whitney), weighted."""
        w, positive = weights[self.order], y[self.order] == 1
        negatives = np.bincount(
            self.group, weights=np.where(positive, 0.0, w), minlength=self.groups
        )
        below = np.cumsum(negatives) - negatives  # negative weight strictly under each group
        w_pos, w_neg = w[positive].sum(), negatives.sum()
        if w_pos <= 0 or w_neg <= 0:
            return float("nan")
        g = self.group[positive]
        return float(w[positive] @ (below[g] + 0.5 * negatives[g]) / (w_pos * w_neg))


def payment_metrics(
    days: np.ndarray,
    predicted: np.ndarray,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
) -> dict[str, float]:
    days = np.asarray(days, dtype="float64")
    error = np.abs(np.asarray(predicted, dtype="float64") - days)
    if len(days) == 0:
        empty = {"n": 0.0, "mae_days": float("nan"), "median_abs_error_days": float("nan")}
        if low is not None and high is not None:
            empty |= {"interval_coverage": float("nan"), "interval_width_days": float("nan")}
        return empty
    metrics = {
        "n": float(len(days)),
        "mae_days": float(error.mean()) if len(days) else float("nan"),
    }
    metrics["median_abs_error_days"] = float(np.median(error)) if len(days) else float("nan")
    if low is not None and high is not None:
        inside = (days >= low) & (days <= high)
        metrics["interval_coverage"] = float(inside.mean()) if len(days) else float("nan")
        metrics["interval_width_days"] = float(np.mean(high - low)) if len(days) else float("nan")
    return metrics


def roc_figure(y: np.ndarray, scores: dict[str, np.ndarray], title: str) -> Figure:
    figure, axis = plt.subplots(figsize=(5, 5))
    for name, p in scores.items():
        fpr, tpr, _ = roc_curve(y, p)
        axis.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, p):.3f})")
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axis.set(xlabel="False positive rate", ylabel="True positive rate", title=title)
    axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    return figure


def precision_recall_figure(y: np.ndarray, scores: dict[str, np.ndarray], title: str) -> Figure:
    figure, axis = plt.subplots(figsize=(5, 5))
    for name, p in scores.items():
        precision, recall, _ = precision_recall_curve(y, p)
        axis.plot(recall, precision, label=f"{name} (AP {average_precision_score(y, p):.3f})")
    axis.axhline(np.mean(y), color="grey", linestyle=":", label="base rate")
    axis.set(xlabel="Recall", ylabel="Precision", title=title)
    axis.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    return figure


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Predicted against observed rate per equal-count bin: the reliability curve's points."""
    order = np.argsort(p, kind="stable")
    rows = [
        {"predicted": float(p[c].mean()), "observed": float(y[c].mean()), "count": len(c)}
        for c in np.array_split(order, bins)
        if len(c)
    ]
    return pd.DataFrame(rows)


def calibration_figure(tables: dict[str, pd.DataFrame], title: str) -> Figure:
    figure, axis = plt.subplots(figsize=(5, 5))
    for name, table in tables.items():
        axis.plot(table["predicted"], table["observed"], marker="o", label=name)
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    axis.set(xlabel="Predicted probability", ylabel="Observed frequency", title=title)
    axis.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    return figure


def importance_figure(importance: pd.Series, title: str, top: int = 20) -> Figure:
    shown = importance.head(top)[::-1]
    figure, axis = plt.subplots(figsize=(6, 0.3 * len(shown) + 1.2))
    axis.barh(shown.index, shown.to_numpy())
    axis.set(xlabel="Mean |contribution| (log-odds)", title=title)
    figure.tight_layout()
    return figure
