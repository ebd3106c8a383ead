"""`payrisk daily` without a model: the lock, the schedule, the config, a failing step's exit code
and summary, a bad export stopped at validate with the data directory untouched, and the JSON
log lines. The whole night on a trained model is tests/service/test_daily_run.py."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from payrisk.cli import app
from payrisk.core.daily import DailyConfig, RetrainSettings
from payrisk.core.settings import load_settings
from pipelines.catalog import Catalog
from pipelines.daily import (
    DISK,
    FAILED,
    LOCKED,
    NOT_RUN,
    OK,
    SKIPPED,
    DailyLockedError,
    Skipped,
    retrain_due,
    run_daily,
    run_lock,
)

runner = CliRunner()
NOW = pd.Timestamp("2026-12-07T23:00:00Z")


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """An empty project folder: its own MLflow store and models folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("PAYRISK_MODELS_DIR", str(tmp_path / "models"))
    for name in ("PAYRISK_SNAPSHOT", "PAYRISK_LOG_FORMAT", "PAYRISK_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    from payrisk.data.generator import generate_history
    from payrisk.data.loading import write_dataset

    folder = tmp_path_factory.mktemp("small") / "data"
    write_dataset(generate_history(30, 1.0, seed=3), folder)
    return folder


PAYMENTS_MAPPING = {
    "table": "payments",
    "columns": {"invoice_id": "Facture", "payment_date": "Date", "amount": "Montant"},
    "csv": {"separator": ";"},
}


def payments_export(data: Path, target: Path, unknown_invoice: bool = False) -> Path:
    """The data's payments as an ERP would export them (French headers, `;`); with
    `unknown_invoice`, one payment points at an invoice the ledger does not have."""
    payments = pd.read_csv(data / "payments.csv", dtype=str, keep_default_na=False)
    if unknown_invoice:
        payments.loc[2, "invoice_id"] = "NO-SUCH-INVOICE"
    payments = payments.rename(
        columns={"invoice_id": "Facture", "payment_date": "Date", "amount": "Montant"}
    )
    payments.to_csv(target, sep=";", index=False)
    return target


def night_config(project: Path, data: Path, export: Path | None, **more) -> Path:
    """A daily.yaml for `project`: its data directory a copy of `data`, `export` imported."""
    copy = project / "data"
    if not copy.exists():
        copy.mkdir()
        for table in data.iterdir():
            (copy / table.name).write_bytes(table.read_bytes())
    mapping = project / "payments.yaml"
    mapping.write_text(yaml.safe_dump(PAYMENTS_MAPPING))
    content = {
        "data_dir": str(copy),
        "imports": [] if export is None else [{"export": str(export), "mapping": str(mapping)}],
        "reports_dir": str(project / "reports"),
        "retrain": {"every_days": None},
        **more,
    }
    path = project / "daily.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- the schedule -------------------------------------------------------------------------------


def test_retraining_is_due_on_schedule_on_demand_or_when_monitoring_asked():
    days_ago = lambda n: NOW - pd.Timedelta(days=n)  # noqa: E731
    assert retrain_due(days_ago(6.9), NOW, 7, False, False) is None
    assert "7.0 days ago" in retrain_due(days_ago(7), NOW, 7, False, False)
    assert retrain_due(None, NOW, 7, False, False) == "no model registered yet"
    assert retrain_due(days_ago(100), NOW, None, False, False) is None  # no schedule
    assert "--retrain" in retrain_due(days_ago(1), NOW, None, True, False)
    assert "monitoring" in retrain_due(days_ago(1), NOW, 7, False, True)


# --- the lock -----------------------------------------------------------------------------------


def test_a_second_run_is_refused_while_the_lock_is_held(project, small_data):
    config = night_config(project, small_data, None)
    lock = project / "models" / "daily.lock"
    with run_lock(lock):
        with pytest.raises(DailyLockedError, match=f"pid {os.getpid()}"), run_lock(lock):
            pass
        refused = runner.invoke(app, ["daily", "--config", str(config)])
    assert refused.exit_code == LOCKED.exit_code == 5, refused.output
    assert f"pid {os.getpid()}" in refused.output and "what to do" in refused.output
    assert not (project / "reports").exists()  # the refused run did nothing
    assert lock.read_text() == ""  # released: nobody holds it


def test_the_lock_of_a_run_that_died_is_taken_over(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = tmp_path / "daily.lock"
    lock.write_text(json.dumps({"pid": dead.pid, "started": "2026-12-06T23:00:00+00:00"}))
    with run_lock(lock) as stale:
        assert stale == {"pid": dead.pid, "started": "2026-12-06T23:00:00+00:00"}
        assert json.loads(lock.read_text())["pid"] == os.getpid()


# --- the config ---------------------------------------------------------------------------------


def test_an_unknown_key_in_the_config_is_named_and_nothing_runs(project, small_data):
    config = night_config(project, small_data, None)
    content = yaml.safe_load(config.read_text())
    content["retrain"] = {"every_day": 7}
    config.write_text(yaml.safe_dump(content))
    refused = runner.invoke(app, ["daily", "--config", str(config)])
    assert refused.exit_code == 2, refused.output
    assert "daily.yaml" in refused.output and "retrain.every_day" in refused.output
    assert "Traceback" not in refused.output and not (project / "reports").exists()


def test_the_shipped_config_loads():
    from payrisk.core.daily import load_daily_config

    shipped = load_daily_config()
    assert shipped.data_dir == Path("data/sample") and shipped.retrain.every_days == 7


# --- a failing step -----------------------------------------------------------------------------


def test_a_failed_step_stops_the_run_with_its_kind_and_says_what_to_do(project):
    def fine(run):
        return {"rows": 3}

    def nothing(run):
        raise Skipped("nothing to do")

    def full_disk(run):
        raise OSError(errno.ENOSPC, "No space left on device", "scores.csv")

    def never(run):
        raise AssertionError("a step after a failure ran")

    config = DailyConfig(data_dir=project / "data", reports_dir=project / "reports")
    lines = []
    summary = run_daily(
        config,
        Catalog(load_settings()),
        on_step=lines.append,
        steps=(("a", fine), ("b", nothing), ("c", full_disk), ("d", never)),
    )
    assert [s["status"] for s in summary["steps"]] == [OK, SKIPPED, FAILED, NOT_RUN]
    assert summary["exit_code"] == DISK.exit_code == 4 and summary["failed_step"] == "c"
    assert summary["failure"]["kind"] == "disk" and "free space" in summary["failure"]["advice"]
    assert [line.name for line in lines] == ["a", "b", "c"]  # one console line per step run
    written = json.loads((project / "reports" / "summary.json").read_text())
    assert written == json.loads(
        (project / "reports" / "runs" / f"{summary['run_id']}.json").read_text()
    )
    assert written["steps"][0]["outputs"] == {"rows": 3}

    import mlflow

    run = mlflow.MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).get_run(summary["mlflow_run_id"])
    assert run.data.tags["status"] == FAILED and run.data.tags["failed_step"] == "c"
    assert set(run.data.metrics) == {"a_seconds", "b_seconds", "c_seconds", "total_seconds"}


def test_a_bad_export_stops_at_validate_and_the_data_directory_keeps_the_last_good_data(
    project, small_data
):
    export = payments_export(small_data, project / "export.csv", unknown_invoice=True)
    config = night_config(project, small_data, export)
    before = folder_bytes(project / "data")
    result = runner.invoke(app, ["--log-format", "json", "daily", "--config", str(config)])
    assert result.exit_code == 1, result.output
    summary = json.loads((project / "reports" / "summary.json").read_text())
    statuses = {step["name"]: step["status"] for step in summary["steps"]}
    assert statuses == {
        "import": OK, "validate": FAILED, "retrain": NOT_RUN, "score": NOT_RUN,
        "snapshot": NOT_RUN, "report": NOT_RUN, "monitor": NOT_RUN,
    }  # fmt: skip
    assert summary["failure"]["kind"] == "bad data" and "payments" in summary["failure"]["message"]
    assert folder_bytes(project / "data") == before  # the refused export never replaced it
    assert (project / ".data.incoming" / "payments.csv").is_file()  # kept for a look
    assert "stopped at validate (bad data, exit 1)" in result.stdout
    assert "what to do: fix the export" in result.stdout

    # The log on stderr: one JSON object a line, each with its command and step.
    records = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    assert records and all(r["command"] == "daily" for r in records)
    assert {"time", "level", "step", "logger", "message"} <= set(records[0])
    failed = [r for r in records if r["level"] == "ERROR"]
    assert failed and failed[0]["step"] == "daily/validate"


def test_a_good_export_replaces_the_data_and_no_model_is_a_model_failure(project, small_data):
    """The night's payments join a data directory of invoices only once valid; without any
    model the run stops at score (exit 3). Under `--report-json -` stdout holds the summary
    alone and no progress line is written."""
    export = payments_export(small_data, project / "export.csv")
    (project / "data").mkdir()
    (project / "data" / "invoices.csv").write_bytes((small_data / "invoices.csv").read_bytes())
    config = night_config(project, small_data, export)
    result = runner.invoke(app, ["daily", "--config", str(config), "--report-json", "-"])
    assert result.exit_code == 3, result.output
    summary = json.loads(result.stdout)
    statuses = [(step["name"], step["status"]) for step in summary["steps"]]
    assert statuses[:4] == [
        ("import", OK),
        ("validate", OK),
        ("retrain", SKIPPED),
        ("score", FAILED),
    ]
    assert (
        summary["failure"]["kind"] == "model" and "train one first" in summary["failure"]["message"]
    )
    assert (project / "data" / "payments.csv").is_file()
    assert not (project / ".data.incoming").exists()
    assert summary["serving"] is None  # nothing served yet, and nothing half-written
    assert "started" not in result.stderr and "elapsed" not in result.stderr


def test_a_retrain_verdict_of_monitoring_makes_the_next_run_retrain(project, monkeypatch):
    """`payrisk monitor`'s verdict (a stand-in here: the real one runs in the slow nightly test)
    lands in the summary, and `retrain` is asked of the next night."""
    import pipelines.daily
    from pipelines.daily import monitor

    calls = []

    def run_monitoring(catalog, data_dir, as_of, out):
        calls.append((data_dir, as_of, out))
        return {"verdict": "retrain", "reasons": ["late ROC AUC 0.70, was 0.88"], "drift": {}}

    monkeypatch.setattr(pipelines.daily, "run_monitoring", run_monitoring)
    config = DailyConfig(data_dir=project / "data", reports_dir=project / "reports")
    summary = run_daily(config, Catalog(load_settings()), steps=(("monitor", monitor),))
    step = summary["steps"][0]
    assert step["status"] == OK and step["outputs"]["verdict"] == "retrain"
    assert calls == [(project / "data", None, project / "reports" / "monitoring.json")]
    assert summary["retrain_requested"] is True

    import pipelines.training
    from pipelines.daily import retrain_if_due

    trained = []

    def train(catalog, data_dir, as_of, report_json):
        trained.append(data_dir)
        return {"registry": {"version": "2", "alias": "challenger", "reason": "not better"}}

    monkeypatch.setattr(pipelines.training, "train", train)
    config = config.model_copy(update={"retrain": RetrainSettings(every_days=None)})
    summary = run_daily(config, Catalog(load_settings()), steps=(("retrain", retrain_if_due),))
    outputs = summary["steps"][0]["outputs"]
    assert trained == [project / "data"] and "monitoring" in outputs["why"]
    assert outputs["alias"] == "challenger" and outputs["restart_service"] is False


def test_a_lock_file_that_cannot_be_made_is_a_disk_failure(project, small_data, monkeypatch):
    import pipelines.daily

    def forbidden(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(pipelines.daily, "run_lock", forbidden)
    config = night_config(project, small_data, None)
    refused = runner.invoke(app, ["daily", "--config", str(config)])
    assert refused.exit_code == 4, refused.output
    assert "Permission denied" in refused.output and "fix the rights" in refused.output
    assert "Traceback" not in refused.output
