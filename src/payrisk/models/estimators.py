"""The estimators: one classifier per target (candidates compared, the best calibrated and kept),
the baselines, and how LightGBM is fitted.

All follow scikit-learn's contract: hyperparameters in `__init__`, fitted state in attributes
ending in `_`, randomness from an explicit `random_state`. Fitted models score from the float
matrix of `payrisk.models.encoding` (no pandas on the scoring path), which is what the service's
one-invoice requests need.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from payrisk.features.definitions import CATEGORICAL_FEATURES
from payrisk.models import treeshap
from payrisk.models.encoding import CategoryEncoder, MatrixLayout

CANDIDATES: tuple[str, ...] = ("lightgbm", "logistic", "blend", "prior")
BLEND_WEIGHTS: tuple[float, ...] = (0.25, 0.5, 0.75)  # share of LightGBM in the blend
SELECTION_FOLDS = 5  # the calibration map is fitted on 4/5 of the slice, judged on the rest


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


def fit_booster(
    model: lgb.LGBMModel,
    X: pd.DataFrame,
    y: np.ndarray,
    eval_X: pd.DataFrame,
    eval_y: np.ndarray,
    patience: int,
) -> lgb.LGBMModel:
    """Fit with the fitter of the current context (this process, or Dask)."""
    return _booster_fitter.get()(model, X, y, eval_X, eval_y, patience)


def time_split(n_rows: int, fraction: float) -> tuple[slice, slice]:
    """Earliest rows for fitting, the latest `fraction` for early stopping and calibration.

    Rows must arrive in time order (the training pipeline sorts snapshots by date). Slices, not
    row numbers: the parts of a feature matrix are views of it, not copies.
    """
    cut = round(n_rows * (1 - fraction))
    return slice(0, cut), slice(cut, n_rows)


def log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def _monotone(columns: list[str], increasing: tuple[str, ...]) -> list[int]:
    return [1 if name in increasing else 0 for name in columns]


def sized_lightgbm(params: dict, examples: int, reference: int | None) -> dict:
    """LightGBM settings for `examples` training rows: the configured ones are for `reference`
    rows or more; below, leaves need fewer examples (linearly) and trees fewer leaves (by the
    square root), so that a small ledger gets a small model instead of a few giant leaves."""
    if reference is None or examples >= reference:
        return dict(params)
    scale = max(examples, 1) / reference
    sized = dict(params)
    sized["min_child_samples"] = max(5, round(params["min_child_samples"] * scale))
    sized["num_leaves"] = max(
        3, min(params["num_leaves"], round(params["num_leaves"] * scale**0.5))
    )
    return sized


def learnability_problem(
    y: np.ndarray, fit_rows: slice, calibration_rows: slice, minimum: int
) -> str | None:
    """Why a binary target cannot be learned from these rows, or None.

    Each class needs `minimum` examples before the calibration cut (to fit) and after it (to
    stop, calibrate and choose): fewer say nothing a prior does not.
    """
    if len(y) == 0:
        return "no labelled example in the training window"
    positives = int(y.sum())
    if positives == 0:
        return f"no positive example among {len(y):,} in the training window"
    if positives == len(y):
        return f"no negative example among {len(y):,} in the training window"
    for part, rows in (("before", fit_rows), ("after", calibration_rows)):
        counts = np.bincount(y[rows], minlength=2)
        if counts.min() < minimum:
            return (
                f"{counts[1]:,} positive and {counts[0]:,} negative examples {part} the "
                f"calibration cut (at least {minimum} of each needed)"
            )
    return None


# --- Candidates -----------------------------------------------------------------------------------


class CustomerRatePrior(BaseEstimator):
    """The customer's own rate of the outcome, shrunk towards the population's.

    rate = (events + strength x population rate) / (trials + strength), where a customer's events
    and trials come from its payment record at t (e.g. late invoices / settled invoices). A new
    customer gets the population rate. The strength is chosen on the training rows (maximum
    likelihood over a grid), and the population rate has half an event added (Jeffreys), so a
    target with no positive example still gets a small, not a zero, probability.
    This is what the scorer carries for a target that cannot be learned, and one candidate for
    one that can.
    """

    def __init__(
        self,
        rate_feature: str = "late_share",
        count_feature: str = "settled_invoices",
        base_rate_feature: str | None = None,
        strengths: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0),
        empty_rate: float | None = None,
    ) -> None:
        self.rate_feature = rate_feature
        self.count_feature = count_feature
        self.base_rate_feature = base_rate_feature
        self.strengths = strengths
        self.empty_rate = empty_rate

    def _events_trials(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        count = np.nan_to_num(matrix[:, self.columns_[1]])
        events = np.nan_to_num(matrix[:, self.columns_[0]]) * count
        if self.base_rate_feature is not None:
            count = np.nan_to_num(matrix[:, self.columns_[2]]) * count
        return events, count

    def fit(self, matrix: np.ndarray, y: np.ndarray, columns: tuple[str, ...]) -> CustomerRatePrior:
        names = [self.rate_feature, self.count_feature, self.base_rate_feature or ""]
        self.columns_ = [columns.index(n) if n else -1 for n in names]
        y = np.asarray(y, dtype="float64")
        if len(y) == 0:
            self.population_rate_ = 0.0 if self.empty_rate is None else self.empty_rate
        else:
            self.population_rate_ = float((y.sum() + 0.5) / (len(y) + 1.0))
        self.strength_ = self.strengths[len(self.strengths) // 2]
        if 0 < y.sum() < len(y):
            events, trials = self._events_trials(matrix)
            losses = [
                log_loss(y, self._rate(events, trials, s), labels=[0, 1]) for s in self.strengths
            ]
            self.strength_ = float(self.strengths[int(np.argmin(losses))])
        return self

    def _rate(self, events: np.ndarray, trials: np.ndarray, strength: float) -> np.ndarray:
        rate = (events + strength * self.population_rate_) / (trials + strength)
        return np.clip(rate, 1e-6, 1 - 1e-6)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        events, trials = self._events_trials(matrix)
        return self._rate(events, trials, self.strength_)

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """The whole deviation from the population rate (log-odds) goes to the rate feature."""
        out = np.zeros((len(matrix), matrix.shape[1]))
        base = log_odds(np.array([self.population_rate_]))[0]
        out[:, self.columns_[0]] = log_odds(self.predict(matrix)) - base
        return out


class LinearLogit(BaseEstimator):
    """Logistic regression on the feature matrix, with the trees' monotone constraints.

    Numbers are imputed (median, plus a missing flag where training had gaps) and standardised,
    categories one-hot (codes seen at least `min_frequency` times). Weights of the monotone
    features are kept non-negative (L-BFGS-B with bounds), so that more days past due or a worse
    record never lowers the score, as for LightGBM. Scores on plain arrays.
    """

    def __init__(
        self,
        c: float = 1.0,
        monotone_increasing: tuple[str, ...] = (),
        min_frequency: int = 20,
        max_rows: int = 200_000,
        random_state: int | None = None,
    ) -> None:
        self.c = c
        self.monotone_increasing = monotone_increasing
        self.min_frequency = min_frequency
        self.max_rows = max_rows
        self.random_state = random_state

    def _design(self, matrix: np.ndarray) -> np.ndarray:
        numeric = matrix[:, self.numeric_]
        missing = np.isnan(numeric)
        filled = np.where(missing, self.medians_, numeric)
        parts = [(filled - self.means_) / self.scales_, missing[:, self.flagged_].astype("float64")]
        for column, codes in self.categories_.items():
            parts.append((matrix[:, [column]] == codes[None, :]).astype("float64"))
        return np.hstack(parts)

    def fit(
        self, matrix: np.ndarray, y: np.ndarray, columns: tuple[str, ...], categorical: set[str]
    ) -> LinearLogit:
        rng = np.random.default_rng(self.random_state)
        if len(matrix) > self.max_rows:
            keep = np.sort(rng.choice(len(matrix), self.max_rows, replace=False))
            matrix, y = matrix[keep], y[keep]
        self.numeric_ = np.array([j for j, n in enumerate(columns) if n not in categorical], int)
        numeric = matrix[:, self.numeric_]
        with warnings.catch_warnings():  # a column never given has no median: 0 stands in
            warnings.simplefilter("ignore", RuntimeWarning)
            medians = np.nanmedian(np.where(np.isinf(numeric), np.nan, numeric), axis=0)
        self.medians_ = np.nan_to_num(medians)
        missing = np.isnan(numeric)
        self.flagged_ = np.flatnonzero(missing.any(axis=0) & ~missing.all(axis=0))
        filled = np.where(missing, self.medians_, numeric)
        self.means_ = filled.mean(axis=0)
        scales = filled.std(axis=0)
        self.scales_ = np.where(scales > 0, scales, 1.0)
        self.categories_ = {}
        for j, name in enumerate(columns):
            if name in categorical:
                codes, counts = np.unique(matrix[:, j][~np.isnan(matrix[:, j])], return_counts=True)
                self.categories_[j] = codes[counts >= self.min_frequency]
        design = self._design(matrix)
        n_numeric = len(self.numeric_)
        lower = np.full(design.shape[1], -np.inf)
        for k, j in enumerate(self.numeric_):
            if columns[j] in self.monotone_increasing:
                lower[k] = 0.0
        sign = 2.0 * np.asarray(y, dtype="float64") - 1.0
        penalty = 1.0 / (self.c * len(y))

        def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
            z = design @ w[:-1] + w[-1]
            value = -np.mean(log_expit(sign * z)) + 0.5 * penalty * w[:-1] @ w[:-1]
            residual = -sign * expit(-sign * z) / len(z)
            grad = np.append(design.T @ residual + penalty * w[:-1], residual.sum())
            return value, grad

        start = np.zeros(design.shape[1] + 1)
        bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower] + [(None, None)]
        result = minimize(loss, start, jac=True, method="L-BFGS-B", bounds=bounds)
        self.coef_, self.intercept_ = result.x[:-1], float(result.x[-1])
        self.n_numeric_ = n_numeric
        self.n_features_in_ = len(columns)
        self.design_means_ = design.mean(axis=0)
        return self

    def decision(self, matrix: np.ndarray) -> np.ndarray:
        """The linear score of each row. A row-wise sum, not a matrix product: BLAS kernels
        round differently with the batch's shape, and a score must not depend on which other
        invoices share its request or partition."""
        return (self._design(matrix) * self.coef_).sum(axis=1) + self.intercept_

    def contributions(self, matrix: np.ndarray) -> np.ndarray:
        """Each feature's share of the score against the training average (log-odds)."""
        terms = (self._design(matrix) - self.design_means_) * self.coef_
        out = np.zeros((len(matrix), self.n_features_in_))
        out[:, self.numeric_] = terms[:, : self.n_numeric_]
        position = self.n_numeric_
        for k in self.flagged_:
            out[:, self.numeric_[k]] += terms[:, position]
            position += 1
        for column, codes in self.categories_.items():
            out[:, column] += terms[:, position : position + len(codes)].sum(axis=1)
            position += len(codes)
        return out


