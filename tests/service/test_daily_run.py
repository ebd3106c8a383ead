"""`payrisk daily` on the trained sample: a whole night writes every output and its summary while
a second run is refused by the lock; a bad export stops at validate while a real `payrisk serve`
keeps serving the last good snapshot."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
from typer.testing import CliRunner

from payrisk.cli import app
from payrisk.models.monitoring import VERDICTS
from tests.code.test_daily import night_config, payments_export
from tests.conftest import AUTH, TrainedProject
from tests.processes import command, environment

pytestmark = pytest.mark.slow  # a real server, a child process, a whole night's scoring

STEPS = ("import", "validate", "retrain", "score", "snapshot", "report", "monitor")


def wait_for_holder(lock: Path, child: subprocess.Popen, timeout: float = 120) -> int:
    """The pid the lock file names once `child` holds it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = lock.read_text() if lock.exists() else ""
        if text:
            return json.loads(text)["pid"]
        assert child.poll() is None, "the first run ended before it took the lock"
        time.sleep(0.05)
    raise AssertionError("the first run never took the lock")


def test_a_night_writes_every_output_and_a_second_run_is_refused(
    trained: TrainedProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    export = payments_export(trained.data_dir, tmp_path / "export.csv")
    config = night_config(
        tmp_path, trained.data_dir, export,
        retrain={"every_days": 30}, train_config=str(trained.config_path),
        lock_file=str(tmp_path / "daily.lock"), experiment="nightly",
    )  # fmt: skip
    snapshot = tmp_path / "models" / "snapshot" / "customer_history.npz"
    env = {**trained.env, "PAYRISK_SNAPSHOT": str(snapshot)}
    first = subprocess.Popen(
        command("daily", "--config", str(config)),
        cwd=tmp_path, env=environment(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    holder = wait_for_holder(tmp_path / "daily.lock", first)
    assert holder == first.pid

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    second = CliRunner().invoke(app, ["daily", "--config", str(config)])
    assert first.poll() is None, "the first run ended: the refusal proves nothing"
    assert second.exit_code == 5, second.output
    assert f"pid {first.pid}" in second.output

    stdout, stderr = first.communicate(timeout=600)
    assert first.returncode == 0, stderr
    lines = stdout.splitlines()
    assert [line.split()[0] for line in lines[: len(STEPS)]] == list(STEPS)
    assert lines[-1].startswith("daily: done in") and "reports/summary.json" in lines[-1]

    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    statuses = {step["name"]: step["status"] for step in summary["steps"]}
    assert statuses == {name: "ok" for name in STEPS} | {"retrain": "skipped"}
    outputs = {step["name"]: step for step in summary["steps"]}
    monitored = json.loads((tmp_path / "reports" / "monitoring.json").read_text())
    assert outputs["monitor"]["outputs"]["verdict"] == monitored["verdict"] in VERDICTS
    assert "under 30 days old" in outputs["retrain"]["message"]
    assert outputs["import"]["outputs"]["tables"] == ["payments.csv"]
    reports = tmp_path / "reports"
    scores = pd.read_csv(reports / "scores.csv")
    assert len(scores) == outputs["score"]["outputs"]["open_invoices"] > 0
    assert (reports / "scores.customers.csv").stat().st_size > 0
    assert "<html" in (reports / "report.html").read_text()[:500].lower()
    kpis = json.loads((snapshot.parent / "portfolio" / "kpis.json").read_text())
    assert summary["serving"]["snapshot_id"] == kpis["snapshot_id"]
    assert summary["serving"]["as_of"] == outputs["score"]["outputs"]["as_of"]
    assert (reports / "runs" / f"{summary['run_id']}.json").is_file()

    client = mlflow.MlflowClient(trained.env["MLFLOW_TRACKING_URI"])
    run = client.get_run(summary["mlflow_run_id"])
    assert run.data.tags["status"] == "ok"
    assert {f"{name}_seconds" for name in STEPS} <= set(run.data.metrics)
    assert "summary.json" in {item.path for item in client.list_artifacts(run.info.run_id)}


def test_a_bad_export_stops_at_validate_while_the_service_keeps_serving(
    server: str, trained: TrainedProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    served = Path(trained.env["PAYRISK_SNAPSHOT"])
    before = served.read_bytes()
    status = httpx.post(f"{server}/v1/status", headers=AUTH, timeout=30).json()
    export = payments_export(trained.data_dir, tmp_path / "export.csv", unknown_invoice=True)
    config = night_config(
        tmp_path, trained.data_dir, export, train_config=str(trained.config_path),
        lock_file=str(tmp_path / "daily.lock"),
    )  # fmt: skip
    for key, value in trained.env.items():  # the served snapshot is the one a run would replace
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(app, ["daily", "--config", str(config)])

    assert result.exit_code == 1, result.output
    assert "stopped at validate (bad data, exit 1)" in result.output
    assert f"serves the snapshot of {status['snapshot_as_of']}" in result.output
    assert served.read_bytes() == before
    after = httpx.post(f"{server}/v1/status", headers=AUTH, timeout=30).json()
    assert after["snapshot_as_of"] == status["snapshot_as_of"] and not after["snapshot_problem"]
    worklist = httpx.post(f"{server}/v1/worklist", json={}, headers=AUTH, timeout=30)
    assert worklist.status_code == 200 and worklist.json()["items"]
