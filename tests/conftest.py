"""Shared fixtures: one generated history and one trained scorer per test session.

Training takes a while, so it happens once; tests that need a model share it. Every artifact goes
to a temporary folder (MLflow store, model copies, snapshot), never to the project directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

SAMPLE_CUSTOMERS = 300
SAMPLE_YEARS = 3.0
SAMPLE_SEED = 11
# The service's API key in tests (any 16+ character string; real ones come from `payrisk keygen`).
API_KEY = "test-key-0123456789-abcdefghij"
AUTH = {"X-API-Key": API_KEY}
# One well-formed invoice for the service's endpoints (a known customer of the sample history);
# tests vary it with {**VALID_INVOICE, "field": value}.
VALID_INVOICE = {
    "invoice_id": "T-1",
    "customer_id": "C000001",
    "issue_date": "2026-10-01",
    "due_date": "2026-10-31",
    "amount": 100.0,
}


def fast_train_config() -> str:
    """The shipped configs/train.yaml, with fewer trees and one backtest fold for speed."""
    from payrisk.core.config import default_config, load_yaml

    content = load_yaml(default_config("train.yaml"))
    content["seed"] = 7
    content["models"]["lightgbm"].update(n_estimators=250, learning_rate=0.08)
    content["evaluation"]["backtest_folds"] = 1
    return yaml.safe_dump(content)


@dataclass(frozen=True)
class TrainedProject:
    data_dir: Path
    workdir: Path
    config_path: Path
    report: dict
    env: dict[str, str]


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from payrisk.data.generator import generate_history
    from payrisk.data.loading import write_dataset

    out = tmp_path_factory.mktemp("sample")
    write_dataset(generate_history(SAMPLE_CUSTOMERS, SAMPLE_YEARS, SAMPLE_SEED), out)
    return out


@pytest.fixture(scope="session")
def sample_dataset(sample_dir: Path):
    from payrisk.data.loading import load_dataset

    return load_dataset(sample_dir, validate=False)  # validated in tests/data


@pytest.fixture(scope="session")
def trained(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainedProject]:
    """A champion scorer trained on the sample, in a private MLflow store."""
    from pipelines.catalog import Catalog
    from pipelines.training import train

    workdir = tmp_path_factory.mktemp("project")
    config_path = workdir / "train.yaml"
    config_path.write_text(fast_train_config())
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
        "PAYRISK_MODELS_DIR": str(workdir / "models"),
        "PAYRISK_SNAPSHOT": str(workdir / "models" / "snapshot" / "customer_history.npz"),
        "PAYRISK_API_KEYS": API_KEY,
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        report = train(
            Catalog(train_config_path=config_path), sample_dir, report_json=workdir / "report.json"
        )
        yield TrainedProject(sample_dir, workdir, config_path, report, env)


def project_catalog(trained: TrainedProject):
    """The catalog of the trained project (its settings, its training config)."""
    from payrisk.core.settings import load_settings
    from pipelines.catalog import Catalog

    return Catalog(load_settings(trained.env), train_config_path=trained.config_path)


@pytest.fixture
def project_env(trained: TrainedProject, monkeypatch: pytest.MonkeyPatch) -> TrainedProject:
    """Point MLflow and the model store at the trained project for one test."""
    for key, value in trained.env.items():
        monkeypatch.setenv(key, value)
    return trained


@pytest.fixture(scope="session")
def snapshot_file(trained: TrainedProject) -> Path:
    """The service's snapshot of the sample, and the portfolio bundle beside it."""
    from pipelines.scoring import write_snapshot

    path = Path(trained.env["PAYRISK_SNAPSHOT"])
    if not (path.exists() and (path.parent / "portfolio" / "kpis.json").exists()):
        with pytest.MonkeyPatch.context() as patch:
            for key, value in trained.env.items():
                patch.setenv(key, value)
            write_snapshot(project_catalog(trained), trained.data_dir, path)
    return path


@pytest.fixture(scope="session")
def client(trained: TrainedProject, snapshot_file: Path):
    """The service's ASGI app (API and review pages) over the trained champion; sends the key."""
    from starlette.testclient import TestClient

    from payrisk.service import PayriskService

    with pytest.MonkeyPatch.context() as patch:
        for key, value in trained.env.items():
            patch.setenv(key, value)
        with TestClient(PayriskService.to_asgi(), headers=AUTH) as test_client:
            yield test_client


@pytest.fixture(scope="session")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the real server's output goes (tests scan it for keys and personal data)."""
    return tmp_path_factory.mktemp("server") / "server.log"


@pytest.fixture(scope="session")
def server(trained: TrainedProject, snapshot_file: Path, server_log: Path) -> Iterator[str]:
    """A real `bentoml serve` of the service on loopback; yields its base URL (needs API_KEY)."""
    from payrisk.serving.process import ServerStartError, running_service

    log = server_log
    env = {**trained.env, "BENTOML_HOME": str(trained.workdir / "bentoml")}
    try:
        with running_service("payrisk.service:PayriskService", env, log, 120) as base:
            yield base
    except ServerStartError as error:
        pytest.fail(str(error))
