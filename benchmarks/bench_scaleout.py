"""Single machine against Dask (a local cluster of worker processes) on a generated history.

Run: python -m benchmarks.bench_scaleout [n_invoices ...] [--workers N]   (default: 100k, 2 workers)

For each size, in a fresh process: training-snapshot features, fitting the late, default and
payment models (no MLflow), and batch scoring of the open invoices, first in process, then on a
local Dask cluster (customer partitions; LightGBM's Dask estimators). It also checks what the
tests check at a larger size: identical features, identical scores with the same model, and how
far a model trained on Dask lands from the local one on the holdout.
"""

from __future__ import annotations

import importlib
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date

import numpy as np
import pandas as pd

DEFAULT_SIZES = (100_000,)
DEFAULT_WORKERS = 2
YEARS = 3.0


def _holdout(scorer, holdout) -> tuple[pd.DataFrame, dict[str, float]]:
    """The scorer's holdout probabilities and its ROC AUC on the late and default targets."""
    from sklearn.metrics import roc_auc_score

    scores = scorer.predict(holdout.features)
    auc = {
        target: float(
            roc_auc_score(
                holdout.labels.loc[holdout.known(target), target],
                scores[f"{target}_probability"].to_numpy()[holdout.known(target)],
            )
        )
        for target in ("late", "default")
    }
    return scores, auc


def run_size(target: int, workers: int) -> dict:
    from distributed import Client, LocalCluster

    from payrisk.core.config import TrainConfig
    from payrisk.data.generator import customers_for_invoices, generate_history
    from payrisk.data.receivables import default_as_of
    from payrisk.models.estimators import booster_fitter
    from payrisk.models.training import Examples, fit_scorer, split_windows, window_examples
    from payrisk.policy.config import load_dunning_config
    from payrisk.scaleout.dask import (
        Cluster,
        DaskBoosterFitter,
        score_open_invoices,
        snapshot_features,
    )

    config = TrainConfig()
    dunning = load_dunning_config()
    dataset = generate_history(customers_for_invoices(target, YEARS), YEARS, seed=0)
    as_of = default_as_of(dataset)
    train_window, holdout_window = split_windows(as_of, config)
    figures: dict = {"invoices": len(dataset.invoices), "workers": workers}

    def examples(queries: pd.DataFrame, features: pd.DataFrame):
        everything = Examples(queries, features, pd.DataFrame(index=queries.index))
        return (
            window_examples(everything, dataset.invoices, train_window, config),
            window_examples(everything, dataset.invoices, holdout_window, config),
        )

    def timed(key: str, action):
        started = time.perf_counter()
        result = action()
        figures[key] = time.perf_counter() - started
        return result

    # In this process.
    queries, features = timed("local_features_s", lambda: snapshot_features(dataset, as_of, config))
    figures["snapshots"] = len(queries)
    train, holdout = examples(queries, features)
    local_scorer = timed("local_train_s", lambda: fit_scorer(train, config))
    _, local_portfolio = timed(
        "local_score_s",
        lambda: score_open_invoices(local_scorer, dataset, as_of, dunning, 10_000),
    )
    figures["open_invoices"] = len(local_portfolio.invoices)

    # On a local Dask cluster.
    started = time.perf_counter()
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local,
        Client(local) as client,
    ):
        # Workers import payrisk (pandas, LightGBM, scikit-learn) once; counted in the start-up.
        client.run(importlib.import_module, "payrisk.scaleout.dask")
        cluster = Cluster(client, 2 * workers)
        figures["dask_start_s"] = time.perf_counter() - started
        dask_queries, dask_features = timed(
            "dask_features_s", lambda: snapshot_features(dataset, as_of, config, cluster)
        )
        figures["features_identical"] = dask_queries.equals(queries) and dask_features.equals(
            features
        )

        def fit_on_dask():
            with booster_fitter(DaskBoosterFitter(client)):
                return fit_scorer(train, config)

        dask_scorer = timed("dask_train_s", fit_on_dask)
        _, dask_portfolio = timed(
            "dask_score_s",
            lambda: score_open_invoices(local_scorer, dataset, as_of, dunning, 10_000, cluster),
        )
        figures["scores_identical"] = dask_portfolio.invoices.equals(
            local_portfolio.invoices
        ) and dask_portfolio.customers.equals(local_portfolio.customers)

    local_scores, local_auc = _holdout(local_scorer, holdout)
    dask_scores, dask_auc = _holdout(dask_scorer, holdout)
    for name in ("late", "default"):
        figures[f"{name}_auc_local"] = local_auc[name]
        figures[f"{name}_auc_dask"] = dask_auc[name]
        column = f"{name}_probability"
        figures[f"{name}_mean_abs_diff"] = float(
            np.mean(np.abs(local_scores[column] - dask_scores[column]))
        )
    return figures


def main(argv: list[str] | None = None) -> list[dict]:
    args = list(sys.argv[1:] if argv is None else argv)
    workers = DEFAULT_WORKERS
    if "--workers" in args:
        at = args.index("--workers")
        workers = int(args[at + 1])
        del args[at : at + 2]
    sizes = [int(a) for a in args] or list(DEFAULT_SIZES)
    context = multiprocessing.get_context("spawn")
    results = []
    print(
        f"payrisk scale-out benchmark, {date.today()}, {multiprocessing.cpu_count()} cores, "
        f"local process vs a local Dask cluster of {workers} workers x 1 thread"
    )
    header = (
        f"{'invoices':>10} {'snapshots':>10} {'step':<9} {'local s':>8} {'dask s':>8} "
        f"{'dask/local':>10}"
    )
    print(header)
    for target in sizes:
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            figures = pool.submit(run_size, target, workers).result()
        results.append(figures)
        for step in ("features", "train", "score"):
            local, dask = figures[f"local_{step}_s"], figures[f"dask_{step}_s"]
            print(
                f"{figures['invoices']:>10,} {figures['snapshots']:>10,} {step:<9} "
                f"{local:>8.1f} {dask:>8.1f} {dask / local:>9.2f}x"
            )
        print(
            f"  cluster start (workers importing payrisk) {figures['dask_start_s']:.1f} s; "
            f"{figures['open_invoices']:,} open invoices; features identical: "
            f"{figures['features_identical']}; scores with the same model identical: "
            f"{figures['scores_identical']}"
        )
        for name in ("late", "default"):
            print(
                f"  {name}: holdout ROC AUC local {figures[f'{name}_auc_local']:.4f}, trained on "
                f"Dask {figures[f'{name}_auc_dask']:.4f}; mean |p local - p Dask| "
                f"{figures[f'{name}_mean_abs_diff']:.4f}"
            )
    return results


if __name__ == "__main__":
    main()
