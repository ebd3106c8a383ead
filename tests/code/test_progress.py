"""Progress of long work: a live bar on a pseudo-terminal, plain log lines when piped, nothing
with --quiet; counts and time left; the step named on every log line."""

from __future__ import annotations

import logging
import os
import select
import subprocess
import time
from pathlib import Path

import pytest

from payrisk.core import progress
from payrisk.core.logs import current_step
from tests.processes import command, environment

BAR = "\u2501"  # rich's bar character


def terminal_environment() -> dict[str, str]:
    return environment(TERM="xterm", COLUMNS="120")


def on_a_terminal(args: list[str], timeout: float = 120) -> tuple[int, str]:
    """Run `args` with stdout and stderr on a pseudo-terminal; its exit code and output."""
    leader, follower = os.openpty()
    child = subprocess.Popen(
        args, stdin=follower, stdout=follower, stderr=follower, env=terminal_environment()
    )
    os.close(follower)
    output, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(leader, 1 << 16)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        elif child.poll() is not None:
            break
    os.close(leader)
    return child.wait(timeout=10), output.decode("utf-8", "replace")


def generate(out: Path, *options: str) -> list[str]:
    return command(*options, "generate", "--out", str(out), "--customers", "20", "--years", "1")


def test_a_terminal_shows_a_bar_with_counts_and_the_result_after_it(tmp_path):
    code, output = on_a_terminal(generate(tmp_path / "data"))
    assert code == 0, output
    assert BAR in output and "generate" in output and "2/2" in output
    assert output.rstrip().endswith(f"to {tmp_path / 'data'}")  # the result, below the bars


def test_piped_output_gets_plain_lines_and_quiet_gets_none(tmp_path):
    piped = subprocess.run(
        generate(tmp_path / "a"), capture_output=True, text=True, env=environment(), timeout=120
    )
    assert piped.returncode == 0, piped.stderr
    assert BAR not in piped.stderr and "\x1b[" not in piped.stderr
    assert " generate [generate] payrisk.progress: generate: started (2)" in piped.stderr
    assert "[generate/write the tables] payrisk.progress: write the tables: ended" in piped.stderr

    quiet = generate(tmp_path / "b", "--quiet")
    code, output = on_a_terminal(quiet)
    assert code == 0, output
    assert BAR not in output and "payrisk.progress" not in output
    assert "wrote invoices.csv" in output


def test_time_left_is_the_pace_so_far_times_what_is_left():
    task = progress.Task("fit", 4, progress.QUIET, done=1, started=time.monotonic() - 30)
    assert 89 < task.left < 91
    assert progress.describe(task).startswith("fit: 1/4 (25%), 30 s elapsed, about 1 min 30 s left")
    assert progress.Task("load", None, progress.QUIET).left is None
    assert [progress.duration(s) for s in (4.4, 125, 3780)] == ["4 s", "2 min 05 s", "1 h 03 min"]


def test_sub_steps_count_on_their_step_and_name_the_log_step(caplog):
    display = progress.PlainDisplay(interval=0.05)
    seen = []
    with (
        caplog.at_level(logging.INFO, "payrisk.progress"),
        progress.installed(display),
        progress.steps("train", 2) as stage,
    ):
        with stage("fit"):
            seen.append(current_step())
            time.sleep(0.2)  # long enough for a few heartbeats
        with stage("gate"):
            seen.append(current_step())
    assert seen == ["train/fit", "train/gate"]
    messages = [r.getMessage() for r in caplog.records]
    assert "train: started (2)" in messages
    assert any(m.startswith("train: 0/2 (0%)") for m in messages)  # a heartbeat while fitting
    assert any(m.startswith("fit, ") and "elapsed" in m for m in messages)
    fit = next(r for r in caplog.records if r.getMessage() == "fit: started")
    assert fit.step == "train/fit" and fit.command == "-"
    assert not display.thread.is_alive()  # closed with the command


def test_the_log_level_comes_from_the_settings_and_text_lines_carry_command_and_step(
    tmp_path, monkeypatch
):
    from typer.testing import CliRunner

    from payrisk.cli import app

    args = ["generate", "--out", str(tmp_path / "x"), "--customers", "5", "--years", "1"]
    monkeypatch.delenv("PAYRISK_LOG_FORMAT", raising=False)
    monkeypatch.setenv("PAYRISK_LOG_LEVEL", "info")
    shown = CliRunner().invoke(app, args)
    assert shown.exit_code == 0, shown.output
    line = next(x for x in shown.stderr.splitlines() if "write the tables: started" in x)
    stamp, level, name, rest = line.split(" ", 3)
    assert stamp.endswith("Z") and (level, name) == ("INFO", "generate")
    assert rest.startswith("[generate/write the tables] payrisk.progress: ")
    monkeypatch.setenv("PAYRISK_LOG_LEVEL", "WARNING")
    quiet = CliRunner().invoke(app, args)
    assert quiet.exit_code == 0 and quiet.stderr == ""
    monkeypatch.setenv("PAYRISK_LOG_LEVEL", "LOUD")
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "PAYRISK_LOG_LEVEL" in refused.output


@pytest.mark.slow  # starts a Dask cluster
def test_a_dask_run_says_where_its_dashboard_is(caplog):
    from payrisk.core.config import ComputeSettings
    from payrisk.scaleout.dask import dask_cluster

    settings = ComputeSettings(backend="dask", workers=1, threads_per_worker=1)
    with caplog.at_level(logging.INFO, "payrisk.dask"), dask_cluster(settings):
        pass
    line = next(r.getMessage() for r in caplog.records if r.name == "payrisk.dask")
    assert line.startswith("Dask scheduler tcp://")
    assert "dashboard at http://" in line or "metrics at http://" in line
