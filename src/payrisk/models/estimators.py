"""The estimators: calibrated LightGBM classifiers, quantile regressors, and the baselines.

All follow scikit-learn's contract: hyperparameters in `__init__`, fitted state in attributes
ending in `_`, randomness from an explicit `random_state`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from payrisk.features.definitions import CATEGORICAL_FEATURES
from payrisk.models.encoding import CategoryEncoder


class BoosterFitter(Protocol):
    """Fits an unfitted LightGBM model, early-stopped on (eval_X, eval_y); returns it fitted.

    Whatever runs the fit (this process, a Dask cluster), the result is an in-process LightGBM
    model with `best_iteration_` set, so that prediction and pickling do not depend on it.
    """

    def __call__(
        self,
        model: lgb.LGBMModel,
        X: pd.DataFrame,
        y: np.ndarray,
        eval_X: pd.DataFrame,
        eval_y: np.ndarray,
        patience: int,
    ) -> lgb.LGBMModel: ...


def fit_in_process(
    model: lgb.LGBMModel,
    X: pd.DataFrame,
    y: np.ndarray,
    eval_X: pd.DataFrame,
    eval_y: np.ndarray,
    patience: int,
) -> lgb.LGBMModel:
    """The default fitter: LightGBM in this process, with its own early-stopping callback."""
    return model.fit(
        X,
        y,
        eval_X=eval_X,
        eval_y=eval_y,
        callbacks=[lgb.early_stopping(patience, verbose=False)],
    )


_booster_fitter: ContextVar[BoosterFitter] = ContextVar("booster_fitter", default=fit_in_process)


@contextmanager
def booster_fitter(fitter: BoosterFitter) -> Iterator[None]:
    """Fit every LightGBM model of the estimators below with `fitter` inside the block.

    Like joblib's `parallel_backend`: the estimators keep their hyperparameters and fitting logic
    (split, encoding, monotone constraints, calibration) and only the boosting runs elsewhere
    (`payrisk.scaleout` fits on Dask). Not a hyperparameter, so fitted estimators never hold a
    cluster client and pickle as before.
    """
    token = _booster_fitter.set(fitter)
    try:
        yield
    finally:
        _booster_fitter.reset(token)


def _time_split(n_rows: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Earliest rows for fitting, the latest `fraction` for early stopping and calibration.

    Rows must arrive in time order (the training pipeline sorts snapshots by date).
    """
    cut = round(n_rows * (1 - fraction))
    return np.arange(cut), np.arange(cut, n_rows)


def _log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _monotone(columns: list[str], increasing: tuple[str, ...]) -> list[int]:
    return [1 if name in increasing else 0 for name in columns]


