"""What a credit manager reads about the whole book: KPIs, cash-in forecast, payment records.

Pure functions over the dataset and the scored open invoices, and the portfolio bundle made of
their outputs: `payrisk snapshot` writes it beside the service's snapshot, the review pages and
`payrisk report` read it. This module is the one place that knows the bundle's files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from payrisk.core.storage import write_json
from payrisk.data.loading import Dataset
from payrisk.data.receivables import portfolio_summary, settled_date
from payrisk.policy.planning import REASON_COUNT, ScoredPortfolio

BUNDLE_FILES = (
    "invoices.parquet",
    "customers.parquet",
    "payments.parquet",
    "cash_forecast.parquet",
    "kpis.json",
)


class BundleMissingError(LookupError):
    """No portfolio bundle yet: `payrisk snapshot` has not been run for this snapshot."""


@dataclass(frozen=True)
class PortfolioBundle:
    kpis: dict
    invoices: pd.DataFrame
    customers: pd.DataFrame
    payments: pd.DataFrame
    cash_forecast: pd.DataFrame

    @property
    def scenarios(self) -> list[str]:
        return sorted(self.invoices["scenario"].dropna().unique().tolist())


def read_bundle(folder: Path) -> PortfolioBundle:
    """All five files of a bundle folder, sorted by worklist rank."""
    try:
        kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
        invoices = pd.read_parquet(folder / "invoices.parquet")
        customers = pd.read_parquet(folder / "customers.parquet")
        payments = pd.read_parquet(folder / "payments.parquet")
        cash = pd.read_parquet(folder / "cash_forecast.parquet")
    except (OSError, ValueError) as error:
        raise BundleMissingError(
            f"no readable portfolio bundle in {folder} ({type(error).__name__}); "
            "run `payrisk snapshot --data DIR`"
        ) from None
    return PortfolioBundle(
        kpis=kpis,
        invoices=invoices.sort_values("priority_rank", kind="stable").reset_index(drop=True),
        customers=customers,
        payments=payments,
        cash_forecast=cash,
    )


def predicted_dso(scored: pd.DataFrame) -> float:
    """Amount-weighted days from issue to the expected payment date of the open invoices.

    The forward-looking twin of DSO: how long the receivables on the books now are expected to
    take to turn into cash.
    """
    if scored.empty:
        return float("nan")
    days = (scored["expected_payment_date"] - scored["issue_date"]).dt.days.to_numpy("float64")
    weight = scored["open_amount"].to_numpy("float64")
    return float(np.average(days, weights=weight)) if weight.sum() > 0 else float("nan")


def cash_forecast(scored: pd.DataFrame, as_of: pd.Timestamp, weeks: int = 13) -> pd.DataFrame:
    """Expected cash-in per week from the predicted payment dates, with a low/high band.

    Each open amount counts with its probability of being paid (1 - default probability), in the
    week of its central expected date (`expected`), of its early date (`early`) and of its late
    date (`late`); what falls beyond the horizon is in the last row's `beyond` column.
    """
    start = as_of - pd.Timedelta(days=as_of.weekday())  # Monday of the as-of week
    edges = pd.date_range(start, periods=weeks + 1, freq="7D")
    expected_cash = scored["open_amount"] * (1 - scored["default_probability"])
    out = pd.DataFrame({"week_start": edges[:-1]})
    for name, column in (
        ("early", "expected_payment_date_low"),
        ("expected", "expected_payment_date"),
        ("late", "expected_payment_date_high"),
    ):
        week = np.searchsorted(edges.to_numpy(), scored[column].to_numpy(), side="right") - 1
        week = np.clip(week, 0, weeks)  # overdue expectations land in the first week
        sums = np.bincount(week, weights=expected_cash.to_numpy("float64"), minlength=weeks + 1)
        out[name] = sums[:weeks].round(2)
        out.loc[weeks - 1, f"beyond_{name}"] = round(float(sums[weeks]), 2)
    return out


def payment_records(dataset: Dataset, as_of: pd.Timestamp) -> pd.DataFrame:
    """Each invoice settled before `as_of`: when, how late, how much; for payment-history charts."""
    invoices = dataset.invoices
    settled = settled_date(invoices)
    done = settled < as_of
    frame = invoices.loc[done, ["invoice_id", "customer_id", "due_date", "amount"]].copy()
    frame["settled_date"] = settled[done]
    frame["days_late"] = (frame["settled_date"] - frame["due_date"]).dt.days
    frame["written_off"] = invoices.loc[done, "paid_date"].isna()
    return frame.sort_values(["customer_id", "settled_date"], kind="stable").reset_index(drop=True)


def kpis(dataset: Dataset, scored: pd.DataFrame, as_of: pd.Timestamp) -> dict:
    """The portfolio page's headline figures (aged balance as a list of rows)."""
    summary = portfolio_summary(dataset, as_of)
    aged = summary.pop("aged_balance")
    expected_loss = float((scored["open_amount"] * scored["default_probability"]).sum())
    return {
        **summary,
        "predicted_dso_days": predicted_dso(scored),
        "expected_loss": round(expected_loss, 2),
        "predicted_late_invoices": int((scored["late_probability"] >= 0.5).sum()),
        "aged_balance": [
            {"bucket": str(bucket), **{k: float(v) for k, v in row.items()}}
            for bucket, row in aged.iterrows()
        ],
    }


def write_bundle(bundle: PortfolioBundle, folder: Path, metadata: dict) -> None:
    """The bundle's files in `folder` (the caller makes the folder appear atomically)."""
    for name in ("invoices", "customers", "payments", "cash_forecast"):
        getattr(bundle, name).to_parquet(folder / f"{name}.parquet", index=False)
    write_json(folder / "kpis.json", {**bundle.kpis, **metadata})


def build_bundle(dataset: Dataset, scored: ScoredPortfolio, as_of: pd.Timestamp) -> PortfolioBundle:
    """The portfolio bundle's content: scored open invoices (reasons as text columns, worklist
    order), customer plans, payment records, weekly cash-in forecast and KPIs."""
    invoices = pd.concat(
        [
            scored.invoices.drop(columns=["reasons", "alternatives"], errors="ignore"),
            flatten_reasons(scored.invoices),
            alternatives_text(scored.invoices),
        ],
        axis=1,
    )
    return PortfolioBundle(
        kpis={**kpis(dataset, scored.invoices, as_of), "as_of": as_of.date().isoformat()},
        invoices=invoices.sort_values("priority_rank", kind="stable").reset_index(drop=True),
        customers=scored.customers,
        payments=payment_records(dataset, as_of),
        cash_forecast=cash_forecast(scored.invoices, as_of),
    )


def alternatives_text(invoices: pd.DataFrame) -> pd.DataFrame:
    """The channels the learned policy weighed, as JSON text (one column a file can hold)."""
    if "alternatives" not in invoices:
        return pd.DataFrame(index=invoices.index)
    return pd.DataFrame(
        {"alternatives": [json.dumps(list(o or [])) for o in invoices["alternatives"]]},
        index=invoices.index,
    )


def flatten_reasons(invoices: pd.DataFrame, count: int = REASON_COUNT) -> pd.DataFrame:
    """reason_1 .. reason_n as text columns, for files a spreadsheet can open."""
    out = {}
    for k in range(count):
        out[f"reason_{k + 1}"] = [
            entries[k]["text"] if entries is not None and len(entries) > k else ""
            for entries in invoices["reasons"]
        ]
    return pd.DataFrame(out, index=invoices.index)
