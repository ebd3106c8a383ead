"""`payrisk daily`: the nightly run, one lock, one summary.

import -> validate -> retrain (on schedule, on demand or when the last run's monitoring asked) ->
score -> snapshot -> report -> monitor. The steps are data (`STEPS`): each is a function of the
run that returns its outputs, or raises `Skipped`. The first failure stops the run; nothing a
later step would replace is touched, so the service keeps its last good snapshot (the snapshot and
its bundle are replaced together, only once both are written: `Catalog.save_snapshot`) and the
data directory keeps the last data that passed validation (the night's exports are imported into
a copy, which replaces it only once valid). The summary (JSON, written atomically) says what each
step did, how long it took, what it wrote, and on failure what kind it was and what to do; the
same goes to MLflow as one run.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from payrisk.core import progress
from payrisk.core.config import ConfigError
from payrisk.core.daily import DailyConfig
from payrisk.core.storage import WRITE_FAILURES, promote_directory, write_json
from payrisk.data.importer import ExportImportError, import_export
from payrisk.data.loading import DataFileError, Dataset, read_tables, to_dataset
from payrisk.data.validation import DataValidationError, validate_tables
from payrisk.features.declared import DeclaredFeatureError
from payrisk.features.snapshot import SnapshotError
from payrisk.models.gate import CHAMPION
from payrisk.models.monitoring import MonitoringDataError
from payrisk.models.training import InsufficientHistoryError
from pipelines.catalog import Catalog, DailyPaths, ModelUnavailableError, RegistryUnusableError
from pipelines.monitoring import monitor_dataset, run_monitoring
from pipelines.scoring import ScoringRun, save_run_snapshot, score_dataset, write_scores

log = logging.getLogger("payrisk.daily")

OK, FAILED, SKIPPED, NOT_RUN = "ok", "failed", "skipped", "not run"


@dataclass(frozen=True)
class FailureKind:
    """A kind of failure: its exit code and what the operator does about it."""

    name: str
    exit_code: int
    advice: str


DATA = FailureKind(
    "bad data",
    1,
    "fix the export (the message names the file, rule and lines) and run again; the data "
    "directory still holds the last data that passed",
)
CONFIG = FailureKind(
    "configuration", 2, "fix the setting the message names (a config file or variable)"
)
MODEL = FailureKind(
    "model",
    3,
    "check the model registry (MLFLOW_TRACKING_URI) and the models folder, or train one: "
    "payrisk train --data DIR",
)
DISK = FailureKind(
    "disk",
    4,
    "free space or fix the rights on the folder the message names, then run again; nothing "
    "was half-written",
)
LOCKED = FailureKind(
    "locked",
    5,
    "another run is still going: wait for it to end; if it hangs, stop it by its pid "
    "(kill PID) and run again (the lock of a dead run is taken over)",
)
UNEXPECTED = FailureKind(
    "unexpected",
    6,
    "a bug: the log has the traceback; report it. Run again once fixed",
)
FAILURE_KINDS = (DATA, CONFIG, MODEL, DISK, LOCKED, UNEXPECTED)


class Skipped(Exception):  # noqa: N818 (a step's outcome, not an error)
    """A step that had nothing to do; the message says why."""


class DailyLockedError(RuntimeError):
    """Another nightly run holds the lock."""


def failure_kind(error: BaseException, step: str) -> FailureKind:
    """What kind of failure `error` is, for its exit code and advice."""
    if isinstance(
        error,
        DataValidationError
        | DataFileError
        | ExportImportError
        | DeclaredFeatureError
        | InsufficientHistoryError,
    ):
        return DATA
    if isinstance(error, ModelUnavailableError | RegistryUnusableError | SnapshotError):
        return MODEL
    if isinstance(error, ConfigError):
        return CONFIG
    if isinstance(error, FileNotFoundError) and step in ("import", "validate"):
        return DATA  # the night's export did not land
    if isinstance(error, OSError) and (error.errno in WRITE_FAILURES or error.errno == errno.EIO):
        return DISK
    if type(error).__module__.startswith("mlflow"):
        return MODEL
    return UNEXPECTED


@contextmanager
def run_lock(path: Path) -> Iterator[dict | None]:
    """Hold `path` exclusively for the block (flock: the kernel frees it when its process
    dies, however it dies); DailyLockedError names the holder. Yields what a run that died
    holding it had written (pid, start), or None. The file stays, emptied, at the end."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(descriptor) or {}
            raise DailyLockedError(
                f"another payrisk daily holds {path} (pid {holder.get('pid', '?')}, started "
                f"{holder.get('started', '?')}): this run did nothing"
            ) from None
        previous = _lock_holder(descriptor)
        os.ftruncate(descriptor, 0)
        stamp = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
        os.pwrite(descriptor, json.dumps({"pid": os.getpid(), "started": stamp}).encode(), 0)
        try:
            yield previous
        finally:
            os.ftruncate(descriptor, 0)
    finally:
        os.close(descriptor)  # releases the lock


