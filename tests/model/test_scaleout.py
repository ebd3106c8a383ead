"""The Dask path against the single-machine one, on a local cluster of two worker processes.

Features and scores with the same model must come out identical; a model trained on Dask differs
from a local one only by LightGBM's distributed histograms, so its scores are compared within a
tolerance. The cluster is started once for the module and closed after it.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from lightgbm.basic import EvalResult
from lightgbm.callback import CallbackEnv, EarlyStopException
from sklearn.metrics import roc_auc_score

from payrisk.core.config import ComputeSettings, ConfigError, TrainConfig
from payrisk.models.estimators import booster_fitter, fit_in_process
from payrisk.policy.config import load_dunning_config
from payrisk.scaleout.dask import (
    Cluster,
    ComputeOverrides,
    DaskBoosterFitter,
    compute_session,
    customer_partition,
    early_stopping_round,
    partition_dataset,
    score_open_invoices,
    snapshot_features,
    validation_losses,
)

PARTITIONS = 5  # more partitions than workers, and some customers' partitions hold few rows
# A model trained on Dask against the same model trained in process, on the same holdout: the
# distributed histograms (bin boundaries found per worker) and bagging per worker change the trees.
AUC_TOLERANCE = 0.03
MEAN_PROBABILITY_TOLERANCE = 0.03


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as local,
        Client(local) as client,
    ):
        yield Cluster(client, PARTITIONS)


@pytest.fixture(scope="module")
def dataset():
    from payrisk.data.generator import generate_history

    return generate_history(160, 2.0, seed=5)


@pytest.fixture(scope="module")
def config() -> TrainConfig:
    content = TrainConfig().model_dump()
    content["seed"] = 3
    content["models"]["lightgbm"].update(n_estimators=100, learning_rate=0.1, n_jobs=1)
    content["evaluation"]["backtest_folds"] = 0
    return TrainConfig.model_validate(content)


@pytest.fixture(scope="module")
def as_of(dataset) -> pd.Timestamp:
    from payrisk.data.receivables import default_as_of

    return default_as_of(dataset)


@pytest.fixture(scope="module")
def local_features(dataset, as_of, config):
    return snapshot_features(dataset, as_of, config)


def _training_examples(dataset, as_of, config, queries, features):
    from payrisk.models.training import Examples, split_windows, window_examples

    everything = Examples(queries, features, pd.DataFrame(index=queries.index))
    train_window, holdout_window = split_windows(as_of, config)
    return (
        window_examples(everything, dataset.invoices, train_window, config),
        window_examples(everything, dataset.invoices, holdout_window, config),
    )


@pytest.fixture(scope="module")
def examples(dataset, as_of, config, local_features):
    return _training_examples(dataset, as_of, config, *local_features)


@pytest.fixture(scope="module")
def local_scorer(examples, config):
    from payrisk.models.training import fit_scorer

    return fit_scorer(examples[0], config)


# --- Partitioning --------------------------------------------------------------------------------


def test_every_customer_lands_whole_in_one_partition(dataset):
    parts = partition_dataset(dataset, PARTITIONS)
    assert len(parts) == PARTITIONS
    owner: dict[str, int] = {}
    for k, part in enumerate(parts):
        for name in ("invoices", "customers"):
            for customer in pd.unique(getattr(part, name)["customer_id"]):
                assert owner.setdefault(customer, k) == k, "a customer is split across partitions"
        ids = set(part.invoices["invoice_id"])
        assert set(part.payments["invoice_id"]) <= ids
        assert set(part.reminders["invoice_id"]) <= ids
    for name in ("invoices", "payments", "reminders", "customers"):
        whole = getattr(dataset, name)
        together = pd.concat([getattr(p, name) for p in parts]).sort_index()
        pd.testing.assert_frame_equal(together, whole.sort_index())
    assert sum(not p.invoices.empty for p in parts) >= 3  # the hash spreads customers


@pytest.mark.slow  # a local Dask cluster (2 worker processes)
def test_partition_of_a_customer_is_the_same_in_every_process_and_order(dataset, cluster):
    ids = dataset.customers["customer_id"]
    here = customer_partition(ids, PARTITIONS)
    on_worker = cluster.client.submit(customer_partition, ids, PARTITIONS, pure=False).result()
    np.testing.assert_array_equal(on_worker, here)
    shuffled = ids.sample(frac=1.0, random_state=1)
    again = pd.Series(customer_partition(shuffled, PARTITIONS), index=shuffled.index)
    np.testing.assert_array_equal(again.sort_index().to_numpy(), here)
    assert ((here >= 0) & (here < PARTITIONS)).all()


# --- Features ------------------------------------------------------------------------------------


def _by_key(frame: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    keyed = frame.assign(_date=queries["snapshot_date"].to_numpy(), _id=queries["invoice_id"])
    return keyed.sort_values(["_date", "_id"]).drop(columns=["_date", "_id"]).reset_index(drop=True)


@pytest.mark.slow  # a local Dask cluster (2 worker processes)
def test_features_on_dask_are_identical_to_the_single_machine_ones(
    dataset, as_of, config, local_features, cluster
):
    queries, features = local_features
    dask_queries, dask_features = snapshot_features(dataset, as_of, config, cluster)
    assert len(dask_queries) == len(queries) > 1000
    pd.testing.assert_frame_equal(_by_key(dask_queries, dask_queries), _by_key(queries, queries))
    pd.testing.assert_frame_equal(
        _by_key(dask_features, dask_queries), _by_key(features, queries), check_exact=True
    )
    # Same order too, so the time split of the training rows is the same.
    pd.testing.assert_frame_equal(dask_features, features, check_exact=True)


# --- Batch scoring -------------------------------------------------------------------------------


@pytest.mark.slow  # a local Dask cluster (2 worker processes)
@pytest.mark.parametrize("explain_top", [15, None])
def test_the_same_scorer_scores_partitions_exactly_as_one_machine(
    dataset, as_of, local_scorer, cluster, explain_top
):
    dunning = load_dunning_config()
    history, local = score_open_invoices(local_scorer, dataset, as_of, dunning, explain_top)
    none, spread = score_open_invoices(local_scorer, dataset, as_of, dunning, explain_top, cluster)
    assert history is not None and none is None
    assert len(local.invoices) > 30
    pd.testing.assert_frame_equal(spread.invoices, local.invoices, check_exact=True)
    pd.testing.assert_frame_equal(spread.customers, local.customers, check_exact=True)
    explained = spread.invoices["reasons"].notna().sum()
    assert explained == (len(local.invoices) if explain_top is None else explain_top)


# --- Training ------------------------------------------------------------------------------------


@pytest.mark.slow  # a local Dask cluster (2 worker processes)
def test_training_on_dask_uses_lightgbms_dask_estimators_and_agrees_within_tolerance(
    examples, config, local_scorer, cluster
):
    from distributed import get_task_stream

    from payrisk.models.training import fit_scorer

    train, holdout = examples
    with (
        get_task_stream(cluster.client) as stream,
        booster_fitter(DaskBoosterFitter(cluster.client)),
    ):
        dask_scorer = fit_scorer(train, config)
    tasks = {
        task["key"] if isinstance(task["key"], str) else task["key"][0] for task in stream.data
    }
    trained_on_workers = [key for key in tasks if "train_part" in key]
    # late, default given late and the payment-date hazard: three boosters, each over both
    # workers.
    assert len(trained_on_workers) >= 2 * 3, sorted(tasks)
    workers = {task["worker"] for task in stream.data if "train_part" in str(task["key"])}
    assert len(workers) == 2

    pickle.dumps(dask_scorer)  # no client or cluster inside: registrable as before
    local_scores = local_scorer.predict(holdout.features)
    dask_scores = dask_scorer.predict(holdout.features)
    for target in ("late", "default"):
        known = holdout.known(target)
        y = holdout.labels.loc[known, target].to_numpy()
        column = f"{target}_probability"
        local_auc = roc_auc_score(y, local_scores[column].to_numpy()[known])
        dask_auc = roc_auc_score(y, dask_scores[column].to_numpy()[known])
        assert abs(local_auc - dask_auc) < AUC_TOLERANCE, (target, local_auc, dask_auc)
        gap = np.mean(np.abs(local_scores[column] - dask_scores[column]))
        assert gap < MEAN_PROBABILITY_TOLERANCE, (target, gap)
    assert not np.allclose(
        local_scores["late_probability"], dask_scores["late_probability"]
    )  # really refitted


# --- Early stopping decided on the driver --------------------------------------------------------


def _callback_round(losses: np.ndarray, patience: int) -> int:
    """What `lgb.early_stopping` keeps for this sequence of validation losses (1-based)."""
    callback = lgb.early_stopping(patience, verbose=False)
    for iteration, loss in enumerate(losses):
        env = CallbackEnv(
            model=None,
            params={},
            iteration=iteration,
            begin_iteration=0,
            end_iteration=len(losses),
            evaluation_result_list=[EvalResult("valid_0", "binary_logloss", float(loss), False)],
        )
        try:
            callback(env)
        except EarlyStopException as stop:
            return stop.best_iteration + 1
    raise AssertionError("the callback always stops by the last round")


@pytest.mark.parametrize("seed", range(40))
def test_early_stopping_round_follows_lightgbms_callback(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    # Rounded so that ties (not an improvement for LightGBM) occur.
    losses = np.round(np.cumsum(rng.normal(-0.01, 0.03, n)) + 1, 2)
    patience = int(rng.integers(1, 12))
    assert early_stopping_round(losses, patience) == _callback_round(losses, patience)


@pytest.mark.parametrize("kind", ["classifier", "quantile"])
def test_early_stopping_after_the_fit_keeps_the_round_lightgbm_keeps(kind):
    rng = np.random.default_rng(0)
    n = 4000
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": pd.Categorical(rng.choice(["x", "y", "z"], n), categories=["x", "y", "z"]),
        }
    )
    signal = X["a"] + 0.5 * (X["c"] == "y") + rng.normal(scale=1.5, size=n)
    if kind == "classifier":
        y = (signal > 0).astype(int).to_numpy()
        make = lambda: lgb.LGBMClassifier(  # noqa: E731
            n_estimators=300, learning_rate=0.3, num_leaves=31, random_state=1, verbose=-1
        )
    else:
        y = signal.to_numpy()
        make = lambda: lgb.LGBMRegressor(  # noqa: E731
            objective="quantile",
            alpha=0.9,
            n_estimators=300,
            learning_rate=0.3,
            num_leaves=31,
            random_state=1,
            verbose=-1,
        )
    fit, valid = slice(0, 3000), slice(3000, n)
    stopped = fit_in_process(make(), X[fit], y[fit], X[valid], y[valid], 10)
    assert 1 < stopped.best_iteration_ < 290  # it did stop early
    full = make().fit(X[fit], y[fit])
    losses = validation_losses(full, X[valid], y[valid])
    assert early_stopping_round(losses, 10) == stopped.best_iteration_
    np.testing.assert_allclose(
        losses[stopped.best_iteration_ - 1],
        stopped.best_score_["valid_0"]["binary_logloss" if kind == "classifier" else "quantile"],
        rtol=1e-9,
    )


# --- Selecting the backend -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "overrides", "environment_scheduler", "backend", "address", "partitions"),
    [
        ({}, ComputeOverrides(), None, "local", None, None),
        ({}, ComputeOverrides(dask=True), None, "dask", None, None),
        ({"backend": "dask"}, ComputeOverrides(), None, "dask", None, None),
        ({"backend": "dask"}, ComputeOverrides(dask=False), None, "local", None, None),
        (
            {},
            ComputeOverrides(scheduler_address="tcp://h:8786"),
            None,
            "dask",
            "tcp://h:8786",
            None,
        ),
        (
            {"backend": "dask", "scheduler_address": "tcp://conf:1", "partitions": 8},
            ComputeOverrides(scheduler_address="tcp://cli:2", partitions=3),
            "tcp://env:3",
            "dask",
            "tcp://cli:2",
            3,
        ),
        (
            {"scheduler_address": "tcp://conf:1"},
            ComputeOverrides(),
            None,
            "local",
            "tcp://conf:1",
            None,
        ),
        (
            {"backend": "dask"},
            ComputeOverrides(),
            "tcp://env:3",
            "dask",
            "tcp://env:3",
            None,
        ),
        # The environment says where a cluster is, never that a run goes to one.
        ({}, ComputeOverrides(), "tcp://env:3", "local", "tcp://env:3", None),
    ],
)
def test_options_override_the_config_which_overrides_the_environment(
    configured, overrides, environment_scheduler, backend, address, partitions
):
    settings = overrides.apply(ComputeSettings(**configured), environment_scheduler)
    assert (settings.backend, settings.scheduler_address, settings.partitions) == (
        backend,
        address,
        partitions,
    )


def test_scheduler_with_local_and_bad_partitions_are_refused():
    with pytest.raises(ConfigError, match="--local"):
        ComputeOverrides(dask=False, scheduler_address="tcp://h:8786").apply(ComputeSettings())
    with pytest.raises(ConfigError, match="partitions"):
        ComputeOverrides(dask=True, partitions=0).apply(ComputeSettings())


def test_cli_refuses_scheduler_with_local_before_reading_anything(tmp_path):
    from typer.testing import CliRunner

    from payrisk.cli import app

    data = tmp_path / "data"
    data.mkdir()  # empty: reading it would fail differently
    for command in (["train"], ["score", "--out", str(tmp_path / "s.csv")]):
        result = CliRunner().invoke(
            app, [*command, "--data", str(data), "--local", "--scheduler", "tcp://h:1"]
        )
        assert result.exit_code == 2, result.output
        assert "--scheduler" in result.output
    assert list(tmp_path.iterdir()) == [data]


@pytest.mark.slow  # a local Dask cluster (2 worker processes)
def test_a_session_on_a_running_scheduler_fits_on_it_and_restores_local_fitting(cluster):
    from payrisk.models import estimators as models

    address = cluster.client.scheduler.address
    settings = ComputeSettings(backend="dask", scheduler_address=address, partitions=7)
    with compute_session(settings) as session:
        assert session is not None and session.partitions == 7 and session.workers == 2
        fitter = models._booster_fitter.get()
        assert isinstance(fitter, DaskBoosterFitter)
        assert fitter.client.scheduler.address == address
    assert models._booster_fitter.get() is fit_in_process
    with compute_session(ComputeSettings()) as session:
        assert session is None and models._booster_fitter.get() is fit_in_process


def test_an_unreachable_scheduler_is_a_config_error(monkeypatch):
    from payrisk.scaleout import dask as scaleout

    monkeypatch.setattr(scaleout, "CONNECT_TIMEOUT", "1s")
    settings = ComputeSettings(backend="dask", scheduler_address="tcp://127.0.0.1:9")
    with (
        pytest.raises(ConfigError, match="cannot reach the Dask scheduler"),
        compute_session(settings),
    ):
        pass
