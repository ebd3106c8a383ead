"""Faults: the registry down at start, a corrupt or missing snapshot, a training killed half way,
an input file cut off mid-row. payrisk keeps serving what it had, says so, and loses nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import AUTH, VALID_INVOICE, fast_train_config

pytestmark = pytest.mark.slow  # starts processes, clusters or browsers: make test-fast skips it

REPO = Path(__file__).resolve().parents[2]
DEAD_TRACKING = {
    "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",  # nothing listens there
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "2",
}


@pytest.fixture(scope="module")
def cut_off_service(trained, snapshot_file, tmp_path_factory):
    """A real `bentoml serve` started while the tracking server is unreachable, on its own
    snapshot copy; yields an HTTP client with the key, and the snapshot path."""
    from payrisk.serving.process import running_service

    folder = tmp_path_factory.mktemp("faulty")
    snapshot = folder / "customer_history.npz"
    shutil.copy2(snapshot_file, snapshot)
    shutil.copytree(snapshot_file.parent / "portfolio", folder / "portfolio")
    env = {
        **trained.env,
        **DEAD_TRACKING,
        "PAYRISK_SNAPSHOT": str(snapshot),
        "BENTOML_HOME": str(folder / "bentoml"),
    }
    with (
        running_service("payrisk.service:PayriskService", env, folder / "server.log", 180) as base,
        httpx.Client(base_url=base, headers=AUTH, timeout=60) as client,
    ):
        yield client, snapshot


def test_registry_unreachable_at_start_serves_the_local_copy_and_says_so(cut_off_service, trained):
    client, _ = cut_off_service
    status = client.post("/v1/status").json()
    assert status["ready"] is True
    assert status["model_source"] == "local copy"
    assert status["model_version"] == trained.report["registry"]["version"]
    assert client.get("/readyz").status_code == 200
    scored = client.post("/v1/score", json={"invoices": [VALID_INVOICE]})
    assert scored.status_code == 200
    assert scored.json()["model_version"] == trained.report["registry"]["version"]


def test_a_corrupt_then_missing_snapshot_keeps_the_last_good_one(cut_off_service):
    client, snapshot = cut_off_service
    before = client.post("/v1/status").json()
    good = client.post("/v1/score", json={"invoices": [VALID_INVOICE]}).json()
    assert before["snapshot_problem"] is None

    snapshot.write_bytes(snapshot.read_bytes()[: snapshot.stat().st_size // 2])  # cut in half
    corrupt = client.post("/v1/status").json()
    assert corrupt["ready"] is True
    assert corrupt["snapshot_as_of"] == before["snapshot_as_of"]
    assert corrupt["snapshot_problem"] and "still serving" in corrupt["snapshot_problem"]
    again = client.post("/v1/score", json={"invoices": [VALID_INVOICE]})
    assert again.status_code == 200
    assert (
        again.json()["invoices"][0]["default_probability"]
        == (good["invoices"][0]["default_probability"])
    )

    snapshot.unlink()
    missing = client.post("/v1/status").json()
    assert missing["ready"] is True and missing["snapshot_as_of"] == before["snapshot_as_of"]
    assert "not found" in missing["snapshot_problem"]
    assert client.post("/v1/score", json={"invoices": [VALID_INVOICE]}).status_code == 200


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ("as_of not a date", "as_of is not a date"),
        ("header a list", "header is not a JSON object"),
        ("state array shortened", "is not as long as its keys"),
    ],
)
def test_a_readable_but_malformed_snapshot_never_takes_the_api_down(
    cut_off_service, snapshot_file, case, problem
):
    """Before: /v1/status, /v1/score, /v1/customer and /readyz answered 500 (or the shortened
    state was reported ready and /v1/score answered 500 with an IndexError)."""
    from tests.service.test_snapshot import MALFORMED, rewrite

    client, snapshot = cut_off_service
    snapshot.write_bytes(snapshot_file.read_bytes())  # a good one first (another test removed it)
    os.utime(snapshot, (1e9, 1.5e9))
    good = client.post("/v1/status").json()
    assert good["snapshot_problem"] is None

    rewrite(snapshot, MALFORMED[case][0])
    os.utime(snapshot, (1e9, 2e9))
    status = client.post("/v1/status")
    assert status.status_code == 200
    assert status.json()["ready"] is True
    assert status.json()["snapshot_as_of"] == good["snapshot_as_of"]
    assert problem in status.json()["snapshot_problem"]
    assert client.get("/readyz").status_code == 200
    assert client.post("/v1/score", json={"invoices": [VALID_INVOICE]}).status_code == 200
    customer = client.post("/v1/customer", json={"customer_id": VALID_INVOICE["customer_id"]})
    assert customer.status_code == 200


@pytest.fixture(scope="module")
def corrupt_registry_service(trained, snapshot_file, tmp_path_factory):
    """A real `bentoml serve` whose MLFLOW_TRACKING_URI is a file that is not a database."""
    from payrisk.serving.process import running_service

    folder = tmp_path_factory.mktemp("corrupt-registry")
    store = folder / "mlflow.db"
    store.write_bytes(b"this is not an SQLite database\n" * 200)
    env = {
        **trained.env,
        "MLFLOW_TRACKING_URI": f"sqlite:///{store}",
        "BENTOML_HOME": str(folder / "bentoml"),
    }
    log = folder / "server.log"
    with (
        running_service("payrisk.service:PayriskService", env, log, 180) as base,
        httpx.Client(base_url=base, headers=AUTH, timeout=60) as client,
    ):
        yield client, log


def test_a_corrupt_registry_database_serves_the_local_copy_and_says_so(
    corrupt_registry_service, trained
):
    """Before: the worker crashed and restarted in a loop and never served."""
    client, log = corrupt_registry_service
    status = client.post("/v1/status").json()
    assert status["ready"] is True and status["model_source"] == "local copy"
    assert status["model_version"] == trained.report["registry"]["version"]
    assert "not an SQLite database" in status["model_problem"]
    assert client.post("/v1/score", json={"invoices": [VALID_INVOICE]}).status_code == 200
    text = log.read_text(errors="replace")
    assert "Traceback" not in text
    assert text.count("Service payrisk initialized") == 1  # started once, never restarted


# Runs `train` in a subprocess and SIGKILLs it at a chosen point (no cleanup handler runs).
KILLER = r"""
import contextlib, os, signal, sys

