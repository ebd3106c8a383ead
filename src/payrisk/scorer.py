"""The scorer: feature definitions and the three models, trained together and shipped together.

It is what the registry holds, so that nothing downstream can pair a model with other features.
`PaymentRiskScorer.score` takes a history and invoices and returns, per invoice, the probability of
late payment, of default, and the expected payment date with its interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mlflow.pyfunc
import numpy as np
import pandas as pd

from payrisk.config import FeatureSettings, TargetSettings
from payrisk.dataset import Dataset
from payrisk.features import FEATURE_COLUMNS, History, build_history, invoice_features
from payrisk.models import CalibratedLGBMClassifier, QuantileLGBMRegressor

SCORE_COLUMNS: tuple[str, ...] = (
    "late_probability",
    "default_probability",
    "days_to_payment_low",
    "days_to_payment",
    "days_to_payment_high",
)


@dataclass
class PaymentRiskScorer:
    targets: TargetSettings
    feature_settings: FeatureSettings
    late_model: CalibratedLGBMClassifier
    default_model: CalibratedLGBMClassifier
    payment_model: QuantileLGBMRegressor
    metadata: dict = field(default_factory=dict)

    feature_columns: tuple[str, ...] = FEATURE_COLUMNS

    def build_history(self, dataset: Dataset, as_of: pd.Timestamp) -> History:
        return build_history(dataset, as_of, self.targets, self.feature_settings)

    def features(self, history: History, queries: pd.DataFrame) -> pd.DataFrame:
        return invoice_features(history, queries)

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Scores from features. Outcomes already decided at the snapshot are certain."""
        features = features[list(self.feature_columns)]
        days_past_due = features["days_past_due"].to_numpy(dtype="float64")
        late = self.late_model.predict_proba(features)[:, 1]
        default = self.default_model.predict_proba(features)[:, 1]
        late = np.where(days_past_due > self.targets.late_after_days, 1.0, late)
        default = np.where(days_past_due > self.targets.default_after_days, 1.0, default)
        # A default is a late payment too: keep the two probabilities coherent.
        late = np.maximum(late, default)
        quantiles = self.payment_model.predict_quantiles(features)
        return pd.DataFrame(
            {
                "late_probability": late,
                "default_probability": default,
                "days_to_payment_low": quantiles[:, 0],
                "days_to_payment": quantiles[:, 1],
                "days_to_payment_high": quantiles[:, 2],
            },
            index=features.index,
        )

    def score(self, history: History, queries: pd.DataFrame) -> pd.DataFrame:
        """Scores and expected payment dates of invoices, each at its `snapshot_date`."""
        return self.score_features(self.features(history, queries), queries["snapshot_date"])

    def score_features(self, features: pd.DataFrame, snapshot_dates: pd.Series) -> pd.DataFrame:
        """`score` for features already computed: probabilities, then dates from the days."""
        scores = self.predict(features)
        when = pd.DatetimeIndex(snapshot_dates)
        for suffix in ("_low", "", "_high"):
            days = np.round(scores[f"days_to_payment{suffix}"].to_numpy())
            scores[f"expected_payment_date{suffix}"] = when + pd.to_timedelta(days, unit="D")
        return scores

    def contributions(self, features: pd.DataFrame, target: str) -> pd.DataFrame:
        model = self.late_model if target == "late" else self.default_model
        return model.contributions(features[list(self.feature_columns)])


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
