"""Monitoring after deployment: has what is scored drifted from what the model learned, and how
good have its scores turned out since (no I/O; `pipelines/monitoring.py` loads and writes).

What is compared. Training sees each invoice at fixed ages (at issue, on its due date, 15 days
past due...); the open portfolio on one day mixes ages in other proportions, and compared with the
training snapshots it would "drift" on age alone (an invoice 40 days past due has reminders, the
one at issue has none). So "scored now" is the same schedule of snapshots dated in the last
`current_days`, and the reference is the training snapshots of the last `reference_days` before the
model's training end: like is compared with like, and only a change of the population shows.

- Feature drift: PSI of every model feature (built-in and declared, `payrisk.features`) with the
  quantile bins and shares learned at training (`DriftReference`, stored in the model card).
- Score drift: PSI of the late and default probabilities with the bins of the training scores.
- Realised performance: the snapshots dated after the model's training end whose outcome is known
  and mature now, by snapshot age: ROC AUC, log loss and calibration against the holdout's of the
  same age (the model card), beyond noise (a bootstrap over customers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from payrisk.core.config import MonitoringSettings, SnapshotSettings
from payrisk.data.loading import Dataset
from payrisk.models.evaluation import classification_metrics, metric_spread, payment_metrics
from payrisk.models.labels import mature_only, outcome_labels, snapshot_queries
from payrisk.models.scorer import PaymentRiskScorer
from payrisk.models.training import (
    AGE_GROUPS,
    CLASSIFICATION_TARGETS,
    MODEL,
    Examples,
    InsufficientHistoryError,
    age_groups,
)

REFERENCE_KEY = "monitoring_reference"  # where the model card keeps the reference
SCORES = tuple(f"{target}_probability" for target in CLASSIFICATION_TARGETS)
MISSING = "(missing)"
OTHER = "(other or new)"
FLOOR = 1e-4  # an empty bin's share: PSI stays finite, a new category still counts heavily
MAX_CATEGORIES = 50  # kept by share; rarer ones go with the new ones
VERDICTS = ("ok", "watch", "retrain")


class MonitoringDataError(InsufficientHistoryError):
    """Nothing to monitor: no snapshot in the window scored now, or no reference to compare."""


# --- PSI ----------------------------------------------------------------------------------------


def psi(expected: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Population stability index of each row's shares (last axis: the bins), floored shares."""
    e = np.maximum(np.asarray(expected, dtype="float64"), FLOOR)
    a = np.maximum(np.asarray(actual, dtype="float64"), FLOOR)
    return np.sum((a - e) * np.log(a / e), axis=-1)


def _as_text(values: pd.Series) -> np.ndarray:
    return values.astype(object).where(values.notna(), MISSING).astype(str).to_numpy()


