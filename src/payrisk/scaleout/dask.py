"""Scale-out on Dask: the same features, models and scoring, run over partitions of customers.

Nothing here defines a feature, a model or a dunning rule. The data is split by customer (a
stable hash of `customer_id` picks the partition of every invoice, payment, reminder and customer
row), and each partition runs the single-machine functions (`build_history`, `snapshot_queries`,
`invoice_features`, `score_and_plan`) on a Dask worker. A customer's features depend only on that
customer's events, so they come out identical; what is global is redone after gathering: the
order of the training snapshots, the collectors' priority rank and which invoices get reasons.

LightGBM trains with its Dask estimators through `payrisk.models.booster_fitter`, so the
estimators keep their split, encoding, monotone constraints and calibration; the fitted result is
an ordinary `PaymentRiskScorer` (`to_local()`), registered, served and scored as before.

Selected by `compute.backend` in configs/train.yaml or `--dask` on `payrisk train` / `score`.
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from pydantic import ValidationError

from payrisk.core.config import ComputeSettings, ConfigError, TrainConfig, format_validation_error
from payrisk.data.loading import Dataset
from payrisk.features.definitions import FeatureSet, invoice_features
from payrisk.features.history import History, build_history, portfolio_streams
from payrisk.features.streams import Stream
from payrisk.models.encoding import MatrixLayout
from payrisk.models.estimators import booster_fitter
from payrisk.models.labels import snapshot_queries
from payrisk.models.scorer import PaymentRiskScorer
from payrisk.policy.config import DunningConfig, recovery_rate
from payrisk.policy.dunning import collector_priority
from payrisk.policy.planning import ScoredPortfolio, open_invoice_queries, score_and_plan

log = logging.getLogger("payrisk.dask")

if TYPE_CHECKING:
    from distributed import Client

CONNECT_TIMEOUT = "30s"
_SCALARS = (type(None), bool, int, float, str, pd.Timestamp)


# --- Selecting the backend -----------------------------------------------------------------------


@dataclass(frozen=True)
class ComputeOverrides:
    """Command-line choices that override the `compute` section of the training config."""

    dask: bool | None = None  # True: --dask, False: --local, None: as configured
    scheduler_address: str | None = None  # --scheduler (implies Dask)
    partitions: int | None = None

    def apply(
        self, settings: ComputeSettings, environment_scheduler: str | None = None
    ) -> ComputeSettings:
        """The settings to run with: options, then the config, then DASK_SCHEDULER_ADDRESS
        (`environment_scheduler`, from the entry point's settings).

        The environment only says where the cluster is; it never switches the backend on, so a
        variable left in a shell cannot move a run onto a cluster by surprise.
        """
        if self.dask is False and self.scheduler_address:
            raise ConfigError("--scheduler needs the Dask backend; drop --local")
        values = settings.model_dump()
        if self.dask is not None:
            values["backend"] = "dask" if self.dask else "local"
        if self.scheduler_address:
            values["backend"] = "dask"
            values["scheduler_address"] = self.scheduler_address
        if self.partitions is not None:
            values["partitions"] = self.partitions
        if values["scheduler_address"] is None and environment_scheduler:
            values["scheduler_address"] = environment_scheduler
        try:
            return ComputeSettings.model_validate(values)
        except ValidationError as error:
            raise ConfigError(format_validation_error(error, "compute options")) from None


@dataclass(frozen=True)
class Cluster:
    """A connected Dask client and the number of customer partitions to split data into."""

    client: Client
    partitions: int

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1)["workers"])


@contextmanager
def dask_cluster(settings: ComputeSettings) -> Iterator[Cluster]:
    """Connect to `settings.scheduler_address`, or start a local cluster of worker processes.

    Worker processes, not threads: LightGBM's distributed training keeps one network per process.
    Everything started here is closed on exit.
    """
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=settings.workers,
            threads_per_worker=settings.threads_per_worker,
            processes=True,
            dashboard_address=None,
        )
        if settings.scheduler_address is None
        else _no_cluster() as local
    ):
        address = settings.scheduler_address or local
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT)
        except OSError as error:  # timeouts included
            raise ConfigError(
                f"compute.scheduler_address: cannot reach the Dask scheduler at {address} "
                f"({type(error).__name__})"
            ) from None
        with client:
            log.info(
                "Dask scheduler %s; %s",
                client.scheduler.address,
                dashboard(client, local=settings.scheduler_address is None),
            )
            threads = sum(client.nthreads().values())
            yield Cluster(client, settings.partitions or max(2 * threads, 1))


def dashboard(client: Client, local: bool) -> str:
    """Where the cluster's dashboard is, in words (an operator opens it to watch the work). A
    local cluster serves its pages only where bokeh is installed (its health and metrics
    always); a remote scheduler's machine decides for itself."""
    port = client.scheduler_info(n_workers=0).get("services", {}).get("dashboard")
    if port is None:
        return "no dashboard"
    link = client.dashboard_link
    if local and importlib.util.find_spec("bokeh") is None:
        base = link.removesuffix("/status")
        return f"no dashboard pages (they need bokeh: pip install bokeh); metrics at {base}/metrics"
    return f"dashboard at {link}"


@contextmanager
def _no_cluster() -> Iterator[None]:
    yield None


@contextmanager
def compute_session(settings: ComputeSettings) -> Iterator[Cluster | None]:
    """None for the local backend; for Dask a cluster, with LightGBM fitting on it meanwhile."""
    if settings.backend == "local":
        yield None
        return
    with dask_cluster(settings) as cluster, booster_fitter(DaskBoosterFitter(cluster.client)):
        yield cluster


# --- Partitioning by customer --------------------------------------------------------------------


def customer_partition(customer_ids: pd.Series, partitions: int) -> np.ndarray:
    """Partition number of each customer id: a hash that is the same in every process."""
    hashed = pd.util.hash_pandas_object(customer_ids.astype("str"), index=False).to_numpy()
    return (hashed % np.uint64(partitions)).astype("int64")


def _split(frame: pd.DataFrame, part: np.ndarray, partitions: int) -> list[pd.DataFrame]:
    """Rows of each partition, in their original relative order (ties and sums depend on it)."""
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(partitions + 1))
    return [frame.iloc[order[start:end]] for start, end in itertools.pairwise(bounds)]


