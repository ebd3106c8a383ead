"""The `payrisk` command line: thin commands over the pipelines.

Every command validates its inputs first; a user error prints a readable message and exits 1 (data
refused) or 2 (bad usage or configuration), never a traceback.
"""

from __future__ import annotations

import errno
import json
import os
import stat

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
# MLflow would put a handler of its own on its logger, in its own format, before ours.
os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from payrisk.core.config import ConfigError
from payrisk.core.storage import WRITE_FAILURES, check_table_path
from payrisk.data.loading import DataFileError

app = typer.Typer(
    name="payrisk",
    help="Payment-risk scoring for accounts receivable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_DATA_REFUSED = 1
EXIT_USAGE = 2


TrainConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Training config (default: $PAYRISK_TRAIN_CONFIG, else the shipped train.yaml); "
        "its registry.model_name names the model to use.",
    ),
]
DunningConfigOption = Annotated[
    Path | None,
    typer.Option(help="Dunning policy (default: $PAYRISK_DUNNING_CONFIG, else the shipped one)."),
]


STDOUT = Path("-")  # `--report-json -`: the report on stdout, nothing else there


@app.callback()
def main(
    ctx: typer.Context,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress display (logs and results stay).")
    ] = False,
    log_format: Annotated[
        str | None,
        typer.Option(
            help="Log lines (stderr) as text or json, one object a line. Default: "
            "$PAYRISK_LOG_FORMAT, else text; the level is $PAYRISK_LOG_LEVEL (INFO)."
        ),
    ] = None,
) -> None:
    """Payment-risk scoring for accounts receivable.

    Long commands show their steps: a progress bar on a terminal, a plain log line now and then
    otherwise (cron, CI); --quiet and --report-json - show none.
    """
    from payrisk.core import logs, progress
    from payrisk.core.settings import load_settings
    from payrisk.serving.logs import SafeLogFilter

    if log_format is not None and log_format not in logs.LOG_FORMATS:
        raise typer.BadParameter("use text or json", param_hint="--log-format")
    try:
        settings = load_settings()
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    uninstall = logs.install(
        settings.log_level, log_format or settings.log_format, (SafeLogFilter(),)
    )
    ctx.call_on_close(uninstall)
    ctx.with_resource(logs.command_context(ctx.invoked_subcommand or "-"))
    ctx.with_resource(progress.installed(display_for(quiet)))


def display_for(quiet: bool):
    """Nothing when quiet; a live bar on a terminal; plain log lines now and then otherwise."""
    from rich.console import Console

    from payrisk.core import progress

    if quiet:
        return progress.Display()
    if Console(stderr=True).is_terminal:
        return progress.TerminalDisplay()
    return progress.PlainDisplay()


@contextmanager
def report_on_stdout(report_json: Path | None) -> Iterator[bool]:
    """Under `--report-json -` no progress is shown and the caller prints only the report:
    yields whether that is so."""
    from payrisk.core import progress

    if report_json != STDOUT:
        yield False
        return
    with progress.installed(progress.Display()):
        yield True


def print_json(report: dict) -> None:
    typer.echo(json.dumps(report, indent=2, sort_keys=True, default=str))