class PlattMap:
    """Platt scaling: p = sigmoid(slope x raw + intercept), fitted by maximum likelihood."""

    def __init__(self, raw: np.ndarray, y: np.ndarray) -> None:
        model = LogisticRegression(C=1e6, max_iter=1000).fit(raw[:, None], y)
        self.slope = float(model.coef_[0, 0])
        self.intercept = float(model.intercept_[0])

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        return expit(raw * self.slope + self.intercept)


def _out_of_fold_platt(raw: np.ndarray, y: np.ndarray, seed: int | None) -> np.ndarray | None:
    """Probabilities of `raw` calibrated on the other folds of the slice; None if the map is not
    increasing on some fold (the candidate does not rank the slice)."""
    folds = np.random.default_rng(seed).permutation(len(y)) % SELECTION_FOLDS
    out = np.empty(len(y))
    for fold in range(SELECTION_FOLDS):
        train, test = folds != fold, folds == fold
        if len(np.unique(y[train])) < 2:
            return None
        platt = PlattMap(raw[train], y[train])
        if platt.slope < 0:
            return None
        out[test] = platt(raw[test])
    return out


def _standardised(raw: np.ndarray) -> tuple[float, float]:
    scale = float(np.std(raw))
    return float(np.mean(raw)), scale if scale > 0 else 1.0


