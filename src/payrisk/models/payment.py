"""The payment date as a distribution, coherent with the late and default probabilities.

A discrete-time hazard model: days past due are cut into bands (finer around the due date and
the dunning steps); for each snapshot and each band it could still be paid in, LightGBM learns
the probability that it is paid in that band, given it was not paid before. Every snapshot
teaches it, open ones included: an invoice still open at the cut-off says "not paid in these
bands" (censoring), which quantile regressions on paid invoices cannot use.

The bands ending at `late_after_days` and `default_after_days` split the distribution into three
parts: on time, late but paid before the default cut, and default (paid later, if at all). The
scorer rescales each part to the classifiers' calibrated probabilities (1 - P(late),
P(late) - P(default), P(default)) and keeps the hazard's shape within it. So, by construction,
P(paid after the due date) = P(late): the central date falls after the due date exactly when
P(late) > 50% (and after the default cut exactly when P(default) > 50%), and the interval, read
off the same distribution, always contains it. Within the default part the date is the one it
would be paid on if it is paid: P(default) says how likely it is not to be.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from payrisk.features.definitions import CATEGORICAL_FEATURES
from payrisk.models import banded
from payrisk.models.encoding import CategoryEncoder, MatrixLayout
from payrisk.models.estimators import fit_booster, time_split

# Band edges in days past due at payment, before the late / default cuts and the horizon are
# added. Payments cluster just before the due date (punctual payers, month-end runs) and a few
# days after each reminder, so bands are narrow there and wider later.
BASE_EDGES: tuple[int, ...] = (
    -60, -45, -30, -21, -14, -10, -7, -5, -3, -1, 0, 1, 3, 5, 7, 10, 14, 18, 22, 26, 30, 35, 40,
    45, 50, 60, 75, 105, 120, 150, 180, 240,
)  # fmt: skip
EARLIEST = -400  # no invoice is paid more than this many days before it is due
BAND_FEATURES: tuple[str, ...] = ("band_start_days_past_due", "band_days", "band_days_ahead")
PREDICT_CHUNK = 20_000  # invoices per hazard prediction batch (x bands rows)


def band_edges(late_after_days: int, default_after_days: int, horizon_days: int) -> np.ndarray:
    """Edges e_0 < e_1 < ...: band k holds payment days past due in [e_k, e_k+1)."""
    cuts = {EARLIEST, late_after_days + 1, default_after_days + 1, horizon_days + 1}
    inside = {e for e in BASE_EDGES if EARLIEST < e <= horizon_days}
    return np.array(sorted(cuts | inside), dtype="int64")


def _bands(edges: np.ndarray, start_dpd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row and band: the first day past due it covers from the snapshot on, and its length
    (0 where the band is over before the snapshot)."""
    low = np.maximum(edges[None, :-1], start_dpd[:, None])
    width = np.clip(edges[None, 1:] - low, 0, None)
    return low, width