def _lock_holder(descriptor: int) -> dict | None:
    raw = os.pread(descriptor, 4096, 0)
    try:
        holder = json.loads(raw) if raw else None
    except ValueError:
        return None
    return holder if isinstance(holder, dict) else None


@dataclass
class StepResult:
    name: str
    status: str
    seconds: float = 0.0
    outputs: dict = field(default_factory=dict)
    message: str | None = None


@dataclass
class NightRun:
    """What the steps share: the settings of the run and what earlier steps produced."""

    config: DailyConfig
    catalog: Catalog
    paths: DailyPaths
    retrain_on_demand: bool
    now: pd.Timestamp
    previous_summary: dict | None
    incoming: Path | None = None  # the staged data directory while it awaits validation
    dataset: Dataset | None = None
    scoring: ScoringRun | None = None
    retrain_requested: bool = False  # by monitoring, for the next run

    @property
    def as_of(self) -> str | None:
        return self.config.as_of.isoformat() if self.config.as_of else None


# --- the steps ----------------------------------------------------------------------------------


def import_exports(run: NightRun) -> dict:
    """The night's exports into a copy of the data directory (the data directory itself is
    replaced only after validation)."""
    if not run.config.imports:
        raise Skipped("no exports configured: the data directory is read as it is")
    staging, data_dir = run.paths.staging_dir, run.paths.data_dir
    if staging.exists():
        shutil.rmtree(staging)  # a refused night's data, kept until now for a look
    if data_dir.is_dir():
        shutil.copytree(data_dir, staging)
    else:
        staging.mkdir(parents=True)
    written = []
    for item in run.config.imports:
        written.append(import_export(item.export, item.mapping, staging, overwrite=True).name)
    run.incoming = staging
    return {"tables": written, "staged_in": str(staging)}


def validate_data(run: NightRun) -> dict:
    """The contract's rules on the data to score; the staged copy replaces the data directory
    only if every rule passes."""
    folder = run.incoming or run.paths.data_dir
    tables = read_tables(folder)
    report = validate_tables(tables)
    report.raise_for_failures()
    run.dataset = to_dataset(tables)
    if run.incoming is not None:
        promote_directory(run.incoming, run.paths.data_dir)
        run.incoming = None
    return {
        "data_dir": str(run.paths.data_dir),
        "invoices": len(run.dataset.invoices),
        "customers": int(run.dataset.invoices["customer_id"].nunique()),
    }


def retrain_due(
    last_registered: pd.Timestamp | None,
    now: pd.Timestamp,
    every_days: int | None,
    on_demand: bool,
    requested_by_monitoring: bool,
) -> str | None:
    """Why the models are retrained tonight, or None if they are not."""
    if on_demand:
        return "asked for (--retrain)"
    if requested_by_monitoring:
        return "asked for by the last run's monitoring"
    if every_days is None:
        return None
    if last_registered is None:
        return "no model registered yet"
    age = (now - last_registered) / pd.Timedelta(days=1)
    if age >= every_days:
        return f"newest model registered {age:.1f} days ago (every {every_days} days)"
    return None


def retrain_if_due(run: NightRun) -> dict:
    every = run.config.retrain.every_days
    last = run.catalog.last_registered()
    requested = bool((run.previous_summary or {}).get("retrain_requested"))
    why = retrain_due(last, run.now, every, run.retrain_on_demand, requested)
    if why is None:
        if every is None:
            raise Skipped("not scheduled (retrain.every_days is null; --retrain to ask)")
        next_day = (last + pd.Timedelta(days=every)).date().isoformat() if last else "?"
        raise Skipped(f"newest model is under {every} days old: next retraining on {next_day}")
    from pipelines.training import train  # heavy: only when training

    log.info("retraining: %s", why)
    report = train(run.catalog, run.paths.data_dir, run.as_of, run.paths.train_report)
    registry = report.get("registry", {})
    promoted = registry.get("alias") == CHAMPION
    if promoted:
        log.warning(
            "the champion is now v%s: restart the service so that it serves it (a running "
            "service keeps its model and refuses a snapshot of another one)",
            registry.get("version"),
        )
    return {
        "why": why,
        "version": registry.get("version"),
        "alias": registry.get("alias"),
        "gate": registry.get("reason"),
        "restart_service": promoted,
        "train_report": str(run.paths.train_report),
    }


