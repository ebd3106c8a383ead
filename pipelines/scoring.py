"""`payrisk score` and `payrisk snapshot`: load the champion, score open invoices, plan dunning."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException

from payrisk.core.config import load_dunning_config, load_train_config
from payrisk.core.storage import atomic_directory, write_json, write_table
from payrisk.data.loading import Dataset, load_dataset
from payrisk.data.receivables import as_timestamp, default_as_of
from payrisk.features.history import History
from payrisk.features.snapshot import save_history
from payrisk.models.scorer import PaymentRiskScorer
from payrisk.policy.planning import REASON_COUNT, ScoredPortfolio
from payrisk.policy.portfolio import cash_forecast, kpis, payment_records
from payrisk.scaleout.dask import ComputeOverrides, compute_session, score_open_invoices
from pipelines import tracking

log = logging.getLogger("payrisk.score")

EXPLAIN_TOP = 10_000  # reasons for the first invoices of the worklist (they cost ~0.5 ms each)

INVOICE_OUTPUT_COLUMNS = (
    "priority_rank",
    "invoice_id",
    "customer_id",
    "issue_date",
    "due_date",
    "amount",
    "open_amount",
    "disputed",
    "late_probability",
    "default_probability",
    "expected_payment_date_low",
    "expected_payment_date",
    "expected_payment_date_high",
    "expected_days_late",
    "expected_loss",
    "scenario",
    "action",
    "step",
    "channel",
    "template",
    "actor",
    "action_date",
    "is_new_customer",
)


@dataclass(frozen=True)
class LoadedScorer:
    scorer: PaymentRiskScorer
    version: str  # registry version, or "local" / the URI when not from the registry
    source: str  # "registry", "local copy" or the model URI


def load_scorer(model_uri: str | None = None, model_name: str | None = None) -> LoadedScorer:
    """The given model, else the registry's champion, else the local copy of the champion."""
    name = model_name or load_train_config().registry.model_name
    mlflow.set_tracking_uri(tracking.tracking_uri())
    if model_uri:
        model = mlflow.pyfunc.load_model(model_uri)
        return LoadedScorer(model.unwrap_python_model().scorer, model_uri, model_uri)
    try:
        version = tracking.champion_version(name)
        if version is not None:
            model = mlflow.pyfunc.load_model(f"models:/{name}@{tracking.CHAMPION}")
            return LoadedScorer(model.unwrap_python_model().scorer, version, "registry")
    except (MlflowException, OSError) as error:
        log.warning("model registry unreachable (%s); trying the local copy", type(error).__name__)
    local = tracking.local_champion_path(name)
    if local is None:
        raise FileNotFoundError(
            f"no champion model {name!r}: train one first (payrisk train --data DIR)"
        )
    model = mlflow.pyfunc.load_model(str(local))
    version = local.parent.name.removeprefix("version-")
    return LoadedScorer(model.unwrap_python_model().scorer, version, "local copy")


def flatten_reasons(invoices: pd.DataFrame, count: int = REASON_COUNT) -> pd.DataFrame:
    """reason_1 .. reason_n as text columns, for files a spreadsheet can open."""
    out = {}
    for k in range(count):
        out[f"reason_{k + 1}"] = [
            entries[k]["text"] if entries is not None and len(entries) > k else ""
            for entries in invoices["reasons"]
        ]
    return pd.DataFrame(out, index=invoices.index)


def customers_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.customers{out.suffix}")


@dataclass(frozen=True)
class ScoringRun:
    """Everything one scoring of a data directory produced, for the writers to pick from."""

    dataset: Dataset
    as_of: pd.Timestamp
    loaded: LoadedScorer
    history: History | None  # None when scored on Dask: each partition's history stayed there
    portfolio: ScoredPortfolio


def score_data_dir(
    data_dir: str | Path,
    as_of: str | None = None,
    model_uri: str | None = None,
    dunning_config: str | Path | None = None,
    explain_top: int | None = EXPLAIN_TOP,
    compute: ComputeOverrides | None = None,
) -> ScoringRun:
    """Validate and load the data, load the scorer, score and plan every invoice open at as-of.

    Runs in this process unless `compute` is given: then the `compute` section of
    configs/train.yaml with these overrides decides (Dask scores customer partitions).
    """
    # Options first: a contradictory choice is refused before any data or model is read.
    settings = compute.apply(load_train_config().compute) if compute else None
    policy = load_dunning_config(dunning_config)
    dataset = load_dataset(data_dir)
    when = as_timestamp(as_of) if as_of else default_as_of(dataset)
    loaded = load_scorer(model_uri)
    if settings is None or settings.backend == "local":
        history, portfolio = score_open_invoices(loaded.scorer, dataset, when, policy, explain_top)
    else:
        with compute_session(settings) as cluster:
            history, portfolio = score_open_invoices(
                loaded.scorer, dataset, when, policy, explain_top, cluster
            )
    return ScoringRun(dataset, when, loaded, history, portfolio)