class PaymentHazard(BaseEstimator):
    """P(paid in each band of days past due | not paid before), by LightGBM on every snapshot."""

    def __init__(
        self,
        lightgbm_params: dict | None = None,
        early_stopping_rounds: int = 50,
        validation_fraction: float = 0.2,
        late_after_days: int = 0,
        default_after_days: int = 90,
        horizon_days: int = 365,
        max_snapshots: int = 300_000,
        categorical: tuple[str, ...] = CATEGORICAL_FEATURES,
        min_payments: int = 20,
        random_state: int | None = None,
    ) -> None:
        self.lightgbm_params = lightgbm_params
        self.min_payments = min_payments
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.late_after_days = late_after_days
        self.default_after_days = default_after_days
        self.horizon_days = horizon_days
        self.max_snapshots = max_snapshots
        self.categorical = categorical
        self.random_state = random_state

    def _person_periods(
        self, start_dpd: np.ndarray, paid_dpd: np.ndarray, observed_dpd: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(snapshot row, band, band start, paid in band) for each band a snapshot was watched
        through to its end, or paid in."""
        low, width = _bands(self.edges_, start_dpd)
        high = self.edges_[None, 1:]
        paid = np.where(np.isnan(paid_dpd), np.inf, paid_dpd)[:, None]
        reached = (width > 0) & (paid >= low)
        event = reached & (paid < high)
        watched = reached & ~event & (observed_dpd[:, None] >= high - 1)
        row, band = np.nonzero(event | watched)
        return row, band, low[row, band], event[row, band]

    def _band_values(self, band: np.ndarray, low: np.ndarray, start: np.ndarray) -> np.ndarray:
        """BAND_FEATURES (first axis) of each (snapshot, band), the same for fitting and
        predicting: the band's first day past due from the snapshot on, its days left, and how
        far ahead it is. Any shape of `band` and `low` (with `start` broadcast to it)."""
        width = self.edges_[band + 1] - low
        return np.stack(np.broadcast_arrays(low, width, low - start)).astype("float64")

    def fit(self, X: pd.DataFrame, timing: pd.DataFrame) -> PaymentHazard:
        """`X`: snapshot features in time order; `timing`: `paid_days_past_due` (NaN while
        unpaid at the cut-off) and `observed_days_past_due` (last day watched)."""
        self.edges_ = band_edges(self.late_after_days, self.default_after_days, self.horizon_days)
        rows = np.arange(len(X))
        if len(rows) > self.max_snapshots:  # a sample, still in time order
            rng = np.random.default_rng(self.random_state)
            rows = np.sort(rng.choice(len(rows), self.max_snapshots, replace=False))
        X = X.iloc[rows]
        start = X["days_past_due"].to_numpy(dtype="float64").astype("int64")
        paid = timing["paid_days_past_due"].to_numpy(dtype="float64")[rows]
        observed = timing["observed_days_past_due"].to_numpy(dtype="float64")[rows]
        self.encoder_ = CategoryEncoder(self.categorical).fit(X)
        self.layout_: MatrixLayout = self.encoder_.layout_
        encoded = self.encoder_.transform(X).reset_index(drop=True)
        row, band, low, event = self._person_periods(start, paid, observed)
        design = encoded.iloc[row].reset_index(drop=True)
        design[list(BAND_FEATURES)] = self._band_values(band, low, start[row]).T
        fit_snapshots, _ = time_split(len(X), self.validation_fraction)
        # Rows come snapshot by snapshot, in time order: the early snapshots' rows are a prefix.
        cut = int(np.searchsorted(row, fit_snapshots.stop))
        fit, later = slice(0, cut), slice(cut, len(row))
        y = event.astype("int64")
        self.periods_ = {"snapshots": len(X), "rows": len(y), "payments": int(y.sum())}
        # The life table: each band's share of invoices paid in it among those watched through
        # it, shrunk towards the share over all bands (a band nobody was watched through gets
        # that): what the distribution falls back on without enough payments to learn from.
        watched = np.bincount(band, minlength=len(self.edges_) - 1)
        paid_in = np.bincount(band, weights=y, minlength=len(self.edges_) - 1)
        pooled = (y.sum() + 0.5) / (len(y) + 1.0)
        self.band_hazard_ = (paid_in + pooled) / (watched + 1.0)
        self.booster_ = None
        self.not_learnable_ = None
        enough = min(y[fit].sum(), (1 - y[fit]).sum(), y[later].sum(), (1 - y[later]).sum())
        if enough < self.min_payments:
            self.not_learnable_ = (
                f"{int(y[fit].sum())} payments before and {int(y[later].sum())} after the "
                f"validation cut (at least {self.min_payments} needed)"
            )
            return self
        model = lgb.LGBMClassifier(
            **dict(self.lightgbm_params or {}), random_state=self.random_state, verbose=-1
        )
        self.booster_ = fit_booster(
            model,
            design.iloc[fit],
            y[fit],
            design.iloc[later],
            y[later],
            self.early_stopping_rounds,
        )
        self.feature_names_in_ = np.asarray(self.layout_.columns, dtype=object)
        return self

    def cumulative(
        self, matrix: np.ndarray, start_dpd: np.ndarray, num_threads: int = 0
    ) -> np.ndarray:
        """P(paid by the end of each band), rows x bands, from the snapshot's day on (the hazard
        model's own distribution, before it is made coherent with the classifiers).

        Each tree is walked once per invoice for all its bands (`banded`), not once per band:
        the same numbers as LightGBM's predict on the band rows, without building them."""
        start = np.asarray(start_dpd, dtype="float64").astype("int64")
        n, bands = len(start), len(self.edges_) - 1
        out = np.zeros((n, bands))
        forest = (
            None
            if self.booster_ is None
            else banded.forest_of(self.booster_.booster_, self.booster_.best_iteration_)
        )
        for chunk in range(0, n, PREDICT_CHUNK):
            rows = slice(chunk, min(chunk + PREDICT_CHUNK, n))
            low, width = _bands(self.edges_, start[rows])
            reachable = width > 0
            if forest is None:
                hazard = np.where(reachable, self.band_hazard_[None, :], 0.0)
            else:
                values = self._band_values(np.arange(bands)[None, :], low, start[rows, None])
                hazard = banded.predict(forest, matrix[rows], values, reachable, num_threads)
            out[rows] = 1.0 - np.cumprod(1.0 - hazard, axis=1)
        return out


def coherent_cumulative(
    base: np.ndarray,
    edges: np.ndarray,
    start_dpd: np.ndarray,
    late: np.ndarray,
    default: np.ndarray,
    late_after_days: int,
    default_after_days: int,
) -> np.ndarray:
    """P(paid by the end of each band) with the classifiers' masses in each part.

    The on-time bands (ending by `late_after_days`) carry 1 - P(late), the late bands up to the
    default cut P(late) - P(default), the later ones P(default); within a part, the hazard model's
    shape. In the default part that shape is the payment day *if* it is paid within the horizon:
    an invoice that may never be paid still gets the date it would most likely be paid on, and
    P(default) says how likely that is not to happen. A part the hazard gives no mass gets its
    probability spread over its days.
    """
    n = len(base)
    _, width = _bands(edges, np.asarray(start_dpd, dtype="float64").astype("int64"))
    mass = np.diff(np.concatenate([np.zeros((n, 1)), base], axis=1), axis=1)
    mass = np.clip(mass, 0.0, None)
    part = np.searchsorted(
        np.array([late_after_days + 1, default_after_days + 1]), edges[:-1], side="right"
    )  # 0 on time, 1 late, 2 default: the cuts are band edges
    targets = (1.0 - late, late - default, default)
    out = np.zeros_like(base)
    for k, target in enumerate(targets):
        bands = part == k
        in_part = mass[:, bands]
        total = in_part.sum(axis=1)
        days = width[:, bands].astype("float64")
        spread = np.where(
            (total > 1e-12)[:, None],
            in_part / np.where(total > 1e-12, total, 1.0)[:, None],
            days / np.maximum(days.sum(axis=1), 1.0)[:, None],
        )
        out[:, bands] = spread * np.asarray(target, dtype="float64")[:, None]
    return np.cumsum(out, axis=1)


def quantile_days(
    cumulative: np.ndarray, edges: np.ndarray, start_dpd: np.ndarray, level: np.ndarray | float
) -> np.ndarray:
    """The first day past due by which the invoice is paid with probability `level` (days
    spread evenly within a band); where it is not reached, the horizon's last day, or the
    snapshot's day for an invoice already past the horizon: never a day before the snapshot."""
    start = np.asarray(start_dpd, dtype="float64").astype("int64")
    n, bands = cumulative.shape
    level = np.broadcast_to(np.asarray(level, dtype="float64"), (n,))
    low, width = _bands(edges, start)
    reached = cumulative >= level[:, None] - 1e-12
    band = np.where(reached.any(axis=1), reached.argmax(axis=1), bands - 1)
    rows = np.arange(n)
    before = np.where(band > 0, cumulative[rows, np.maximum(band - 1, 0)], 0.0)
    mass = cumulative[rows, band] - before
    share = np.clip((level - before) / np.where(mass > 0, mass, 1.0), 0.0, 1.0)
    days_in = np.ceil(share * width[rows, band]).astype("int64") - 1
    day = low[rows, band] + np.clip(days_in, 0, np.maximum(width[rows, band] - 1, 0))
    horizon = np.maximum(edges[-1] - 1, start)
    return np.where(reached.any(axis=1), day, horizon).astype("int64")
