"""The scorer: feature definitions and the three models, trained together and shipped together.

It is what the registry holds, so that nothing downstream can pair a model with other features.
`PaymentRiskScorer.score` takes a history and invoices and returns, per invoice, the probability of
late payment, of default, and the expected payment date with its interval.

The three answers cannot contradict each other, by construction:
- P(default) = P(late) x P(default | late): a default is a late payment, so P(default) <= P(late)
  without any clipping;
- the payment date is read off one distribution whose mass after the due date is P(late) and
  after the default cut P(default) (`payment.coherent_cumulative`): the central date is after the
  due date exactly when P(late) > 50%, and the interval always contains it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import mlflow.pyfunc
import numpy as np
import pandas as pd

from payrisk.core.config import FeatureSettings, TargetSettings
from payrisk.core.days import to_days
from payrisk.data.loading import Dataset
from payrisk.features.definitions import FeatureSet, feature_arrays, invoice_features
from payrisk.features.history import History, build_history
from payrisk.models.effects import EffectModels
from payrisk.models.encoding import Columns, MatrixLayout, frame_columns
from payrisk.models.estimators import TargetClassifier
from payrisk.models.payment import PaymentHazard, coherent_cumulative, quantile_days
from payrisk.models.treeshap import PARALLEL_ROWS

SCORE_COLUMNS: tuple[str, ...] = (
    "late_probability",
    "default_probability",
    "days_to_payment_low",
    "days_to_payment",
    "days_to_payment_high",
)
TARGET_NAMES: tuple[str, ...] = ("late", "default")  # what reasons and the model page explain

SCORE_CHUNK = 50_000  # invoices scored at once (the payment distribution is rows x bands)
SINGLE_THREAD_ROWS = 512  # below this, OpenMP's thread hand-off costs more than it saves


def threads_for(rows: int) -> dict[str, int]:
    """LightGBM's prediction threads for `rows` rows: one for small requests.

    With two or more OpenMP threads a one-row prediction waits for a thread on a busy core (up to
    a scheduler time slice, milliseconds) for microseconds of work; large batches use them all.
    """
    return {"num_threads": 1 if rows < SINGLE_THREAD_ROWS else 0}  # 0: LightGBM's default


@dataclass(frozen=True)
class ScoringPlan:
    """The matrix layouts the three models read, built once: usually they share one, so one
    matrix is built per request."""

    layouts: tuple[MatrixLayout, ...]
    late: int  # index into layouts
    default: int
    payment: int

    @classmethod
    def of(cls, scorer: PaymentRiskScorer) -> ScoringPlan:
        layouts: list[MatrixLayout] = []

        def index_of(layout: MatrixLayout) -> int:
            for i, known in enumerate(layouts):
                if known.same_as(layout):
                    return i
            layouts.append(layout)
            return len(layouts) - 1

        late = index_of(scorer.late_model.layout_)
        default = index_of(scorer.default_model.layout_)
        payment = index_of(scorer.payment_model.layout_)
        return cls(tuple(layouts), late, default, payment)

    def matrices(self, features: Columns) -> list[np.ndarray]:
        return [layout.matrix(features) for layout in self.layouts]


@dataclass
class PaymentRiskScorer:
    targets: TargetSettings
    feature_settings: FeatureSettings
    late_model: TargetClassifier  # P(late)
    default_model: TargetClassifier  # P(default | late)
    payment_model: PaymentHazard
    metadata: dict = field(default_factory=dict)
    # Levels of the interval's ends, set on the latest training slice so that the interval
    # holds the share of payments it claims (`training.calibrate_interval`).
    interval_levels: tuple[float, float] = (0.1, 0.9)

    # Channel effects (payrisk.models.effects), trained, evaluated and registered with the risk
    # models; None for a scorer trained without them (the dunning rules then decide alone).
    effects: EffectModels | None = None

    @cached_property
    def feature_set(self) -> FeatureSet:
        """The built-in features and the declared ones (not pickled: rebuilt from settings)."""
        return FeatureSet.of(self.feature_settings.declared)

    @property
    def feature_columns(self) -> tuple[str, ...]:
        return self.feature_set.columns

    def build_history(self, dataset: Dataset, as_of: pd.Timestamp) -> History:
        return build_history(dataset, as_of, self.targets, self.feature_settings)

    def features(self, history: History, queries: pd.DataFrame) -> pd.DataFrame:
        return invoice_features(history, queries, self.feature_set)

    def feature_arrays(
        self, history: History, features: FeatureSet | None = None, **query: np.ndarray
    ) -> dict[str, np.ndarray]:
        """`features` on plain arrays (see `payrisk.features.feature_arrays`): the model's own,
        or the given set (e.g. with the channel-effect models' response history)."""
        return feature_arrays(history, **query, features=features or self.feature_set)

    @cached_property
    def plan(self) -> ScoringPlan:
        """The models' layouts, unwrapped once (not pickled: see `__getstate__`)."""
        return ScoringPlan.of(self)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("plan", None)
        state.pop("feature_set", None)
        return state

    def model(self, target: str) -> TargetClassifier:
        return self.late_model if target == "late" else self.default_model

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Scores from features. Outcomes already decided at the snapshot are certain."""
        scores = self.predict_arrays(frame_columns(features, self.feature_columns))
        return pd.DataFrame(scores, index=features.index)

    def probabilities(
        self, features: Columns, matrices: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """P(late) and P(default) = P(late) x P(default | late); certain once decided.
        `matrices`: `plan.matrices(features)`, built once for this and the payment model."""
        plan = self.plan
        days_past_due = np.asarray(features["days_past_due"], dtype="float64")
        threads = threads_for(len(days_past_due))
        late = self.late_model.probability(matrices[plan.late], **threads)
        late = np.where(days_past_due > self.targets.late_after_days, 1.0, late)
        default_given_late = self.default_model.probability(matrices[plan.default], **threads)
        default = np.where(
            days_past_due > self.targets.default_after_days, 1.0, late * default_given_late
        )
        return late, default

    def payment_distribution(
        self,
        features: Columns,
        late: np.ndarray,
        default: np.ndarray,
        matrices: list[np.ndarray],
    ) -> np.ndarray:
        """P(paid by the end of each band of days past due), coherent with P(late), P(default)."""
        plan = self.plan
        days_past_due = np.asarray(features["days_past_due"], dtype="float64")
        base = self.payment_model.cumulative(
            matrices[plan.payment], days_past_due, **threads_for(len(days_past_due))
        )
        return coherent_cumulative(
            base,
            self.payment_model.edges_,
            days_past_due,
            late,
            default,
            self.targets.late_after_days,
            self.targets.default_after_days,
        )

    def payment_days(
        self, cumulative: np.ndarray, days_past_due: np.ndarray, levels: tuple[float, ...]
    ) -> list[np.ndarray]:
        """Days from the snapshot to payment at each probability level (never negative:
        `quantile_days` never answers a day before the snapshot)."""
        start = np.asarray(days_past_due, dtype="float64").astype("int64")
        edges = self.payment_model.edges_
        return [
            (quantile_days(cumulative, edges, start, level) - start).astype("float64")
            for level in levels
        ]

    def predict_arrays(self, features: Columns) -> dict[str, np.ndarray]:
        """`predict` on feature arrays: one matrix per layout, SCORE_COLUMNS.

        Large batches go in chunks: the payment distribution holds a row per band of each
        invoice, which for a million invoices would not fit in memory at once.
        """
        n = len(features["days_past_due"])
        if n > SCORE_CHUNK:
            parts = [
                self._predict_chunk(
                    {k: np.asarray(v)[i : i + SCORE_CHUNK] for k, v in features.items()}
                )
                for i in range(0, n, SCORE_CHUNK)
            ]
            return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        return self._predict_chunk(features)

    def distribution(self, features: Columns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(late), P(default) and the coherent payment distribution (rows x bands), the
        feature matrices built once for the three models (scoring and the interval's
        calibration alike)."""
        matrices = self.plan.matrices(features)
        late, default = self.probabilities(features, matrices)
        return late, default, self.payment_distribution(features, late, default, matrices)

    def _predict_chunk(self, features: Columns) -> dict[str, np.ndarray]:
        late, default, cumulative = self.distribution(features)
        low_level, high_level = self.interval_levels
        low, central, high = self.payment_days(
            cumulative,
            features["days_past_due"],
            (low_level, self.targets.payment_quantiles[1], high_level),
        )
        return {
            "late_probability": late,
            "default_probability": default,
            "days_to_payment_low": low,
            "days_to_payment": central,
            "days_to_payment_high": high,
        }

    def score(self, history: History, queries: pd.DataFrame) -> pd.DataFrame:
        """Scores and expected payment dates of invoices, each at its `snapshot_date`."""
        features = frame_columns(self.features(history, queries), self.feature_columns)
        scores = self.score_arrays(features, to_days(queries["snapshot_date"]))
        return pd.DataFrame(scores, index=queries.index)

    def score_arrays(self, features: Columns, snapshot_day: np.ndarray) -> dict[str, np.ndarray]:
        """SCORE_COLUMNS from feature arrays, then the expected payment dates (datetime64)."""
        scores = self.predict_arrays(features)
        day = np.asarray(snapshot_day, dtype="int64")
        for suffix in ("_low", "", "_high"):
            days = np.round(scores[f"days_to_payment{suffix}"]).astype("int64")
            scores[f"expected_payment_date{suffix}"] = (
                (day + days).astype("datetime64[D]").astype("datetime64[ns]")
            )
        return scores

    def contributions(self, features: pd.DataFrame, target: str) -> pd.DataFrame:
        """Per-feature contributions (log-odds) of the late or default model; + bias."""
        values = self.contribution_matrix(frame_columns(features, self.feature_columns), target)
        return pd.DataFrame(
            values, columns=[*self.contribution_names(target), "bias"], index=features.index
        )

    def contribution_matrix(self, features: Columns, target: str) -> np.ndarray:
        """`contributions` on feature arrays: rows x (model features + bias)."""
        model = self.model(target)
        matrix = model.layout_.matrix(features)
        return model.contribution_matrix(matrix, **threads_for(len(matrix)))

    def warm_up(self) -> None:
        """Build the TreeSHAP tables and the hazard's flat trees and load their compiled kernels
        now (a second or two), not in a caller's first request (the service calls this at start)."""
        wide = max(SINGLE_THREAD_ROWS, PARALLEL_ROWS)  # enough rows for the parallel kernels
        for target in TARGET_NAMES:
            model = self.model(target)
            width = len(model.feature_names_in_)
            model.contribution_matrix(np.zeros((1, width)), num_threads=1)
            model.contribution_matrix(np.zeros((wide, width)))
        hazard = self.payment_model
        width = len(hazard.layout_.columns)
        hazard.cumulative(np.zeros((1, width)), np.zeros(1), num_threads=1)
        hazard.cumulative(np.zeros((wide, width)), np.zeros(wide))

    def contribution_names(self, target: str) -> tuple[str, ...]:
        """Feature names of `contribution_matrix`'s columns, before the bias."""
        return tuple(self.model(target).feature_names_in_)

    def model_summary(self) -> dict[str, dict]:
        """Which model answers each target, and whether it could be learned at all."""
        return {
            "late": self.late_model.summary(),
            "default_given_late": self.default_model.summary(),
            "payment": {
                "model": "hazard" if self.payment_model.not_learnable_ is None else "life table",
                "learnable": self.payment_model.not_learnable_ is None,
                **(
                    {"not_learnable": self.payment_model.not_learnable_}
                    if self.payment_model.not_learnable_
                    else {}
                ),
                "bands": int(len(self.payment_model.edges_) - 1),
                "interval_levels": list(self.interval_levels),
                **self.payment_model.periods_,
            },
        }


class PayriskModel(mlflow.pyfunc.PythonModel):
    """MLflow wrapper: `predict` takes feature rows (the scorer's feature columns) and returns
    SCORE_COLUMNS.

    The service and batch scoring unwrap it (`unwrap_python_model().scorer`) to compute the
    features themselves from a history, with the scorer's own feature definitions.
    """

    def __init__(self, scorer: PaymentRiskScorer) -> None:
        self.scorer = scorer

    # MLflow reads this signature's type hints; only the input and output are typed on purpose.
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.scorer.predict(model_input)[list(SCORE_COLUMNS)]


def declared_attribute_arrays(
    scorer: PaymentRiskScorer, given: list[Mapping[str, object] | None]
) -> dict[str, np.ndarray]:
    """Declared invoice features sent with invoices (the service's new invoices), as arrays:
    numbers for numeric features (missing -> NaN), text for categorical ones (-> unknown)."""
    from payrisk.features.declared import UNKNOWN

    out: dict[str, np.ndarray] = {}
    for spec in scorer.feature_settings.declared:
        if spec.table != "invoices":
            continue
        name = spec.feature_name
        values = [None if g is None else g.get(name) for g in given]
        if spec.kind == "numeric":
            out[name] = np.array([np.nan if v is None else float(v) for v in values])
        else:
            out[name] = np.array([UNKNOWN if v is None else str(v) for v in values], dtype=object)
    return out