def score_portfolio(run: NightRun) -> dict:
    """Score and plan every open invoice once; the snapshot and the report reuse it."""
    if run.dataset is None:
        raise RuntimeError("score needs the validated data")
    run.scoring = score_dataset(run.catalog, run.dataset, run.as_of)
    written = write_scores(run.scoring, run.paths.scores)
    return {
        "as_of": run.scoring.as_of.date().isoformat(),
        "open_invoices": len(run.scoring.portfolio.invoices),
        "model_version": run.scoring.loaded.version,
        "model_source": run.scoring.loaded.source,
        "files": [str(path) for path in written],
    }


def write_service_snapshot(run: NightRun) -> dict:
    if run.scoring is None:
        raise RuntimeError("snapshot needs the scoring")
    path = save_run_snapshot(run.catalog, run.scoring, run.paths.data_dir)
    return {"snapshot": str(path), "bundle": str(run.catalog.portfolio_dir(path))}


def write_email_report(run: NightRun) -> dict:
    from payrisk.core.storage import write_text
    from pipelines.report import report_html

    if run.scoring is None:
        raise RuntimeError("report needs the scoring")
    html = report_html(run.catalog, run.scoring, language=run.config.language)
    write_text(run.paths.report, html)
    return {"report": str(run.paths.report)}


def monitor(run: NightRun) -> dict:
    """`payrisk monitor` on tonight's data: its report beside the others, and its verdict here;
    a verdict of `retrain` makes the next run retrain. Data too thin to monitor skips the step:
    the night's work stands."""
    out = run.paths.reports_dir / "monitoring.json"
    try:
        if run.dataset is None or run.scoring is None:  # a night of steps chosen by hand
            report = run_monitoring(run.catalog, run.paths.data_dir, run.as_of, out)
        else:  # tonight's ledger and model, as validated and scored
            scored = run.scoring
            name = run.paths.data_dir.name
            report = monitor_dataset(
                run.catalog, run.dataset, scored.loaded, name, scored.as_of, out
            )
    except MonitoringDataError as error:
        raise Skipped(f"nothing to monitor: {error}") from None
    verdict = report.get("verdict")
    run.retrain_requested = verdict == "retrain"
    return {
        "verdict": verdict,
        "reasons": list(report.get("reasons", []))[:5],
        "report": str(out),
        "retrain_requested": run.retrain_requested,
    }


Step = tuple[str, Callable[[NightRun], dict]]
STEPS: tuple[Step, ...] = (
    ("import", import_exports),
    ("validate", validate_data),
    ("retrain", retrain_if_due),
    ("score", score_portfolio),
    ("snapshot", write_service_snapshot),
    ("report", write_email_report),
    ("monitor", monitor),
)


# --- the run ------------------------------------------------------------------------------------


def _utc_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def _read_summary(path: Path) -> dict | None:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return summary if isinstance(summary, dict) else None


def run_steps(
    run: NightRun,
    steps: tuple[Step, ...] = STEPS,
    on_step: Callable[[StepResult], None] | None = None,
) -> tuple[list[StepResult], FailureKind | None]:
    """Each step in order until one fails; the rest are `not run`."""
    results: list[StepResult] = []
    failure: FailureKind | None = None
    with progress.steps("daily", len(steps)) as stage:
        for name, function in steps:
            if failure is not None:
                results.append(StepResult(name, NOT_RUN))
                continue
            started = time.monotonic()
            with stage(name):
                try:
                    result = StepResult(name, OK, outputs=function(run))
                except Skipped as skipped:
                    result = StepResult(name, SKIPPED, message=str(skipped))
                except Exception as error:
                    failure = failure_kind(error, name)
                    result = StepResult(name, FAILED, message=str(error) or type(error).__name__)
                    log.error(
                        "%s failed (%s, exit %d)",
                        name,
                        failure.name,
                        failure.exit_code,
                        exc_info=failure is UNEXPECTED,
                    )
            result.seconds = round(time.monotonic() - started, 2)
            if result.status != FAILED:
                log.info("%s: %s in %.1f s", name, result.status, result.seconds)
            results.append(result)
            if on_step is not None:
                on_step(result)
    return results, failure


