"""Data pipelines: make a sample history, import an export, check a data directory, summarise it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from payrisk.core import progress
from payrisk.data.generator import generate_history
from payrisk.data.loading import load_dataset, validate_dataset_dir, write_dataset
from payrisk.data.receivables import as_timestamp, default_as_of, portfolio_summary
from payrisk.data.validation import ValidationReport


def generate_sample(
    out_dir: str | Path, customers: int, years: float, seed: int, fmt: str = "csv"
) -> list[Path]:
    """Write a synthetic payment history in the data contract."""
    with progress.steps("generate", 2) as stage:
        with stage(f"generate {customers:,} customers' history"):
            dataset = generate_history(n_customers=customers, years=years, seed=seed)
        with stage("write the tables"):
            return write_dataset(dataset, out_dir, fmt=fmt)


def check_data(data_dir: str | Path) -> ValidationReport:
    """Validate against the contract, and the payment terms against the policy's legal_terms
    (warn or refuse)."""
    from payrisk.core.settings import load_settings
    from payrisk.policy.config import load_dunning_config

    policy = load_dunning_config(load_settings().dunning_config)  # what the Catalog would load
    return validate_dataset_dir(data_dir, policy.legal_terms)


def summarise(data_dir: str | Path, as_of: str | None = None) -> dict:
    dataset = load_dataset(data_dir)
    when = as_timestamp(as_of) if as_of else default_as_of(dataset)
    return portfolio_summary(dataset, when)


def render_summary(summary: dict) -> str:
    """Plain-text summary for a terminal."""
    money = "{:,.2f}".format
    aged: pd.DataFrame = summary["aged_balance"]
    lines = [
        f"Portfolio as of {summary['as_of']} (start of day)",
        f"  customers            {summary['customers']:>14,}",
        f"  invoices             {summary['invoices']:>14,}",
        f"  open invoices        {summary['open_invoices']:>14,}",
        f"  open amount          {money(summary['open_amount']):>14}",
        f"  overdue amount       {money(summary['overdue_amount']):>14}",
        f"  paid late (share)    {summary['late_share_of_paid']:>14.1%}",
        f"  mean days late       {summary['mean_days_late_of_paid']:>14.1f}",
        f"  defaults (share)     {summary['default_share']:>14.1%}",
        f"  disputed (share)     {summary['dispute_share']:>14.1%}",
        f"  DSO (90 days)        {summary['dso_days_90']:>14.1f}",
        "Aged balance (days past due)",
    ]
    for bucket, row in aged.iterrows():
        lines.append(
            f"  {bucket:<10} {money(row['open_amount']):>16} {int(row['invoices']):>8,} invoices"
            f" {row['share']:>7.1%}"
        )
    return "\n".join(lines)