class DriftReference:
    """Bins and shares of each column in a reference frame; PSI of another frame against them.

    Numeric columns: inner edges at the reference's quantiles (ties merged), bins (-inf, e1],
    (e1, e2], ..., (ek, inf) so that a mass at one value (no reminder: 0) is a bin of its own, and
    missing values in a bin of their own. Categorical columns: the reference's categories (the
    `MAX_CATEGORIES` most frequent), one bin for the rarer and the never seen, one for missing.
    """

    def __init__(self, bins: int = 10, categorical: tuple[str, ...] = ()) -> None:
        self.bins = bins
        self.categorical = categorical

    def fit(self, frame: pd.DataFrame) -> DriftReference:
        self.edges_: dict[str, list[float]] = {}
        self.categories_: dict[str, list[str]] = {}
        levels = np.linspace(0, 1, self.bins + 1)[1:-1]
        for name in frame.columns:
            if name in self.categorical:
                counts = pd.Series(_as_text(frame[name])).value_counts(sort=True)
                self.categories_[name] = [str(c) for c in counts.index[:MAX_CATEGORIES]]
            else:
                x = frame[name].to_numpy(dtype="float64")
                finite = x[np.isfinite(x)]
                edges = np.unique(np.quantile(finite, levels)) if len(finite) else np.empty(0)
                self.edges_[name] = [float(e) for e in edges]
        self.expected_ = self.shares(frame)
        self.rows_ = len(frame)
        return self

    @property
    def columns(self) -> list[str]:
        return [*self.edges_, *self.categories_]

    def _codes(self, name: str, values: pd.Series) -> tuple[np.ndarray, int]:
        """Each row's bin and the number of bins."""
        if name in self.categories_:
            categories = self.categories_[name]
            codes = pd.Categorical(_as_text(values), categories=categories).codes.astype("int64")
            return np.where(codes < 0, len(categories), codes), len(categories) + 1
        edges = np.asarray(self.edges_[name])
        x = values.to_numpy(dtype="float64")
        codes = np.searchsorted(edges, x, side="left")
        return np.where(np.isnan(x), len(edges) + 1, codes), len(edges) + 2

    def share(self, name: str, values: pd.Series) -> np.ndarray:
        """Share of the values in each bin of column `name`."""
        codes, size = self._codes(name, values)
        return np.bincount(codes, minlength=size) / max(len(codes), 1)

    def shares(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        return {name: self.share(name, frame[name]) for name in self.columns}

    def noise(
        self, frame: pd.DataFrame, clusters: np.ndarray, rounds: int = 40, seed: int = 0
    ) -> pd.Series:
        """How large each column's PSI gets from sampling alone: the 95th percentile of the PSI
        of `frame` resampled by whole clusters (a customer's snapshots move together) against
        `frame` itself. A PSI below it says nothing of the population."""
        codes, _ = pd.factorize(pd.Series(clusters))
        n_clusters = int(codes.max()) + 1 if len(codes) else 0
        rng = np.random.default_rng(seed)
        weights = np.stack(
            [np.bincount(rng.integers(0, n_clusters, n_clusters), minlength=n_clusters)[codes]
             for _ in range(rounds)]
        ).astype("float64")  # fmt: skip
        out = {}
        for name in self.columns:
            bins, size = self._codes(name, frame[name])
            observed = np.bincount(bins, minlength=size) / max(len(bins), 1)
            drawn = np.stack([np.bincount(bins, weights=w, minlength=size) for w in weights])
            drawn /= np.maximum(drawn.sum(axis=1, keepdims=True), 1e-12)
            out[name] = float(np.quantile(psi(observed, drawn), 0.95))
        return pd.Series(out, dtype="float64")

    def psi(self, frame: pd.DataFrame) -> pd.Series:
        """PSI of each column of `frame` against the reference, largest first."""
        actual = self.shares(frame)
        values = {name: float(psi(self.expected_[name], actual[name])) for name in self.columns}
        return pd.Series(values, dtype="float64").sort_values(ascending=False, kind="stable")

    def bin_label(self, name: str, index: int) -> str:
        if name in self.categories_:
            categories = self.categories_[name]
            return repr(categories[index]) if index < len(categories) else OTHER
        edges = self.edges_[name]
        if index == len(edges) + 1:
            return "missing"
        low = f"{edges[index - 1]:.4g}" if index > 0 else "-inf"
        high = f"{edges[index]:.4g}" if index < len(edges) else "inf"
        return f"({low}, {high}]"

    def largest_change(self, name: str, frame: pd.DataFrame) -> dict:
        """The bin that moved most (its share of the PSI), in the reference and now."""
        expected = self.expected_[name]
        actual = self.share(name, frame[name])
        e, a = np.maximum(expected, FLOOR), np.maximum(actual, FLOOR)
        index = int(np.argmax((a - e) * np.log(a / e)))
        return {
            "bin": self.bin_label(name, index),
            "reference_share": float(expected[index]),
            "current_share": float(actual[index]),
        }

    def to_dict(self) -> dict:
        """Plain JSON (the model card carries it)."""
        return {
            "bins": self.bins,
            "rows": self.rows_,
            "edges": self.edges_,
            "categories": self.categories_,
            "expected": {k: [float(v) for v in s] for k, s in self.expected_.items()},
        }

    @classmethod
    def from_dict(cls, stored: dict) -> DriftReference:
        reference = cls(int(stored["bins"]), tuple(stored["categories"]))
        reference.edges_ = {k: list(v) for k, v in stored["edges"].items()}
        reference.categories_ = {k: list(v) for k, v in stored["categories"].items()}
        reference.expected_ = {
            k: np.asarray(v, dtype="float64") for k, v in stored["expected"].items()
        }
        reference.rows_ = int(stored["rows"])
        return reference


# --- The reference, learned at training -----------------------------------------------------------


def reference_window(trained_until: pd.Timestamp, settings: MonitoringSettings) -> tuple:
    return trained_until - pd.Timedelta(days=settings.reference_days), trained_until


def fit_reference(
    scorer: PaymentRiskScorer,
    examples: Examples,
    trained_until: pd.Timestamp,
    snapshots: SnapshotSettings,
    settings: MonitoringSettings,
) -> dict:
    """What `payrisk monitor` compares with, learned from the training snapshots of the last
    `reference_days` before `trained_until` (all of them when none is that recent): the bins and
    shares of every feature and of the scores the model gives them, with the window and the
    snapshot schedule."""
    start, end = reference_window(trained_until, settings)
    dates = examples.queries["snapshot_date"]
    rows = ((dates >= start) & (dates < end)).to_numpy()
    if not rows.any():  # a ledger whose last invoices are older: its latest snapshots, then
        rows = (dates < end).to_numpy()
        start = dates[rows].min() if rows.any() else start
    if not rows.any():
        raise MonitoringDataError(f"no snapshot dated before {end.date()}: no drift reference")
    features = examples.features.loc[rows, list(scorer.feature_columns)]
    scores = scorer.predict(features)[list(SCORES)]
    categorical = scorer.feature_set.categorical
    return {
        "window": [start.date().isoformat(), end.date().isoformat()],
        "snapshots": snapshots.model_dump(mode="json"),
        "features": DriftReference(settings.bins, categorical).fit(features).to_dict(),
        "scores": DriftReference(settings.bins).fit(scores).to_dict(),
    }


# --- What is scored now, and what has matured -----------------------------------------------------


def snapshot_examples(
    scorer: PaymentRiskScorer,
    dataset: Dataset,
    as_of: pd.Timestamp,
    since: pd.Timestamp,
    snapshots: SnapshotSettings,
) -> Examples:
    """The invoices of `dataset` at the training schedule's ages, dated in [since, as_of), with
    the model's features (point in time) and their labels as known and mature at `as_of`."""
    queries = snapshot_queries(dataset.invoices, as_of, snapshots)
    queries = queries.loc[(queries["snapshot_date"] >= since).to_numpy()].reset_index(drop=True)
    history = scorer.build_history(dataset, as_of)
    features = scorer.features(history, queries)
    labels = outcome_labels(queries, dataset.invoices, as_of, scorer.targets)
    labels = mature_only(labels, queries, as_of, scorer.targets)
    return Examples(queries, features, labels)


# --- Findings and the verdict ---------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One check past its threshold: how serious (1 watch, 2 retrain) and why, in words."""

    level: int
    check: str
    subject: str
    words: str


def _level(value: float, thresholds: tuple[float, float]) -> int:
    if not np.isfinite(value):
        return 0
    return 2 if value >= thresholds[1] else 1 if value >= thresholds[0] else 0


def _status(level: int) -> str:
    return VERDICTS[level]


def drift_checks(
    reference: DriftReference,
    current: pd.DataFrame,
    customers: np.ndarray,
    thresholds: tuple[float, float],
    kind: str,
    seed: int,
    not_judged: tuple[str, ...] = (),
) -> tuple[list[dict], list[Finding]]:
    """PSI of each column against the reference, largest first, judged (except `not_judged`)
    where it is past its threshold and past the PSI that sampling alone gives."""
    rows, findings = [], []
    noise = reference.noise(current, customers, seed=seed)
    for name, value in reference.psi(current).items():
        judged = name not in not_judged
        level = _level(value, thresholds) if judged and value > noise[name] else 0
        row = {
            kind: name,
            "psi": value,
            "noise": noise[name],
            "status": _status(level) if judged else "not judged",
        }
        if level or value >= thresholds[0]:
            row["largest_change"] = reference.largest_change(name, current)
        rows.append(row)
        if level:
            change = row["largest_change"]
            findings.append(
                Finding(
                    level,
                    f"{kind} drift",
                    name,
                    f"{kind} {name}: PSI {value:.3f} (noise {noise[name]:.3f}; watch from "
                    f"{thresholds[0]:g}, retrain from {thresholds[1]:g}); {change['bin']} makes "
                    f"{change['current_share']:.1%} of the recent snapshots, "
                    f"{change['reference_share']:.1%} in training",
                )
            )
    return rows, findings


def _holdout(card: dict, group: str, target: str) -> dict:
    return card.get("holdout_by_group", {}).get(group, {}).get(target, {}).get(MODEL, {})


def performance_checks(
    scorer: PaymentRiskScorer,
    matured: Examples,
    settings: MonitoringSettings,
    seed: int,
) -> tuple[dict, list[Finding]]:
    """Realised accuracy per snapshot age on the matured snapshots against the holdout's.

    A drop counts only past its threshold and past twice its noise: the spread of the realised
    metric over a bootstrap of customers, widened for the holdout's own spread (variance falls
    with the number of snapshots, so the holdout's is the realised one's times n / n_holdout)."""
    card = scorer.metadata
    predicted = scorer.predict(matured.features[list(scorer.feature_columns)])
    ages = age_groups(matured.queries)
    customers = matured.queries["customer_id"].to_numpy()
    out: dict = {}
    findings: list[Finding] = []
    for group in AGE_GROUPS:
        rows = ages == group
        for target in CLASSIFICATION_TARGETS:
            known = rows & matured.known(target)
            if known.sum() < settings.min_rows:
                continue
            y = matured.labels.loc[known, target].to_numpy().astype("int64")
            p = predicted[f"{target}_probability"].to_numpy()[known]
            metrics = classification_metrics(y, p, np.ones(len(y)))
            entry = {
                "n": int(known.sum()),
                "observed_rate": float(y.mean()),
                "mean_predicted": float(p.mean()),
                "calibration_gap": float(y.mean() - p.mean()),
            }
            holdout = _holdout(card, group, target)
            for metric, sign, thresholds in (
                ("roc_auc", 1.0, settings.auc_drop),
                ("log_loss", -1.0, settings.log_loss_rise),
            ):
                entry[metric] = metrics[metric]
                before = holdout.get(metric)
                if before is None or not np.isfinite(metrics[metric]) or not np.isfinite(before):
                    continue
                worse = sign * (before - metrics[metric])
                spread = metric_spread(y, p, customers[known], metric, seed)
                noise = spread * np.sqrt(1 + len(y) / max(holdout.get("n", len(y)), 1.0))
                entry |= {
                    f"holdout_{metric}": before,
                    f"{metric}_worse_by": worse,
                    f"{metric}_noise": noise,
                }
                level = _level(worse, thresholds) if worse > 2 * noise else 0
                if level:
                    findings.append(
                        Finding(
                            level,
                            "performance",
                            f"{group} {target}",
                            f"{target} {AGE_GROUPS[group]}: {metric.replace('_', ' ')} "
                            f"{metrics[metric]:.3f} on {len(y):,} matured snapshots vs "
                            f"{before:.3f} on the holdout (worse by {worse:.3f}, noise "
                            f"{noise:.3f}; watch from {thresholds[0]:g}, retrain from "
                            f"{thresholds[1]:g})",
                        )
                    )
            level = _level(abs(entry["calibration_gap"]), settings.calibration_gap)
            if level:
                findings.append(
                    Finding(
                        level,
                        "calibration",
                        f"{group} {target}",
                        f"{target} {AGE_GROUPS[group]}: {entry['observed_rate']:.1%} observed vs "
                        f"{entry['mean_predicted']:.1%} predicted on {len(y):,} matured snapshots",
                    )
                )
            out.setdefault(group, {})[target] = entry
        paid = rows & matured.known("days_to_payment")
        if paid.sum() >= settings.min_rows:
            days = matured.labels.loc[paid, "days_to_payment"].to_numpy()
            payment = payment_metrics(
                days,
                predicted["days_to_payment"].to_numpy()[paid],
                predicted["days_to_payment_low"].to_numpy()[paid],
                predicted["days_to_payment_high"].to_numpy()[paid],
            )
            low, _, high = scorer.targets.payment_quantiles
            gap = payment["interval_coverage"] - (high - low)
            payment |= {
                "claimed_coverage": high - low,
                "holdout_mae_days": _holdout(card, group, "payment").get("mae_days"),
            }
            out.setdefault(group, {})["payment"] = payment
            if abs(gap) >= settings.coverage_gap:
                findings.append(
                    Finding(
                        1,
                        "payment interval",
                        group,
                        f"payment date {AGE_GROUPS[group]}: the intervals held "
                        f"{payment['interval_coverage']:.0%} of {int(payment['n']):,} matured "
                        f"payments, they claim {high - low:.0%}",
                    )
                )
    return out, findings


def monitor(
    scorer: PaymentRiskScorer,
    dataset: Dataset,
    as_of: pd.Timestamp,
    settings: MonitoringSettings,
    snapshots: SnapshotSettings,
    seed: int,
) -> dict:
    """The monitoring report of `scorer` on `dataset` at `as_of`: drift of the features and
    scores of the last `current_days` from the training reference, realised accuracy on what has
    matured since the model's training end, and the verdict (ok / watch / retrain) with reasons.

    The reference is the one stored with the model; a model trained before it was stored gets
    one recomputed from this data's snapshots of the same window (the report says so)."""
    trained_until = pd.Timestamp(scorer.metadata["trained_until"])
    stored = scorer.metadata.get(REFERENCE_KEY)
    snapshots = SnapshotSettings(**stored["snapshots"]) if stored else snapshots
    current_start = as_of - pd.Timedelta(days=settings.current_days)
    reference_start, _ = reference_window(trained_until, settings)
    since = min(current_start, trained_until if stored else reference_start)
    examples = snapshot_examples(scorer, dataset, as_of, since, snapshots)
    dates = examples.queries["snapshot_date"]
    current = examples.subset((dates >= current_start).to_numpy())
    if len(current) == 0:
        raise MonitoringDataError(
            f"no invoice of the data is open at any snapshot age between "
            f"{current_start.date()} and {as_of.date()}: nothing scored there to monitor "
            "(is --as-of within the data?)"
        )
    if stored is None:
        stored = fit_reference(scorer, examples, trained_until, snapshots, settings)
        source = "recomputed from this data (the model carries no reference)"
    else:
        source = "stored with the model at training"
    features = DriftReference.from_dict(stored["features"])
    scores = DriftReference.from_dict(stored["scores"])
    findings: list[Finding] = []
    report: dict = {
        "as_of": as_of.date().isoformat(),
        "trained_until": trained_until.date().isoformat(),
        "reference": {"window": stored["window"], "snapshots": features.rows_, "source": source},
        "current": {
            "window": [current_start.date().isoformat(), as_of.date().isoformat()],
            "snapshots": len(current),
        },
    }
    if len(current) < settings.min_rows:
        findings.append(
            Finding(
                1,
                "too little data",
                "current window",
                f"only {len(current):,} snapshots in the last {settings.current_days} days "
                f"({settings.min_rows} needed): drift not judged",
            )
        )
        report["features"], report["scores"] = [], []
    else:
        customers = current.queries["customer_id"].to_numpy()
        report["features"], found = drift_checks(
            features,
            current.features[features.columns],
            customers,
            settings.feature_psi,
            "feature",
            seed,
            settings.not_judged,
        )
        findings += found
        predicted = scorer.predict(current.features[list(scorer.feature_columns)])
        report["scores"], found = drift_checks(
            scores, predicted[list(SCORES)], customers, settings.score_psi, "score", seed
        )
        findings += found
    matured = examples.subset((dates >= trained_until).to_numpy())
    by_age, found = performance_checks(scorer, matured, settings, seed)
    findings += found
    report["performance"] = {
        "window": [trained_until.date().isoformat(), as_of.date().isoformat()],
        "by_age": by_age,
        "note": (
            "realised accuracy by snapshot age on the snapshots dated after the model's training "
            "end whose outcome is known and mature now, against the holdout's of the same age"
            if by_age
            else f"not yet measurable: fewer than {settings.min_rows} snapshots of any age dated "
            f"from {trained_until.date()} have a mature outcome"
        ),
    }
    level = max((f.level for f in findings), default=0)
    report["verdict"] = VERDICTS[level]
    report["reasons"] = [f.words for f in sorted(findings, key=lambda f: -f.level)]
    report["thresholds"] = settings.model_dump(mode="json")
    return report
