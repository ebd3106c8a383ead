"""Where the scorer comes from: the registry's champion, or the local copy when it is down."""

from __future__ import annotations

import pandas as pd
import pytest

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


@pytest.mark.parametrize("store", ["not a database", "a folder", "a missing folder"])
def test_a_registry_that_cannot_be_read_falls_back_to_the_local_copy_at_once(
    project_env, monkeypatch, tmp_path, store
):
    """Before: a file that is not a database raised SQLAlchemy's error (the worker crash-looped);
    a folder in its place made MLflow retry for 100 s before failing."""
    path = tmp_path / "mlflow.db"
    if store == "not a database":
        path.write_bytes(b"\x00garbage" * 1000)
    elif store == "a folder":
        path.mkdir()
    else:
        path = tmp_path / "gone" / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{path}")
    loaded = load_scorer()
    assert loaded.source == "local copy"
    assert loaded.version == project_env.report["registry"]["version"]
    assert loaded.problem.startswith("model registry unusable: MLFLOW_TRACKING_URI: ")
    assert Catalog().model_available() is None  # `payrisk serve` would start
    assert not (tmp_path / "gone").exists()  # nothing created on the way


def test_without_registry_or_local_copy_serve_refuses_to_start(tmp_path):
    """Before: it started a server whose worker failed at start, again and again."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "dir.db").mkdir()
    environment = {
        **os.environ,
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'dir.db'}",
        "PAYRISK_MODELS_DIR": str(tmp_path / "models"),
        "PAYRISK_API_KEYS": "a-key-of-at-least-16-chars",
    }
    result = subprocess.run(  # a subprocess with a deadline: a server it starts cannot hang us
        [str(Path(sys.executable).with_name("payrisk")), "serve", "--port", "1"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "is a folder" in result.stderr and "no local copy" in result.stderr


def test_a_local_copy_changed_since_its_registration_is_refused_before_it_is_loaded(
    project_env, monkeypatch, tmp_path
):
    """Before (issue 26): a replaced python_model.pkl ran its code at start and the service
    reported ready from the "local copy". Now the digest recorded with the pointer must match
    (checked before unpickling), else `payrisk serve` refuses to start and says why."""
    import shutil
    from pathlib import Path

    models = tmp_path / "models"
    shutil.copytree(Path(project_env.env["PAYRISK_MODELS_DIR"]), models)
    monkeypatch.setenv("PAYRISK_MODELS_DIR", str(models))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'gone' / 'mlflow.db'}")
    assert Catalog().load_scorer().source == "local copy"  # untouched: served
    marker = tmp_path / "ran"
    # A pickle that runs `touch <marker>` when loaded (os.system), in place of the model: in
    # every copy (the session's other trainings may have left several; the champion's is one).
    for pickled in models.rglob("python_model.pkl"):
        pickled.write_bytes(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    with pytest.raises(FileNotFoundError, match="differs from the one registered"):
        Catalog().load_scorer()
    assert "differs from the one registered" in (Catalog().model_available() or "")
    assert not marker.exists()