def score(
    data_dir: str | Path,
    out: str | Path,
    as_of: str | None = None,
    model_uri: str | None = None,
    dunning_config: str | Path | None = None,
    explain_top: int | None = EXPLAIN_TOP,
    compute: ComputeOverrides | None = None,
) -> tuple[ScoredPortfolio, LoadedScorer, pd.Timestamp]:
    """Score every invoice open at `as_of`; write invoices to `out`, customer plans beside it."""
    out = Path(out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise ValueError(f"--out {out.name}: use a .csv or .parquet file name")
    run = score_data_dir(data_dir, as_of, model_uri, dunning_config, explain_top, compute)
    portfolio, loaded, when = run.portfolio, run.loaded, run.as_of
    invoices = portfolio.invoices
    table = pd.concat(
        [invoices[list(INVOICE_OUTPUT_COLUMNS)], flatten_reasons(invoices)], axis=1
    ).assign(model_version=loaded.version, as_of=when)
    write_table(table, out)
    write_table(
        portfolio.customers.assign(model_version=loaded.version, as_of=when), customers_path(out)
    )
    return portfolio, loaded, when


def portfolio_dir(snapshot: str | Path) -> Path:
    """Where the portfolio bundle lives: beside the snapshot file."""
    return Path(snapshot).with_name("portfolio")


def portfolio_tables(run: ScoringRun) -> dict:
    """The portfolio bundle's content: scored open invoices (reasons as text columns, worklist
    order), customer plans, payment records, weekly cash-in forecast and KPIs."""
    scored, when = run.portfolio, run.as_of
    invoices = pd.concat(
        [scored.invoices.drop(columns="reasons"), flatten_reasons(scored.invoices)], axis=1
    )
    return {
        "invoices": invoices.sort_values("priority_rank", kind="stable"),
        "customers": scored.customers,
        "payments": payment_records(run.dataset, when),
        "cash_forecast": cash_forecast(scored.invoices, when),
        "kpis": {**kpis(run.dataset, scored.invoices, when), "as_of": when.date().isoformat()},
    }


def write_snapshot(
    data_dir: str | Path,
    out: str | Path,
    as_of: str | None = None,
    model_uri: str | None = None,
    dunning_config: str | Path | None = None,
    explain_top: int | None = EXPLAIN_TOP,
) -> Path:
    """The compact customer history the service scores with (built with the champion's
    settings), and beside it the portfolio bundle the review pages read: scored open invoices,
    customer plans, payment records, the weekly cash-in forecast and the KPIs."""
    run = score_data_dir(data_dir, as_of, model_uri, dunning_config, explain_top)
    metadata = {"model_version": run.loaded.version, "data_dir": Path(data_dir).name}
    tables = portfolio_tables(run)
    with atomic_directory(portfolio_dir(out)) as bundle:
        for name in ("invoices", "customers", "payments", "cash_forecast"):
            tables[name].to_parquet(bundle / f"{name}.parquet", index=False)
        write_json(bundle / "kpis.json", {**tables["kpis"], **metadata})
    save_history(run.history.compact(), out, metadata)
    return Path(out)


def render_worklist(portfolio: ScoredPortfolio, top: int = 10) -> str:
    invoices = portfolio.invoices.head(top)
    lines = [f"Collectors' worklist (top {len(invoices)} by expected loss):"]
    for row in invoices.itertuples():
        reason = row.reasons[0]["text"] if row.reasons else ""
        lines.append(
            f"  {row.priority_rank:>4}. {row.invoice_id:<12} {row.open_amount:>12,.2f} "
            f"late {row.late_probability:5.0%} default {row.default_probability:5.0%} "
            f"-> {' '.join(filter(None, [row.action, row.channel]))} on {row.action_date.date()}"
            f" ({reason})"
        )
    counts = portfolio.customers["scenario"].value_counts()
    lines.append(
        "Customers per dunning scenario: " + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    return "\n".join(lines)