def partition_dataset(dataset: Dataset, partitions: int) -> list[Dataset]:
    """The dataset split by customer: a customer's invoices, payments, reminders and attributes
    all land in the same partition. Payments and reminders of unknown invoices are dropped (no
    feature or score can use them)."""
    invoices = dataset.invoices
    part = customer_partition(invoices["customer_id"], partitions)
    invoice_index = pd.Index(invoices["invoice_id"].astype("str"))

    def by_invoice(frame: pd.DataFrame) -> np.ndarray:
        row = invoice_index.get_indexer(frame["invoice_id"].astype("str"))
        return np.where(row >= 0, part[np.maximum(row, 0)], -1) if len(part) else row

    tables = {
        "invoices": _split(invoices, part, partitions),
        "payments": _split(dataset.payments, by_invoice(dataset.payments), partitions),
        "reminders": _split(dataset.reminders, by_invoice(dataset.reminders), partitions),
        "customers": _split(
            dataset.customers,
            customer_partition(dataset.customers["customer_id"], partitions),
            partitions,
        ),
        "promises": _split(dataset.promises, by_invoice(dataset.promises), partitions),
        "payment_plans": _split(
            dataset.payment_plans, by_invoice(dataset.payment_plans), partitions
        ),
        "holds": _split(
            dataset.holds, customer_partition(dataset.holds["customer_id"], partitions), partitions
        ),
    }
    return [
        Dataset(**{name: parts[k] for name, parts in tables.items()}) for k in range(partitions)
    ]


def _map_partitions(
    cluster: Cluster, dataset: Dataset, task: Callable[..., Any], **kwargs: Any
) -> list[Any]:
    """Run `task(partition, **kwargs)` on the workers; the non-None results, in partition order."""
    client = cluster.client
    parts = client.scatter(partition_dataset(dataset, cluster.partitions))
    # Models and configs are sent to each worker once, not with every task.
    shared = {
        name: client.scatter(value, broadcast=True)
        for name, value in kwargs.items()
        if not isinstance(value, _SCALARS)
    }
    futures = client.map(task, parts, **{**kwargs, **shared}, pure=False)
    try:
        return [result for result in client.gather(futures) if result is not None]
    finally:
        client.cancel([*futures, *parts, *shared.values()])


# --- Features of the training snapshots ----------------------------------------------------------