def run_daily(
    config: DailyConfig,
    catalog: Catalog,
    retrain: bool = False,
    on_step: Callable[[StepResult], None] | None = None,
    steps: tuple[Step, ...] = STEPS,
) -> dict:
    """The nightly run; returns its summary (also written to the reports folder and MLflow).
    DailyLockedError, before anything is done, if another run holds the lock."""
    paths = catalog.daily_paths(config.data_dir, config.reports_dir, config.lock_file)
    with run_lock(paths.lock) as stale:
        if stale is not None:
            log.warning(
                "took over the lock of a run that died (pid %s, started %s)",
                stale.get("pid", "?"),
                stale.get("started", "?"),
            )
        started = _utc_now()
        run_id = f"{started.strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}"
        run = NightRun(config, catalog, paths, retrain, started, _read_summary(paths.summary))
        results, failure = run_steps(run, steps, on_step)
        summary = build_summary(run_id, started, _utc_now(), run, results, failure)
        summary["mlflow_run_id"] = log_to_mlflow(catalog, config, summary)
        try:
            write_summary(paths, run_id, summary)
        except OSError as error:  # the run's work stands; its record could not be kept
            log.error("the summary could not be written: %s", error.strerror or error)
            if summary["exit_code"] == 0:
                summary.update(status=FAILED, exit_code=DISK.exit_code, failed_step="summary")
                summary["failure"] = {
                    "kind": DISK.name, "message": str(error), "advice": DISK.advice,
                }  # fmt: skip
    return summary


def build_summary(
    run_id: str,
    started: pd.Timestamp,
    finished: pd.Timestamp,
    run: NightRun,
    results: list[StepResult],
    failure: FailureKind | None,
) -> dict:
    failed = next((r for r in results if r.status == FAILED), None)
    return {
        "run_id": run_id,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "seconds": round((finished - started).total_seconds(), 1),
        "status": OK if failure is None else FAILED,
        "exit_code": 0 if failure is None else failure.exit_code,
        "failed_step": failed.name if failed else None,
        "failure": None
        if failure is None or failed is None
        else {"kind": failure.name, "message": failed.message, "advice": failure.advice},
        "steps": [asdict(result) for result in results],
        # What the service serves after this run: tonight's snapshot, or the last good one.
        "serving": run.catalog.serving_snapshot(),
        "retrain_requested": run.retrain_requested,
        "data_dir": str(run.paths.data_dir),
        "reports_dir": str(run.paths.reports_dir),
    }


def write_summary(paths: DailyPaths, run_id: str, summary: dict) -> Path:
    """This run's summary (runs/<run id>.json) and the latest one (summary.json), atomically."""
    write_json(paths.run_summary(run_id), summary)
    write_json(paths.summary, summary)
    return paths.summary


def log_to_mlflow(catalog: Catalog, config: DailyConfig, summary: dict) -> str | None:
    """One MLflow run: status tags, each step's seconds as a metric, the summary as artifact.
    A tracking store that cannot be written is logged, not fatal: the summary file is the
    record."""
    import mlflow

    from pipelines import tracking

    try:
        experiment_id = tracking.setup(catalog.tracking_uri, config.experiment)
        name = f"daily {summary['started'][:10]} {summary['status']}"
        with mlflow.start_run(experiment_id=experiment_id, run_name=name) as tracked:
            mlflow.set_tags(
                {
                    "status": summary["status"],
                    "exit_code": summary["exit_code"],
                    "failed_step": summary["failed_step"] or "none",
                }
            )
            mlflow.log_metrics(
                {
                    f"{step['name']}_seconds": step["seconds"]
                    for step in summary["steps"]
                    if step["status"] != NOT_RUN
                }
                | {"total_seconds": summary["seconds"]}
            )
            mlflow.log_dict(summary, "summary.json")
            return tracked.info.run_id
    except Exception as error:
        log.warning("the run could not be logged to MLflow (%s)", type(error).__name__)
        return None


def step_line(result: StepResult) -> str:
    """One console line per step: name, outcome, seconds, and what it wrote or why."""
    detail = result.message or ", ".join(
        f"{key} {value}" for key, value in result.outputs.items() if not isinstance(value, list)
    )
    detail = detail.splitlines()[0] if detail else ""
    return f"{result.name:<9} {result.status:<8} {result.seconds:>7.1f} s  {detail}".rstrip()