point, data, config, report = sys.argv[1:5]

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

import pipelines.catalog as catalog
import pipelines.training as training
import pipelines.tracking as tracking
import payrisk.core.storage as storage

if point == "fitting":  # in the middle of the backtest fits
    real_fit, calls = training.fit_scorer, []
    def fit(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            die()
        return real_fit(*args, **kwargs)
    training.fit_scorer = fit
elif point == "registering":  # the run logged and the version registered, alias not yet set
    tracking.set_alias = die
elif point == "local-copy":  # the local copy fully written to its temporary folder, not swapped in
    @contextlib.contextmanager
    def dying(target):
        with storage.atomic_directory(target) as tmp:
            yield tmp
            die()
    catalog.atomic_directory = dying

training.train(catalog.Catalog(train_config_path=config), data, report_json=report)
"""


def visible_files(root: Path) -> dict[str, int]:
    """Every file a reader would use (temporary entries are hidden: '.name.*.tmp')."""
    return {
        str(path.relative_to(root)): path.stat().st_size
        for path in root.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)
    }


@pytest.mark.parametrize("point", ["fitting", "registering", "local-copy"])
def test_a_training_killed_half_way_leaves_the_champion_and_artifacts_intact(
    trained, tmp_path, monkeypatch, point
):
    from pipelines.catalog import Catalog

    shutil.copy2(trained.workdir / "mlflow.db", tmp_path / "mlflow.db")
    shutil.copytree(trained.workdir / "models", tmp_path / "models")
    env = {
        **trained.env,
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "PAYRISK_MODELS_DIR": str(tmp_path / "models"),
    }
    config = yaml.safe_load(fast_train_config())
    config["models"]["lightgbm"]["n_estimators"] = 15
    config["registry"]["min_improvement"] = 1.0  # the new model can never take over
    if point != "fitting":  # killed once the run is over: the quickest whole run will do
        config["evaluation"]["backtest_folds"] = 0
        config["effects"]["enabled"] = False
        config["registry"]["refit_on_full_history"] = False
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(config))
    models = tmp_path / "models"
    before = visible_files(models)
    pointer = (models / "payrisk-scorer" / "champion.json").read_text()
    report = tmp_path / "report.json"

    process = subprocess.run(
        [sys.executable, "-c", KILLER, point, str(trained.data_dir), str(tmp_path / "train.yaml"),
         str(report)],
        cwd=REPO, env={**os.environ, **env}, capture_output=True, timeout=600,
    )  # fmt: skip
    assert process.returncode == -9, process.stderr.decode()[-2000:]

    assert not report.exists()
    after = visible_files(models)
    assert {name: after.get(name) for name in before} == before  # nothing changed or lost
    added = sorted(set(after) - set(before))  # nothing half-written where a reader would look
    if point == "registering":  # killed after the local copy, before the alias: a whole copy
        folders = {Path(name).parts[:2] for name in added}
        assert len(folders) == 1, folders
        (folder,) = folders
        assert folder[1].startswith("version-") and folder not in {
            Path(name).parts[:2] for name in before
        }
        assert "/".join(folder) + "/model/MLmodel" in added, added
    else:
        assert added == []
    assert (models / "payrisk-scorer" / "champion.json").read_text() == pointer
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    champion = Catalog().load_scorer()
    assert (champion.source, champion.version) == (
        "registry",
        trained.report["registry"]["version"],
    )
    for key, value in DEAD_TRACKING.items():
        monkeypatch.setenv(key, value)
    local = Catalog().load_scorer()
    assert (local.source, local.version) == ("local copy", trained.report["registry"]["version"])


def truncated_copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    invoices = target / "invoices.csv"
    content = invoices.read_bytes()
    last_line_start = content.rstrip(b"\n").rfind(b"\n") + 1
    cut = last_line_start + (len(content) - last_line_start) // 3  # a third into the last row
    invoices.write_bytes(content[:cut])
    return target


def test_an_input_file_cut_off_mid_row_is_refused_and_nothing_is_written(project_env, tmp_path):
    from typer.testing import CliRunner

    from payrisk.cli import app

    data = truncated_copy(project_env.data_dir, tmp_path / "data")
    out = tmp_path / "out"
    models = Path(project_env.env["PAYRISK_MODELS_DIR"])
    models_before = visible_files(models)
    runner = CliRunner()
    commands = {
        "validate": ["validate", str(data)],
        "score": ["score", "--data", str(data), "--out", str(out / "scores.csv")],
        "snapshot": ["snapshot", "--data", str(data), "--out", str(out / "snapshot.npz")],
        "train": ["train", "--data", str(data), "--report-json", str(out / "train.json")],
    }
    for name, args in commands.items():
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (name, result.output)
        assert "truncated" in result.output, (name, result.output)
        assert "Traceback" not in result.output
    assert not out.exists()
    assert visible_files(models) == models_before


def test_a_truncated_export_is_refused_by_the_import(tmp_path):
    from typer.testing import CliRunner

    from payrisk.cli import app

    fixtures = REPO / "tests" / "data" / "fixtures"
    export = tmp_path / "export_fr.csv"
    content = (fixtures / "export_fr.csv").read_bytes()
    body = content.rstrip(b"\r\n")
    last_line_start = body.rfind(b"\n") + 1
    export.write_bytes(body[: last_line_start + 3])  # the total line, cut after 3 bytes
    out = tmp_path / "imported"
    mapping = fixtures / "mapping_fr.yaml"
    result = CliRunner().invoke(
        app, ["import", str(export), "--mapping", str(mapping), "--out", str(out)]
    )
    assert result.exit_code == 1, result.output
    assert "truncated" in result.output
    assert not out.exists() or not any(out.iterdir())
    assert "Traceback" not in result.output