def _snapshots(
    dataset: Dataset, as_of: pd.Timestamp, config: TrainConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training snapshots of `dataset` (all of it, or one partition) and their features."""
    history = build_history(dataset, as_of, config.targets, config.features)
    queries = snapshot_queries(dataset.invoices, as_of, config.snapshots)
    return queries, invoice_features(history, queries, FeatureSet.of(config.features.declared))


def _partition_snapshots(
    part: Dataset, as_of: pd.Timestamp, config: TrainConfig
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    return None if part.invoices.empty else _snapshots(part, as_of, config)


def snapshot_features(
    dataset: Dataset, as_of: pd.Timestamp, config: TrainConfig, cluster: Cluster | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training snapshots (`snapshot_queries`) and their features, here or on the cluster.

    Same rows in the same order (snapshot date, invoice id) and the same values either way.
    """
    if cluster is None:
        return _snapshots(dataset, as_of, config)
    results = _map_partitions(cluster, dataset, _partition_snapshots, as_of=as_of, config=config)
    if not results:
        return _snapshots(dataset, as_of, config)  # no invoice at all: nothing to spread
    queries = pd.concat([q for q, _ in results], ignore_index=True)
    features = pd.concat([f for _, f in results], ignore_index=True)
    order = queries.sort_values(["snapshot_date", "invoice_id"], kind="stable").index
    return (
        queries.loc[order].reset_index(drop=True),
        features.loc[order].reset_index(drop=True),
    )


# --- Batch scoring -------------------------------------------------------------------------------


def _partition_portfolio(
    part: Dataset,
    scorer: PaymentRiskScorer,
    as_of: pd.Timestamp,
    dunning: DunningConfig,
    explain_top: int | None,
    portfolio: dict[str, Stream],
) -> ScoredPortfolio | None:
    queries = open_invoice_queries(part, as_of)
    if queries.empty:
        return None
    history = scorer.build_history(part, as_of)
    history = replace(history, streams={**history.streams, **portfolio})
    return score_and_plan(scorer, history, queries, as_of, dunning, explain_top)


def merge_portfolios(
    parts: list[ScoredPortfolio],
    invoice_ids: pd.Series,
    explain_top: int | None,
    recovery: float = 0.0,
) -> ScoredPortfolio:
    """One portfolio from per-partition ones, as `score_and_plan` would give on all of them.

    Each partition ranked and explained its own invoices. The rank is redone over everything,
    ties broken by the invoice's row in the invoice table as in the single-machine run. A
    partition explained its own top `explain_top`, a superset of its share of the global top;
    reasons beyond the global top are dropped. Customer plans depend on one customer only.
    """
    invoices = pd.concat([p.invoices for p in parts], ignore_index=True)
    row = pd.Index(invoice_ids.astype("str")).get_indexer(invoices["invoice_id"].astype("str"))
    invoices = invoices.iloc[np.argsort(row, kind="stable")].reset_index(drop=True)
    priority = collector_priority(invoices, recovery)
    invoices["expected_loss"] = priority["expected_loss"]
    invoices["priority_rank"] = priority["priority_rank"]
    if explain_top is not None:
        reasons = invoices["reasons"].to_numpy(dtype=object).copy()
        reasons[invoices["priority_rank"].to_numpy() > explain_top] = None
        invoices["reasons"] = pd.Series(reasons, index=invoices.index, dtype=object)
    invoices = invoices.sort_values("priority_rank", kind="stable").reset_index(drop=True)
    customers = pd.concat([p.customers for p in parts], ignore_index=True)
    customers = customers.sort_values("customer_id", kind="stable").reset_index(drop=True)
    return ScoredPortfolio(invoices=invoices, customers=customers)


def score_open_invoices(
    scorer: PaymentRiskScorer,
    dataset: Dataset,
    as_of: pd.Timestamp,
    dunning: DunningConfig,
    explain_top: int | None = None,
    cluster: Cluster | None = None,
) -> tuple[History | None, ScoredPortfolio]:
    """Score and plan every invoice open at `as_of`, here or over customer partitions.

    The history is returned on the local path only (the snapshot is built from it); on Dask each
    partition's history stays on its worker.
    """
    if cluster is not None:
        parts = _map_partitions(
            cluster,
            dataset,
            _partition_portfolio,
            scorer=scorer,
            as_of=as_of,
            dunning=dunning,
            explain_top=explain_top,
            portfolio=portfolio_streams(dataset, as_of),
        )
        if parts:
            return None, merge_portfolios(
                parts, dataset.invoices["invoice_id"], explain_top, recovery_rate(dunning)
            )
    history = scorer.build_history(dataset, as_of)
    queries = open_invoice_queries(dataset, as_of)
    return history, score_and_plan(scorer, history, queries, as_of, dunning, explain_top)


# --- Training with LightGBM's Dask estimators ----------------------------------------------------


def validation_losses(model: lgb.LGBMModel, eval_X: pd.DataFrame, eval_y: np.ndarray) -> np.ndarray:
    """The early-stopping metric after each boosting round, as LightGBM's callback sees it:
    binary log loss for classifiers, the pinball loss at `alpha` for quantile regressors."""
    booster = model.booster_
    matrix = MatrixLayout.of_encoded(eval_X).matrix(eval_X)
    y = np.asarray(eval_y, dtype="float64")
    rounds = booster.current_iteration()
    raw = np.zeros(len(matrix))
    losses = np.empty(rounds)
    quantile = model.objective == "quantile"
    alpha = float(model.get_params().get("alpha", 0.9))
    for k in range(rounds):  # one tree per round: the staged score is a running sum
        raw += booster.predict(matrix, start_iteration=k, num_iteration=1, raw_score=True)
        if quantile:
            error = y - raw
            losses[k] = np.mean(np.maximum(alpha * error, (alpha - 1) * error))
        else:
            p = np.clip(1 / (1 + np.exp(-raw)), 1e-15, 1 - 1e-15)
            losses[k] = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    return losses


def early_stopping_round(losses: np.ndarray, patience: int) -> int:
    """The best round (1-based) `lgb.early_stopping(patience)` would have kept.

    It stops at the first round `patience` rounds after the last strict improvement and keeps
    the best round seen until then.
    """
    if len(losses) == 0:
        return 0
    rounds = np.arange(len(losses))
    previous_best = np.minimum.accumulate(np.concatenate([[np.inf], losses[:-1]]))
    improved = losses < previous_best
    last_best = np.maximum.accumulate(np.where(improved, rounds, 0))
    stopped = np.flatnonzero(rounds - last_best >= patience)
    end = stopped[0] if len(stopped) else len(losses) - 1
    return int(last_best[end]) + 1


@dataclass(frozen=True)
class DaskBoosterFitter:
    """Fits a LightGBM model with its Dask counterpart, then brings it back in process.

    The training rows go to the workers (rows dealt round-robin, one chunk per worker) and
    LightGBM builds each tree from histograms summed over the workers. Early stopping is
    decided afterwards on the driver, on the (small) evaluation slice, with the rule of
    `lgb.early_stopping`: distributed early stopping evaluates on each worker's share only.
    """

    client: Client

    def __call__(
        self,
        model: lgb.LGBMModel,
        X: pd.DataFrame,
        y: np.ndarray,
        eval_X: pd.DataFrame,
        eval_y: np.ndarray,
        patience: int,
    ) -> lgb.LGBMModel:
        from lightgbm.dask import DaskLGBMClassifier, DaskLGBMRegressor

        params = model.get_params()
        params.pop("n_jobs", None)  # each worker uses its own threads
        dask_class = (
            DaskLGBMClassifier if isinstance(model, lgb.LGBMClassifier) else DaskLGBMRegressor
        )
        estimator = dask_class(client=self.client, **params)
        with warnings.catch_warnings():
            # lightgbm.dask sets each worker's threads itself and says so for every fit.
            warnings.filterwarnings("ignore", "Parameter (n_jobs|num_threads) will be ignored")
            estimator.fit(*self._spread(X, np.asarray(y)))
        local = estimator.to_local()
        best = early_stopping_round(validation_losses(local, eval_X, eval_y), patience)
        # LightGBM 4 keeps the kept round here; predict(num_iteration=best_iteration_) reads it.
        local._best_iteration = best
        local.booster_.best_iteration = best
        return local

    def _spread(self, X: pd.DataFrame, y: np.ndarray) -> tuple[Any, Any]:
        import dask.dataframe as dd

        workers = sorted(self.client.scheduler_info(n_workers=-1)["workers"])
        chunk = np.arange(len(X)) % len(workers)
        X = X.reset_index(drop=True)
        labels = pd.Series(y, name="label")
        x_parts, y_parts = [], []
        for k, worker in enumerate(workers):
            rows = np.flatnonzero(chunk == k)
            if len(rows) == 0:
                continue
            x_parts.append(self.client.scatter(X.iloc[rows], workers=[worker]))
            y_parts.append(self.client.scatter(labels.iloc[rows], workers=[worker]))
        return (
            dd.from_delayed(x_parts, meta=X.iloc[:0], verify_meta=False),
            dd.from_delayed(y_parts, meta=labels.iloc[:0], verify_meta=False),
        )