class CalibratedLGBMClassifier(ClassifierMixin, BaseEstimator):
    """LightGBM with early stopping and isotonic calibration on the latest slice of training time.

    The calibration map (Platt scaling on the log-odds by default, or isotonic), fitted on later
    data the trees did not see, turns scores into probabilities a credit manager can read; both
    maps are increasing, so monotone constraints on the trees hold for the probabilities too.
    """

    def __init__(
        self,
        lightgbm_params: dict | None = None,
        early_stopping_rounds: int = 50,
        balance_classes: bool = False,
        calibration: str = "sigmoid",
        calibration_fraction: float = 0.2,
        monotone_increasing: tuple[str, ...] = (),
        random_state: int | None = None,
    ) -> None:
        self.lightgbm_params = lightgbm_params
        self.early_stopping_rounds = early_stopping_rounds
        self.balance_classes = balance_classes
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.monotone_increasing = monotone_increasing
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> CalibratedLGBMClassifier:
        y = np.asarray(y, dtype="int64")
        fit_rows, calibration_rows = _time_split(len(y), self.calibration_fraction)
        if len(np.unique(y[calibration_rows])) < 2 or len(np.unique(y[fit_rows])) < 2:
            raise ValueError("both classes must occur before and after the calibration cut")
        self.encoder_ = CategoryEncoder().fit(X)
        encoded = self.encoder_.transform(X)
        columns = list(encoded.columns)
        params = dict(self.lightgbm_params or {})
        booster = lgb.LGBMClassifier(
            **params,
            class_weight="balanced" if self.balance_classes else None,
            monotone_constraints=_monotone(columns, self.monotone_increasing),
            monotone_constraints_method="basic",  # "advanced" was seen to break monotonicity
            random_state=self.random_state,
            verbose=-1,
        )
        self.booster_ = _booster_fitter.get()(
            booster,
            encoded.iloc[fit_rows],
            y[fit_rows],
            encoded.iloc[calibration_rows],
            y[calibration_rows],
            self.early_stopping_rounds,
        )
        raw = self.booster_.predict_proba(encoded.iloc[calibration_rows])[:, 1]
        if self.calibration == "isotonic":
            self.calibrator_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            self.calibrator_.fit(raw, y[calibration_rows])
        else:
            self.calibrator_ = LogisticRegression(C=1e6, max_iter=1000)
            self.calibrator_.fit(_log_odds(raw)[:, None], y[calibration_rows])
            if self.calibrator_.coef_[0, 0] <= 0:
                raise ValueError(
                    "the boosted scores do not rank the calibration slice (Platt slope <= 0): "
                    "too little data or no signal for this target"
                )
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.asarray(columns, dtype=object)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raw = self.booster_.booster_.predict(
            self.encoder_.to_matrix(X), num_iteration=self.booster_.best_iteration_
        )
        if isinstance(self.calibrator_, IsotonicRegression):
            calibrated = np.clip(self.calibrator_.predict(raw), 0.0, 1.0)
        else:  # increasing in the raw score: the slope is checked positive at fit time
            calibrated = self.calibrator_.predict_proba(_log_odds(raw)[:, None])[:, 1]
        return np.column_stack([1 - calibrated, calibrated])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype("int64")

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-feature contributions (TreeSHAP, log-odds) to each score; the last column is bias."""
        values = self.booster_.booster_.predict(
            self.encoder_.to_matrix(X),
            num_iteration=self.booster_.best_iteration_,
            pred_contrib=True,
        )
        return pd.DataFrame(values, columns=[*self.feature_names_in_, "bias"], index=X.index)

    @property
    def feature_importances_(self) -> pd.Series:
        gain = self.booster_.booster_.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.feature_names_in_).sort_values(ascending=False)


class QuantileLGBMRegressor(RegressorMixin, BaseEstimator):
    """Days to payment at several quantiles: a central estimate and an interval around it."""

    def __init__(
        self,
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        lightgbm_params: dict | None = None,
        early_stopping_rounds: int = 50,
        validation_fraction: float = 0.2,
        random_state: int | None = None,
    ) -> None:
        self.quantiles = quantiles
        self.lightgbm_params = lightgbm_params
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> QuantileLGBMRegressor:
        y = np.asarray(y, dtype="float64")
        fit_rows, validation_rows = _time_split(len(y), self.validation_fraction)
        self.encoder_ = CategoryEncoder().fit(X)
        encoded = self.encoder_.transform(X)
        self.models_ = {}
        for quantile in self.quantiles:
            model = lgb.LGBMRegressor(
                **dict(self.lightgbm_params or {}),
                objective="quantile",
                alpha=quantile,
                random_state=self.random_state,
                verbose=-1,
            )
            self.models_[quantile] = _booster_fitter.get()(
                model,
                encoded.iloc[fit_rows],
                y[fit_rows],
                encoded.iloc[validation_rows],
                y[validation_rows],
                self.early_stopping_rounds,
            )
        self.feature_names_in_ = np.asarray(encoded.columns, dtype=object)
        return self

    def predict_quantiles(self, X: pd.DataFrame) -> np.ndarray:
        """Rows x quantiles, sorted along each row so that intervals never cross; never negative."""
        matrix = self.encoder_.to_matrix(X)
        stacked = np.column_stack(
            [
                self.models_[q].booster_.predict(
                    matrix, num_iteration=self.models_[q].best_iteration_
                )
                for q in self.quantiles
            ]
        )
        return np.clip(np.sort(stacked, axis=1), 0.0, None)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        middle = len(self.quantiles) // 2
        return self.predict_quantiles(X)[:, middle]


class HistoricalRateBaseline(ClassifierMixin, BaseEstimator):
    """What a credit manager does without a model: the customer's own past rate.

    New customers get the training population's rate.
    """

    def __init__(self, rate_feature: str = "late_share") -> None:
        self.rate_feature = rate_feature

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> HistoricalRateBaseline:
        self.prior_ = float(np.mean(y))
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        rate = X[self.rate_feature].astype("float64").fillna(self.prior_).to_numpy()
        return np.column_stack([1 - rate, rate])


class AverageDelayBaseline(RegressorMixin, BaseEstimator):
    """Collectors' rule of thumb: due date + the customer's average days late so far."""

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> AverageDelayBaseline:
        self.prior_days_late_ = float(np.nanmean(X["mean_days_late"])) if len(X) else 0.0
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        average = X["mean_days_late"].astype("float64").fillna(self.prior_days_late_).to_numpy()
        days_until_expected = average - X["days_past_due"].to_numpy(dtype="float64")
        return np.clip(days_until_expected, 0.0, None)


def logistic_baseline(X: pd.DataFrame, c: float, random_state: int) -> Pipeline:
    """A plain, well-regularised logistic regression on the same features (unfitted)."""
    categorical = [name for name in CATEGORICAL_FEATURES if name in X.columns]
    numeric = [name for name in X.columns if name not in categorical]
    preprocess = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    StandardScaler(),
                ),
                numeric,
            ),
            ("categorical", OneHotEncoder(handle_unknown="ignore", min_frequency=20), categorical),
        ]
    )
    model = LogisticRegression(C=c, max_iter=2000, random_state=random_state)
    return Pipeline([("preprocess", preprocess), ("model", model)])
