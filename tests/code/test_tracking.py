"""MLflow run plumbing: the whole config as parameters, and a run name that says what changed."""

from __future__ import annotations

from payrisk.core.config import TrainConfig
from pipelines.tracking import flatten, run_name


def test_the_whole_config_becomes_flat_parameters():
    params = flatten(TrainConfig().model_dump(mode="json"))
    assert params["models.lightgbm.num_leaves"] == "15"
    assert params["targets.payment_quantiles"] == "[0.1, 0.5, 0.9]"
    assert params["models.per_target.default.reg_lambda"] == "5.0"
    assert params["compute.scheduler_address"] == "null"
    assert all(len(key) <= 250 and len(value) <= 6000 for key, value in params.items())


def test_the_run_name_says_what_changed():
    before = flatten(TrainConfig().model_dump(mode="json"))
    tuned = TrainConfig.model_validate({"models": {"lightgbm": {"num_leaves": 31}}, "seed": 1})
    after = flatten(tuned.model_dump(mode="json"))
    assert run_name("2026-11-01", None, after) == "2026-11-01 first run"
    assert run_name("2026-11-01", before, before) == "2026-11-01 same settings"
    assert (
        run_name("2026-11-01", before, after) == "2026-11-01 lightgbm.num_leaves 15→31, seed 42→1"
    )


def _first_setup(args) -> str:
    """One `payrisk train`'s registration step on a fresh project (a process of its own)."""
    uri, start = args
    import time

    from pipelines import tracking

    time.sleep(max(start - time.time(), 0))  # all at once
    try:
        return tracking.setup(uri, "payrisk")
    except Exception as error:
        return f"failed: {type(error).__name__}"


def test_first_runs_of_a_project_at_once_create_one_store_without_failing(tmp_path):
    """Before (issue 26): two concurrent first `payrisk train` runs raced to create mlflow.db;
    one failed (alembic CommandError) after its whole fit and its run was lost."""
    import multiprocessing
    import time

    import mlflow  # noqa: F401 (imported once, before the processes fork)

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    start = time.time() + 1.0
    with multiprocessing.get_context("fork").Pool(3) as pool:
        ids = pool.map(_first_setup, [(uri, start)] * 3)
    assert len(set(ids)) == 1 and not ids[0].startswith("failed"), ids
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db"]