def catalog_for(config: Path | None = None, dunning_config: Path | None = None):
    """The settings, read once for this command, and the catalog of its artifacts."""
    from payrisk.core.settings import load_settings
    from pipelines.catalog import Catalog

    return Catalog(load_settings(), train_config_path=config, dunning_config_path=dunning_config)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the errors a user can fix into a message and an exit code."""
    from payrisk.data.importer import ExportImportError
    from payrisk.data.validation import DataValidationError
    from payrisk.features.declared import DeclaredFeatureError
    from payrisk.models.training import InsufficientHistoryError

    try:
        yield
    except DataValidationError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(EXIT_DATA_REFUSED) from None
    except (
        DataFileError,
        ExportImportError,
        InsufficientHistoryError,
        DeclaredFeatureError,
    ) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_DATA_REFUSED) from None
    except FileNotFoundError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except (ConfigError, FileExistsError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except OSError as error:
        if error.errno not in WRITE_FAILURES:
            raise
        # A full disk, a read-only or forbidden folder: what was being replaced is untouched
        # (every artifact is written under a temporary name, then renamed).
        where = f" ({Path(error.filename).name})" if error.filename else ""
        typer.echo(
            f"error: could not write{where}: {error.strerror}; nothing was replaced", err=True
        )
        raise typer.Exit(EXIT_DATA_REFUSED) from None


def _run(action: Callable[[], None]) -> None:
    with user_errors():
        action()


def _as_of_option(value: str | None) -> str | None:
    return _day(value, "--as-of")


def _day(value: str | None, option: str) -> str | None:
    """`value` if it is a YYYY-MM-DD date (or None), else a usage error naming `option`."""
    if value is None:
        return None
    try:
        date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date in YYYY-MM-DD", param_hint=option
        ) from None
    return value


AsOf = Annotated[
    str | None,
    typer.Option(
        callback=_as_of_option,
        help="YYYY-MM-DD (start of day: what was known before it). Default: day after last event.",
    ),
]


Dask = Annotated[
    bool | None,
    typer.Option(
        "--dask/--local",
        help="Run on Dask (partitions by customer) or in this process. "
        "Default: compute.backend in configs/train.yaml.",
    ),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        help="Dask scheduler address (tcp://host:8786); implies --dask. Default: "
        "compute.scheduler_address, then $DASK_SCHEDULER_ADDRESS, else a local cluster.",
    ),
]
Partitions = Annotated[
    int | None, typer.Option(min=1, help="Customer partitions on Dask. Default: from the config.")
]


def _compute(dask: bool | None, scheduler: str | None, partitions: int | None):
    from payrisk.scaleout.dask import ComputeOverrides

    return ComputeOverrides(dask=dask, scheduler_address=scheduler, partitions=partitions)


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the sample data directory to.")],
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 500,
    years: Annotated[float, typer.Option(min=0.25, max=30, help="Years of history.")] = 3.0,
    seed: Annotated[
        int, typer.Option(min=0, max=2**32 - 1, help="Random seed: same seed, same history.")
    ] = 42,
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
) -> None:
    """Write a realistic synthetic payment history (invoices, payments, customers, reminders)."""
    from pipelines.data import generate_sample

    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter("use csv or parquet", param_hint="--format")

    def action() -> None:
        written = generate_sample(out, customers=customers, years=years, seed=seed, fmt=fmt)
        typer.echo(f"wrote {', '.join(p.name for p in written)} to {out}")

    _run(action)


@app.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="The ERP / accounting export (CSV or XLSX).")],
    mapping: Annotated[Path, typer.Option(help="Mapping file, see configs/mapping.example.yaml.")],
    out: Annotated[Path, typer.Option(help="Data directory to write the contract table into.")],
    overwrite: Annotated[bool, typer.Option(help="Replace the table if it exists.")] = False,
) -> None:
    """Convert an export into a contract table using a mapping file."""
    from payrisk.data.importer import import_export

    def action() -> None:
        written = import_export(source, mapping, out, overwrite=overwrite)
        typer.echo(f"wrote {written}")

    _run(action)


@app.command()
def validate(
    data: Annotated[Path, typer.Argument(help="Data directory (invoices, payments, ...).")],
) -> None:
    """Check a data directory against the data contract; exit 1 if any rule fails."""
    from pipelines.data import check_data

    def action() -> None:
        report = check_data(data)
        typer.echo(report.render())
        if not report.success:
            raise typer.Exit(EXIT_DATA_REFUSED)

    _run(action)


@app.command()
def summary(
    data: Annotated[Path, typer.Argument(help="Data directory.")],
    as_of: AsOf = None,
) -> None:
    """Print the portfolio: open amount, late share, DSO and the aged balance."""
    from pipelines.data import render_summary, summarise

    _run(lambda: typer.echo(render_summary(summarise(data, as_of))))


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="Data directory to learn from.")],
    as_of: AsOf = None,
    config: TrainConfigOption = None,
    report_json: Annotated[
        Path | None, typer.Option(help="Write the run report here (-: on stdout, alone).")
    ] = None,
    dask: Dask = None,
    scheduler: Scheduler = None,
    partitions: Partitions = None,
) -> None:
    """Train the late, default and payment-date models; track in MLflow; register the scorer."""
    from pipelines.training import render_report
    from pipelines.training import train as run_training

    compute = _compute(dask, scheduler, partitions)

    def action() -> None:
        with report_on_stdout(report_json) as on_stdout:
            path = None if on_stdout else report_json
            report = run_training(catalog_for(config), data, as_of, path, compute=compute)
        if on_stdout:
            print_json(report)
        else:
            typer.echo(render_report(report))

    _run(action)


@app.command()
def simulate(
    customers: Annotated[
        int, typer.Option(min=50, help="Customers of the generated world.")
    ] = 2000,
    years: Annotated[float, typer.Option(min=1, max=30, help="Years of history.")] = 3.0,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same world.")] = 42,
    period_days: Annotated[
        int, typer.Option(min=30, max=730, help="Days of new invoices played by each policy.")
    ] = 182,
    follow_up_days: Annotated[
        int, typer.Option(min=30, max=730, help="Days after the period before measuring.")
    ] = 150,
    config: TrainConfigOption = None,
    dunning_config: DunningConfigOption = None,
    report_json: Annotated[
        Path | None, typer.Option(help="Write the report here (-: on stdout, alone).")
    ] = None,
    track: Annotated[
        bool, typer.Option("--track/--no-track", help="Log the run to MLflow.")
    ] = True,
    promises: Annotated[
        bool,
        typer.Option(
            "--promises/--no-promises",
            help="Calls bring promises in the played period (kept or broken by archetype).",
        ),
    ] = True,
) -> None:
    """Compare dunning policies (rules, learned, the service and bounds) in a generated world."""
    from pipelines.simulation import render
    from pipelines.simulation import simulate as run_simulation

    def action() -> None:
        with report_on_stdout(report_json) as on_stdout:
            report = run_simulation(
                catalog_for(config, dunning_config), customers, years, seed, period_days,
                follow_up_days, None if on_stdout else report_json, track, promises,
            )  # fmt: skip
        if on_stdout:
            print_json(report)
        else:
            typer.echo(render(report))

    _run(action)


@app.command("evaluate-policy")
def evaluate_policy(
    data: Annotated[Path, typer.Option(help="Data directory with the reminder history.")],
    as_of: AsOf = None,
    config: TrainConfigOption = None,
    dunning_config: DunningConfigOption = None,
    report_json: Annotated[
        Path | None, typer.Option(help="Write the report here (-: on stdout, alone).")
    ] = None,
    draws: Annotated[int, typer.Option(min=20, max=5000, help="Bootstrap draws.")] = 200,
) -> None:
    """Off-policy estimates (IPS, doubly robust) of the learned and logged dunning policies."""
    from pipelines.policy_evaluation import evaluate_policy as run_evaluation
    from pipelines.policy_evaluation import render

    def action() -> None:
        with report_on_stdout(report_json) as on_stdout:
            report = run_evaluation(
                catalog_for(config, dunning_config), data, as_of,
                None if on_stdout else report_json, draws,
            )  # fmt: skip
        if on_stdout:
            print_json(report)
        else:
            typer.echo(render(report))

    _run(action)


@app.command()
def score(
    data: Annotated[
        Path, typer.Option(help="Data directory (the open invoices and their history).")
    ],
    out: Annotated[Path, typer.Option(help="Invoices file (.csv/.parquet); plans go beside it.")],
    as_of: AsOf = None,
    model_uri: Annotated[
        str | None, typer.Option(help="MLflow model URI; default: the registry's champion.")
    ] = None,
    config: TrainConfigOption = None,
    dunning_config: DunningConfigOption = None,
    top: Annotated[int, typer.Option(help="Lines of the worklist to print.")] = 10,
    explain_top: Annotated[
        int, typer.Option(min=0, help="Give reasons for this many invoices, first on the worklist.")
    ] = 10_000,
    dask: Dask = None,
    scheduler: Scheduler = None,
    partitions: Partitions = None,
) -> None:
    """Score every open invoice, choose each customer's dunning scenario and next action."""
    from payrisk.web.i18n import Words
    from pipelines.scoring import customers_path, render_worklist
    from pipelines.scoring import score as run_scoring

    try:  # a usage error, before any work
        check_table_path(out)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--out") from None

    def action() -> None:
        catalog = catalog_for(config, dunning_config)
        portfolio, loaded, when = run_scoring(
            catalog,
            data,
            out,
            as_of,
            model_uri,
            explain_top,
            compute=_compute(dask, scheduler, partitions),
        )
        typer.echo(
            f"Scored {len(portfolio.invoices):,} open invoices as of {when.date()} with model "
            f"v{loaded.version} ({loaded.source}); wrote {out} and {customers_path(out)}"
        )
        policy = catalog.dunning_config
        words = Words(policy.language, policy.currencies.base)  # the reasons' language
        typer.echo(render_worklist(portfolio, top, words))

    _run(action)