class TargetClassifier(ClassifierMixin, BaseEstimator):
    """P(target) for one binary target: the best of several candidates, chosen honestly.

    Training rows arrive in time order. The earliest ones fit LightGBM (monotone constraints,
    early stopping on the latest slice) and a constrained logistic regression; on the latest
    slice (`calibration_fraction`), each candidate - LightGBM, logistic, a blend of the two and
    the customer-rate prior - is calibrated (Platt on its score) and judged by out-of-fold log
    loss; the best is kept, its calibration refitted on the whole slice. The holdout is never
    seen. A target with too few examples of a class before or after the cut is not learnable:
    the calibrated prior is kept, and `learnable_` says why not.
    """

    def __init__(
        self,
        lightgbm_params: dict | None = None,
        early_stopping_rounds: int = 50,
        balance_classes: bool = False,
        calibration: str = "sigmoid",
        calibration_fraction: float = 0.2,
        monotone_increasing: tuple[str, ...] = (),
        categorical: tuple[str, ...] = CATEGORICAL_FEATURES,
        candidates: tuple[str, ...] = CANDIDATES,
        logistic_c: float = 1.0,
        prior: CustomerRatePrior | None = None,
        min_class_examples: int = 20,
        random_state: int | None = None,
    ) -> None:
        self.lightgbm_params = lightgbm_params
        self.early_stopping_rounds = early_stopping_rounds
        self.balance_classes = balance_classes
        self.calibration = calibration
        self.calibration_fraction = calibration_fraction
        self.monotone_increasing = monotone_increasing
        self.categorical = categorical
        self.candidates = candidates
        self.logistic_c = logistic_c
        self.prior = prior
        self.min_class_examples = min_class_examples
        self.random_state = random_state

    # --- fitting ----------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: np.ndarray) -> TargetClassifier:
        y = np.asarray(y, dtype="int64")
        fit_rows, calibration_rows = time_split(len(y), self.calibration_fraction)
        self.encoder_ = CategoryEncoder(self.categorical).fit(X)
        self.layout_: MatrixLayout = self.encoder_.layout_
        columns = self.layout_.columns
        self.feature_names_in_ = np.asarray(columns, dtype=object)
        self.classes_ = np.array([0, 1])
        matrix = self.layout_.matrix(X)
        prior = clone(self.prior) if self.prior is not None else CustomerRatePrior()
        self.prior_ = prior.fit(matrix, y, columns)
        self.booster_ = self.linear_ = self.calibrator_ = None
        self.blend_weight_ = self.blend_scales_ = None
        self.selection_: dict[str, dict] = {}
        problem = learnability_problem(y, fit_rows, calibration_rows, self.min_class_examples)
        self.examples_ = {"rows": len(y), "positives": int(y.sum())}
        self.not_learnable_ = problem
        if problem is not None:
            self.chosen_ = "prior"
            return self
        raw = self._fit_candidates(X, matrix, y, fit_rows, calibration_rows)
        self._choose(raw, y[calibration_rows])
        return self

    def _fit_candidates(
        self,
        X: pd.DataFrame,
        matrix: np.ndarray,
        y: np.ndarray,
        fit_rows: slice,
        calibration_rows: slice,
    ) -> dict[str, np.ndarray]:
        """Each candidate's raw score (log-odds scale) on the calibration slice."""
        columns = list(self.layout_.columns)
        slice_matrix = matrix[calibration_rows]
        raw: dict[str, np.ndarray] = {}
        if "lightgbm" in self.candidates or "blend" in self.candidates:
            encoded = self.encoder_.transform(X)
            booster = lgb.LGBMClassifier(
                **dict(self.lightgbm_params or {}),
                class_weight="balanced" if self.balance_classes else None,
                monotone_constraints=_monotone(columns, self.monotone_increasing),
                monotone_constraints_method="basic",  # "advanced" was seen to break monotonicity
                random_state=self.random_state,
                verbose=-1,
            )
            self.booster_ = fit_booster(
                booster,
                encoded.iloc[fit_rows],
                y[fit_rows],
                encoded.iloc[calibration_rows],
                y[calibration_rows],
                self.early_stopping_rounds,
            )
            raw["lightgbm"] = self._booster_raw(slice_matrix)
        if "logistic" in self.candidates or "blend" in self.candidates:
            self.linear_ = LinearLogit(
                self.logistic_c, self.monotone_increasing, random_state=self.random_state
            ).fit(matrix[fit_rows], y[fit_rows], self.layout_.columns, set(self.categorical))
            raw["logistic"] = self.linear_.decision(slice_matrix)
        raw["prior"] = log_odds(self.prior_.predict(slice_matrix))  # always: the fallback
        if "lightgbm" in raw and "logistic" in raw:
            self.blend_scales_ = (_standardised(raw["lightgbm"]), _standardised(raw["logistic"]))
        return raw

    def _choose(self, raw: dict[str, np.ndarray], y: np.ndarray) -> None:
        """Judge each candidate by out-of-fold calibrated log loss on the slice; keep the best."""
        scored: dict[str, tuple[np.ndarray, float | None]] = {
            name: (score, None) for name, score in raw.items() if name in self.candidates
        }
        if "blend" in self.candidates and self.blend_scales_ is not None:
            for weight in BLEND_WEIGHTS:
                scored[f"blend:{weight}"] = (
                    self._blend(raw["lightgbm"], raw["logistic"], weight),
                    weight,
                )
        results: dict[str, dict] = {}
        for name, (score, _) in scored.items():
            probabilities = _out_of_fold_platt(score, y, self.random_state)
            results[name] = (
                {"eligible": False, "note": "does not rank the calibration slice"}
                if probabilities is None
                else {
                    "eligible": True,
                    "log_loss": float(log_loss(y, probabilities, labels=[0, 1])),
                    "roc_auc": float(roc_auc_score(y, score)),
                }
            )
        # One blend: the weight that did best (the weight is part of the candidate).
        blends = {k: v for k, v in results.items() if k.startswith("blend:") and v["eligible"]}
        for key in [k for k in results if k.startswith("blend:")]:
            results.pop(key)
        if blends:
            best_blend = min(blends, key=lambda k: blends[k]["log_loss"])
            results["blend"] = {**blends[best_blend], "weight": scored[best_blend][1]}
            scored["blend"] = scored[best_blend]
        eligible = {k: v["log_loss"] for k, v in results.items() if v["eligible"]}
        self.chosen_ = min(eligible, key=eligible.get) if eligible else "prior"
        self.selection_ = results
        self.blend_weight_ = results.get("blend", {}).get("weight")
        chosen_raw = scored[self.chosen_][0] if self.chosen_ in scored else raw["prior"]
        if self.chosen_ == "prior" and "prior" not in results:
            results["prior"] = {"eligible": True, "note": "no candidate ranks the slice"}
        if self.calibration == "isotonic":
            self.calibrator_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            self.calibrator_.fit(chosen_raw, y)
        else:
            self.calibrator_ = PlattMap(chosen_raw, y)
        if self.chosen_ != "lightgbm" and self.chosen_ != "blend":
            self.booster_ = None  # not needed to score: keep the registered model small
        if self.chosen_ not in ("logistic", "blend"):
            self.linear_ = None

    def _blend(self, booster_raw: np.ndarray, linear_raw: np.ndarray, weight: float) -> np.ndarray:
        (m1, s1), (m2, s2) = self.blend_scales_
        return weight * (booster_raw - m1) / s1 + (1 - weight) * (linear_raw - m2) / s2

    # --- scoring on the float matrix ---
    def _booster_raw(self, matrix: np.ndarray, **kwargs: object) -> np.ndarray:
        return self.booster_.booster_.predict(
            matrix, num_iteration=self.booster_.best_iteration_, raw_score=True, **kwargs
        )

    def raw_score(self, matrix: np.ndarray, **booster_kwargs: object) -> np.ndarray:
        """The chosen candidate's score before calibration (log-odds scale)."""
        if self.chosen_ == "lightgbm":
            return self._booster_raw(matrix, **booster_kwargs)
        if self.chosen_ == "logistic":
            return self.linear_.decision(matrix)
        if self.chosen_ == "blend":
            return self._blend(
                self._booster_raw(matrix, **booster_kwargs),
                self.linear_.decision(matrix),
                self.blend_weight_,
            )
        return log_odds(self.prior_.predict(matrix))

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        if self.calibrator_ is None:  # not learnable: the prior is its own calibration
            return expit(raw)
        if isinstance(self.calibrator_, IsotonicRegression):
            return np.clip(self.calibrator_.predict(raw), 0.0, 1.0)
        return self.calibrator_(raw)

    def probability(self, matrix: np.ndarray, **booster_kwargs: object) -> np.ndarray:
        return self.calibrate(self.raw_score(matrix, **booster_kwargs))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.probability(self.layout_.matrix(X))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype("int64")

    def contribution_matrix(self, matrix: np.ndarray, **booster_kwargs: object) -> np.ndarray:
        """Per-feature contributions to the score (log-odds), rows x (features + bias): TreeSHAP
        for LightGBM (LightGBM's own numbers, computed by `payrisk.models.treeshap`), weight x
        (value - average) for the logistic regression, both for a blend."""
        slope = getattr(self.calibrator_, "slope", 1.0)
        if self.chosen_ in ("lightgbm", "blend"):
            trees = treeshap.contributions(
                treeshap.trees_of(self.booster_.booster_, self.booster_.best_iteration_),
                matrix,
                threads=int(booster_kwargs.get("num_threads", 0)),
            )
        if self.chosen_ == "lightgbm":
            return trees * slope
        bias = np.zeros((len(matrix), 1))
        if self.chosen_ == "logistic":
            return np.hstack([self.linear_.contributions(matrix), bias]) * slope
        if self.chosen_ == "blend":
            (_, s1), (_, s2) = self.blend_scales_
            w = self.blend_weight_
            linear = np.hstack([self.linear_.contributions(matrix), bias])
            return (w * trees / s1 + (1 - w) * linear / s2) * slope
        return np.hstack([self.prior_.contributions(matrix), bias])

    def summary(self) -> dict:
        """What the run report, MLflow and the model page say about this target's model."""
        out = {
            "model": self.chosen_,
            "learnable": self.not_learnable_ is None,
            "examples": self.examples_,
            "candidates": self.selection_,
        }
        if self.not_learnable_ is not None:
            out["not_learnable"] = self.not_learnable_
            out["prior"] = {
                "population_rate": self.prior_.population_rate_,
                "strength": self.prior_.strength_,
            }
        if self.blend_weight_ is not None and self.chosen_ == "blend":
            out["blend_lightgbm_weight"] = self.blend_weight_
        if self.booster_ is not None:
            out["lightgbm"] = {
                "trees": int(self.booster_.best_iteration_ or self.booster_.n_estimators),
                "num_leaves": int(self.booster_.get_params()["num_leaves"]),
                "min_child_samples": int(self.booster_.get_params()["min_child_samples"]),
            }
        return out


