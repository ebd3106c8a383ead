"""Where the scorer comes from: the registry's champion, or the local copy when it is down."""

from __future__ import annotations

import pandas as pd

from pipelines.catalog import Catalog


def load_scorer():
    """The champion as a command would load it, with the environment as it is now."""
    return Catalog().load_scorer()


def test_the_champion_comes_from_the_registry(project_env):
    loaded = load_scorer()
    assert loaded.source == "registry"
    assert loaded.version == project_env.report["registry"]["version"]


def test_an_unreachable_tracking_server_falls_back_to_the_local_copy(
    project_env, monkeypatch, sample_dataset
):
    from_registry = load_scorer().scorer
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    loaded = load_scorer()
    assert loaded.source == "local copy"
    assert loaded.version == project_env.report["registry"]["version"]
    as_of = sample_dataset.invoices["issue_date"].max()
    history = from_registry.build_history(sample_dataset, as_of)
    queries = sample_dataset.invoices.head(50).assign(snapshot_date=as_of)
    features = from_registry.features(history, queries)
    pd.testing.assert_frame_equal(loaded.scorer.predict(features), from_registry.predict(features))