@app.command()
def snapshot(
    data: Annotated[Path, typer.Option(help="Data directory.")],
    out: Annotated[
        Path | None, typer.Option(help="Default: models/snapshot/customer_history.npz")
    ] = None,
    as_of: AsOf = None,
    model_uri: Annotated[str | None, typer.Option(help="Default: the champion.")] = None,
    config: TrainConfigOption = None,
    dunning_config: DunningConfigOption = None,
) -> None:
    """Write the customer-history snapshot the service scores with (it reloads it by itself)."""
    from pipelines.scoring import write_snapshot

    def action() -> None:
        catalog = catalog_for(config, dunning_config)
        typer.echo(f"wrote {write_snapshot(catalog, data, out, as_of, model_uri)}")

    _run(action)


@app.command()
def report(
    data: Annotated[Path, typer.Option(help="Data directory.")],
    out: Annotated[Path, typer.Option(help="HTML file to write (self-contained, to e-mail).")],
    as_of: AsOf = None,
    model_uri: Annotated[str | None, typer.Option(help="Default: the champion.")] = None,
    config: TrainConfigOption = None,
    dunning_config: DunningConfigOption = None,
    language: Annotated[
        str | None, typer.Option(help="fr or en; default: the policy's language.")
    ] = None,
) -> None:
    """Write the portfolio and model review pages as one self-contained HTML file."""
    from pipelines.report import write_report

    def action() -> None:
        catalog = catalog_for(config, dunning_config)
        typer.echo(f"wrote {write_report(catalog, data, out, as_of, model_uri, language)}")

    _run(action)