# --- Baselines ------------------------------------------------------------------------------------


class HistoricalRateBaseline(ClassifierMixin, BaseEstimator):
    """What a credit manager does without a model: the customer's own past rate, shrunk
    towards the population's by its number of settled invoices (as the prior candidate is).

    Unshrunk, one late invoice out of one says 100% and the baseline's log loss is a straw man
    (0.58 against 0.45 shrunk on a real ledger), which overstates the model's gain. New
    customers get the training population's rate.
    """

    def __init__(
        self, rate_feature: str = "late_share", count_feature: str = "settled_invoices"
    ) -> None:
        self.rate_feature = rate_feature
        self.count_feature = count_feature

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        return X[[self.rate_feature, self.count_feature]].to_numpy(dtype="float64")

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> HistoricalRateBaseline:
        columns = (self.rate_feature, self.count_feature)
        self.rate_ = CustomerRatePrior(*columns).fit(self._matrix(X), np.asarray(y), columns)
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        rate = self.rate_.predict(self._matrix(X))
        return np.column_stack([1 - rate, rate])


class ConstantBaseline(ClassifierMixin, BaseEstimator):
    """The training rate for everyone: what a baseline is when the training data has one class."""

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> ConstantBaseline:
        self.rate_ = float(np.mean(y)) if len(y) else 0.0
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        rate = np.full(len(X), self.rate_)
        return np.column_stack([1 - rate, rate])


class AverageDelayBaseline(RegressorMixin, BaseEstimator):
    """Collectors' rule of thumb: due date + the customer's average days late so far."""

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> AverageDelayBaseline:
        known = X["mean_days_late"].notna()
        self.prior_days_late_ = float(X.loc[known, "mean_days_late"].mean()) if known.any() else 0.0
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        average = X["mean_days_late"].astype("float64").fillna(self.prior_days_late_).to_numpy()
        days_until_expected = average - X["days_past_due"].to_numpy(dtype="float64")
        return np.clip(days_until_expected, 0.0, None)


def logistic_baseline(
    X: pd.DataFrame,
    c: float,
    random_state: int,
    categorical: tuple[str, ...] = CATEGORICAL_FEATURES,
) -> Pipeline:
    """A plain, well-regularised logistic regression on the same features (unfitted)."""
    categorical = [name for name in categorical if name in X.columns]
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
