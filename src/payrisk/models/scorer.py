"""The scorer: feature definitions and the three models, trained together and shipped together.

It is what the registry holds, so that nothing downstream can pair a model with other features.
`PaymentRiskScorer.score` takes a history and invoices and returns, per invoice, the probability of
late payment, of default, and the expected payment date with its interval.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import lightgbm as lgb
import mlflow.pyfunc
import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from payrisk.core.config import FeatureSettings, TargetSettings
from payrisk.data.loading import Dataset
from payrisk.features.definitions import FEATURE_COLUMNS, feature_arrays, invoice_features
from payrisk.features.history import History, build_history
from payrisk.core.days import to_days
from payrisk.models.effects import EffectModels
from payrisk.models.encoding import CategoryEncoder, Columns, MatrixLayout, frame_columns
from payrisk.models.estimators import CalibratedLGBMClassifier, QuantileLGBMRegressor, _log_odds


SCORE_COLUMNS: tuple[str, ...] = (
    "late_probability",
    "default_probability",
    "days_to_payment_low",
    "days_to_payment",
    "days_to_payment_high",
)


@dataclass(frozen=True)
class BoosterCall:
    """One LightGBM booster as scoring calls it: the raw booster, its best iteration, its input."""

    booster: lgb.Booster
    num_iteration: int | None
    layout: int  # index into ScoringPlan.layouts

    @classmethod
    def of(cls, model: lgb.LGBMModel, layout: int) -> BoosterCall:
        return cls(model.booster_, model.best_iteration_, layout)

    def predict(self, matrices: list[np.ndarray], **kwargs) -> np.ndarray:
        matrix = matrices[self.layout]
        return self.booster.predict(
            matrix, num_iteration=self.num_iteration, **threads_for(len(matrix)), **kwargs
        )


SINGLE_THREAD_ROWS = 512  # below this, OpenMP's thread hand-off costs more than it saves


def threads_for(rows: int) -> dict[str, int]:
    """LightGBM's prediction threads for `rows` rows: one for small requests.

    With two or more OpenMP threads a one-row prediction waits for a thread on a busy core (up to
    a scheduler time slice, milliseconds) for microseconds of work; large batches use them all.
    """
    return {"num_threads": 1 if rows < SINGLE_THREAD_ROWS else 0}  # 0: LightGBM's default


@dataclass(frozen=True)
class ScoringPlan:
    """What scoring needs from the fitted models, unwrapped once: layouts and booster calls.

    Five boosters usually share one layout (the same features and categories), so one matrix
    is built per request.
    """

    layouts: tuple[MatrixLayout, ...]
    late: BoosterCall
    default: BoosterCall
    quantiles: tuple[BoosterCall, ...]

    @classmethod
    def of(cls, scorer: PaymentRiskScorer) -> ScoringPlan:
        layouts: list[MatrixLayout] = []

        def layout_of(encoder: CategoryEncoder) -> int:
            layout = encoder.layout_
            for i, known in enumerate(layouts):
                if known.same_as(layout):
                    return i
            layouts.append(layout)
            return len(layouts) - 1

        payment = scorer.payment_model
        late = BoosterCall.of(scorer.late_model.booster_, layout_of(scorer.late_model.encoder_))
        default = BoosterCall.of(
            scorer.default_model.booster_, layout_of(scorer.default_model.encoder_)
        )
        payment_layout = layout_of(payment.encoder_)
        quantiles = tuple(
            BoosterCall.of(payment.models_[q], payment_layout) for q in payment.quantiles
        )
        return cls(tuple(layouts), late, default, quantiles)

    def matrices(self, features: Columns) -> list[np.ndarray]:
        return [layout.matrix(features) for layout in self.layouts]


def calibrated(model: CalibratedLGBMClassifier, raw: np.ndarray) -> np.ndarray:
    """The classifier's calibration map on raw booster scores, as its `predict_proba` applies it.

    Platt scaling is a sigmoid of one coefficient: computed here rather than through
    scikit-learn's input checks, which cost more than the booster for a single invoice.
    """
    calibrator = model.calibrator_
    if isinstance(calibrator, IsotonicRegression):
        return np.clip(calibrator.predict(raw), 0.0, 1.0)
    if isinstance(calibrator, LogisticRegression) and calibrator.coef_.shape == (1, 1):
        return expit(_log_odds(raw) * calibrator.coef_[0, 0] + calibrator.intercept_[0])
    return calibrator.predict_proba(_log_odds(raw)[:, None])[:, 1]


@dataclass
class PaymentRiskScorer:
    targets: TargetSettings
    feature_settings: FeatureSettings
    late_model: CalibratedLGBMClassifier
    default_model: CalibratedLGBMClassifier
    payment_model: QuantileLGBMRegressor
    metadata: dict = field(default_factory=dict)

    feature_columns: tuple[str, ...] = FEATURE_COLUMNS
    # Channel effects (payrisk.models.effects), trained, evaluated and registered with the risk
    # models; None for a scorer trained without them (the dunning rules then decide alone).
    effects: EffectModels | None = None

    def build_history(self, dataset: Dataset, as_of: pd.Timestamp) -> History:
        return build_history(dataset, as_of, self.targets, self.feature_settings)

    def features(self, history: History, queries: pd.DataFrame) -> pd.DataFrame:
        return invoice_features(history, queries)

    def feature_arrays(self, history: History, **query: np.ndarray) -> dict[str, np.ndarray]:
        """`features` on plain arrays (see `payrisk.features.feature_arrays`)."""
        return feature_arrays(history, **query)

    @cached_property
    def plan(self) -> ScoringPlan:
        """The fitted boosters unwrapped once (not pickled: see `__getstate__`)."""
        return ScoringPlan.of(self)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("plan", None)
        return state

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Scores from features. Outcomes already decided at the snapshot are certain."""
        scores = self.predict_arrays(frame_columns(features, self.feature_columns))
        return pd.DataFrame(scores, index=features.index)

    def predict_arrays(self, features: Columns) -> dict[str, np.ndarray]:
        """`predict` on feature arrays: one matrix, one call per booster, SCORE_COLUMNS."""
        plan = self.plan
        matrices = plan.matrices(features)
        days_past_due = np.asarray(features["days_past_due"], dtype="float64")
        late = calibrated(self.late_model, plan.late.predict(matrices))
        default = calibrated(self.default_model, plan.default.predict(matrices))
        late = np.where(days_past_due > self.targets.late_after_days, 1.0, late)
        default = np.where(days_past_due > self.targets.default_after_days, 1.0, default)
        # A default is a late payment too: keep the two probabilities coherent.
        late = np.maximum(late, default)
        stacked = np.column_stack([call.predict(matrices) for call in plan.quantiles])
        # Rows x quantiles, sorted so that intervals never cross; never negative.
        quantiles = np.clip(np.sort(stacked, axis=1), 0.0, None)
        return {
            "late_probability": late,
            "default_probability": default,
            "days_to_payment_low": quantiles[:, 0],
            "days_to_payment": quantiles[:, 1],
            "days_to_payment_high": quantiles[:, 2],
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
        """Per-feature TreeSHAP contributions (log-odds) of the late or default model; + bias."""
        model = self.late_model if target == "late" else self.default_model
        values = self.contribution_matrix(frame_columns(features, self.feature_columns), target)
        return pd.DataFrame(
            values, columns=[*model.feature_names_in_, "bias"], index=features.index
        )

    def contribution_matrix(self, features: Columns, target: str) -> np.ndarray:
        """`contributions` on feature arrays: rows x (model features + bias)."""
        call = self.plan.late if target == "late" else self.plan.default
        layout = self.plan.layouts[call.layout]
        matrix = layout.matrix(features)
        return call.booster.predict(
            matrix, num_iteration=call.num_iteration, pred_contrib=True, **threads_for(len(matrix))
        )

    def contribution_names(self, target: str) -> tuple[str, ...]:
        """Feature names of `contribution_matrix`'s columns, before the bias."""
        model = self.late_model if target == "late" else self.default_model
        return tuple(model.feature_names_in_)


class PayriskModel(mlflow.pyfunc.PythonModel):
    """MLflow wrapper: `predict` takes feature rows (FEATURE_COLUMNS) and returns SCORE_COLUMNS.

    The service and batch scoring unwrap it (`unwrap_python_model().scorer`) to compute the
    features themselves from a history, with the scorer's own feature definitions.
    """

    def __init__(self, scorer: PaymentRiskScorer) -> None:
        self.scorer = scorer

    # MLflow reads this signature's type hints; only the input and output are typed on purpose.
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.scorer.predict(model_input)[list(SCORE_COLUMNS)]