@app.command()
def monitor(
    data: Annotated[Path, typer.Option(help="Data directory: the ledger as it is now.")],
    as_of: AsOf = None,
    out: Annotated[Path, typer.Option(help="Where the report goes (JSON).")] = Path(
        "reports/monitoring.json"
    ),
    model_uri: Annotated[str | None, typer.Option(help="Default: the champion.")] = None,
    config: TrainConfigOption = None,
) -> None:
    """Drift of what is scored now from the champion's training data (features, scores) and its
    realised accuracy on outcomes matured since: ok / watch / retrain, with reasons."""
    from pipelines.monitoring import render_monitoring, run_monitoring

    def action() -> None:
        report = run_monitoring(catalog_for(config), data, as_of, out, model_uri)
        typer.echo(render_monitoring(report))
        typer.echo(f"wrote {out}")

    _run(action)


@app.command()
def backtest(
    data: Annotated[Path, typer.Option(help="Data directory to learn from and score.")],
    out: Annotated[
        Path, typer.Option(help="Predictions (.csv/.parquet); metrics go beside it (JSON).")
    ] = Path("reports/backtest.csv"),
    at: Annotated[
        str, typer.Option(help="When each invoice is scored: issue (its issue date).")
    ] = "issue",
    start: Annotated[
        str | None, typer.Option(help="First issue date scored (default: the holdout's start).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="Day after the last one (default: the holdout's end).")
    ] = None,
    as_of: AsOf = None,
    config: TrainConfigOption = None,
) -> None:
    """Score every invoice of a period at its issue date with the model of that time (refitted
    every evaluation.backtest_step_days); write the predictions and their metrics."""
    from pipelines.backtest import backtest_at_issue, render_backtest

    if at != "issue":
        raise typer.BadParameter("only 'issue' is built", param_hint="--at")
    start, end = _day(start, "--start"), _day(end, "--end")

    def action() -> None:
        report = backtest_at_issue(catalog_for(config), data, out, start, end, as_of)
        typer.echo(render_backtest(report))
        typer.echo(f"wrote {out} and {out.stem}.metrics.json beside it")

    _run(action)


@app.command()
def daily(
    config: Annotated[
        Path | None,
        typer.Option("--config", help="The nightly run's config (default: the shipped one)."),
    ] = None,
    retrain: Annotated[
        bool, typer.Option(help="Retrain tonight whatever the schedule (the gate still decides).")
    ] = False,
    report_json: Annotated[
        Path | None, typer.Option(help="Also write the run summary here (-: on stdout, alone).")
    ] = None,
) -> None:
    """The nightly run: import, validate, retrain on schedule, score, snapshot, report, monitor.

    One run at a time (a second is refused, exit 5). Exit codes: 0 done, 1 bad data, 2
    configuration, 3 model, 4 disk, 5 another run holds the lock, 6 unexpected (a bug). A failed
    step stops the run and the service keeps its last good snapshot; the summary says why and
    what to do.
    """
    from payrisk.core import progress
    from payrisk.core.daily import load_daily_config
    from payrisk.core.storage import write_json
    from pipelines.daily import DISK, LOCKED, DailyLockedError, run_daily, step_line

    with report_on_stdout(report_json) as on_stdout:
        with user_errors():
            settings = load_daily_config(config)
            catalog = catalog_for(settings.train_config, settings.dunning_config)
        echo = None if on_stdout else (lambda r: progress.say(step_line(r), typer.echo))
        try:
            summary = run_daily(settings, catalog, retrain=retrain, on_step=echo)
        except DailyLockedError as error:
            typer.echo(f"error: {error}\n  what to do: {LOCKED.advice}", err=True)
            raise typer.Exit(LOCKED.exit_code) from None
        except OSError as error:  # the lock file itself cannot be made (rights, space)
            if error.errno not in WRITE_FAILURES:
                raise
            typer.echo(f"error: {error}\n  what to do: {DISK.advice}", err=True)
            raise typer.Exit(DISK.exit_code) from None
    if on_stdout:
        print_json(summary)
    else:
        if report_json is not None:
            with user_errors():
                write_json(report_json, summary)
        typer.echo(daily_outcome(summary))
    raise typer.Exit(summary["exit_code"])


def daily_outcome(summary: dict) -> str:
    """The run's last lines: done or failed, what serves now, where the summary is."""
    serving = summary["serving"]
    serves = (
        f"the service serves the snapshot of {serving['as_of']} (model v{serving['model_version']})"
        if serving
        else "no snapshot for the service yet"
    )
    where = f"summary: {summary['reports_dir']}/summary.json"
    if summary["status"] == "ok":
        return f"daily: done in {summary['seconds']:.0f} s; {serves}; {where}"
    failure = summary["failure"]
    return (
        f"daily: stopped at {summary['failed_step']} ({failure['kind']}, exit "
        f"{summary['exit_code']}): {failure['message']}\n"
        f"  what to do: {failure['advice']}\n  {serves}; {where}"
    )


@app.command()
def keygen(
    out: Annotated[
        Path | None,
        typer.Option(help="Also append the key to this key file (PAYRISK_API_KEYS_FILE), 0600."),
    ] = None,
) -> None:
    """Print a fresh random API key for the service (put it in PAYRISK_API_KEYS or a key file)."""
    from payrisk.serving.auth import generate_key

    key = generate_key()
    if out is not None:
        _append_key(out, key)
    typer.echo(key)


def _append_key(out: Path, key: str) -> None:
    """Append `key` to the key file `out`, which is (or becomes) readable by its owner only:
    an existing file's mode is tightened to 0600 before the key is written (it kept 0644),
    and a link or anything but a regular file is refused."""
    out.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(out, flags, 0o600)
    except OSError as error:
        typer.echo(f"error: --out {out}: {error.strerror}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise OSError(errno.EINVAL, "not a regular file")
            os.fchmod(descriptor, 0o600)
        except OSError as error:
            typer.echo(f"error: --out {out}: {error.strerror}; no key written", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        handle.write(key + "\n")


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 3000,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    config: TrainConfigOption = None,
    dunning_config: DunningConfigOption = None,
) -> None:
    """Start the HTTP service (BentoML) with the champion scorer and the latest snapshot.

    Needs API keys (PAYRISK_API_KEYS or PAYRISK_API_KEYS_FILE) unless PAYRISK_AUTH=disabled;
    the settings and configs are checked here first, so that a mistake is one clear message, not
    a crashing worker. SIGTERM, SIGINT (Ctrl-C) or SIGHUP stops the whole service, workers
    included; if this command is killed outright, the server stops with it.
    """
    from payrisk.serving.auth import AuthConfigError, configured_keys
    from payrisk.serving.process import serve_command, serve_until_signalled

    def check() -> dict[str, str]:
        catalog = catalog_for(config, dunning_config)
        catalog.train_config, catalog.dunning_config  # noqa: B018 (refuse bad configs now)
        configured_keys(catalog.settings)
        missing = catalog.model_available()
        if missing is not None:
            raise FileNotFoundError(missing)
        chosen = {"PAYRISK_TRAIN_CONFIG": config, "PAYRISK_DUNNING_CONFIG": dunning_config}
        return {name: str(path.resolve()) for name, path in chosen.items() if path is not None}

    try:
        with user_errors():
            environment = check()
    except AuthConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    command = serve_command("payrisk.service:PayriskService", host, port)
    environment = {**os.environ, **environment}
    raise typer.Exit(serve_until_signalled(command, private_bentoml_home(environment, port)))


def private_bentoml_home(environment: dict[str, str], port: int) -> dict[str, str]:
    """`environment` with a BENTOML_HOME of this service's own (unless one is set): BentoML
    keeps its Prometheus files in BENTOML_HOME and wipes them at every start, so every service
    of a user shared, and lost, each other's /metrics counters under ~/bentoml. Here: the
    project's `.payrisk/bentoml-<port>` (one service per port)."""
    if environment.get("BENTOML_HOME"):
        return environment
    home = (Path(".payrisk") / f"bentoml-{port}").resolve()
    return {**environment, "BENTOML_HOME": str(home)}


if __name__ == "__main__":
    app()
