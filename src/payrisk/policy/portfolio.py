"""What a credit manager reads about the whole book: KPIs, cash-in forecast, payment records.

Pure functions over the dataset and the scored open invoices, and the portfolio bundle made of
their outputs: `payrisk snapshot` writes it beside the service's snapshot, the review pages and
`payrisk report` read it. This module is the one place that knows the bundle's files, and their
schema (`KPIS_SCHEMA`, `TABLE_SCHEMA`): a bundle is checked in full when it is read, so that a
`kpis.json` with an `as_of` of "garbage" or an `invoices.parquet` without a column is refused
there, naming the field, instead of failing every page and request that reads it.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from payrisk.core.days import to_days
from payrisk.core.storage import write_json
from payrisk.data.collection import monthly_kpis
from payrisk.data.loading import Dataset
from payrisk.data.receivables import portfolio_summary, settled_date
from payrisk.features.snapshot import EARLIEST_AS_OF, LATEST_AS_OF, SnapshotMetadata
from payrisk.policy.config import DunningConfig, recovery_rate
from payrisk.policy.dunning import action_groups
from payrisk.policy.planning import ScoredPortfolio
from payrisk.policy.provisions import ProvisionRules, invoice_provisions, recovery_of
from payrisk.policy.reasons import LOWERING_COUNT, LOWERS, RAISES, REASON_COUNT
from payrisk.policy.state import STATE_COLUMNS

log = logging.getLogger("payrisk.service")

BUNDLE_FILES = (
    "invoices.parquet",
    "customers.parquet",
    "payments.parquet",
    "cash_forecast.parquet",
    "kpis.json",
)


class BundleMissingError(LookupError):
    """No portfolio bundle yet: `payrisk snapshot` has not been run for this snapshot."""


class BundleInvalidError(BundleMissingError):
    """A bundle whose files read but break the schema (the message names the file and field)."""


class AgedRow(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    bucket: str = Field(min_length=1, max_length=64)
    open_amount: float
    invoices: float
    share: float


class MonthRow(BaseModel):
    """One month of `payrisk.data.collection.monthly_kpis` (None: undefined that month)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    opening_receivables: float = Field(allow_inf_nan=False)
    credit_sales: float = Field(allow_inf_nan=False)
    closing_receivables: float = Field(allow_inf_nan=False)
    closing_current: float = Field(allow_inf_nan=False)
    cei: float | None = Field(allow_inf_nan=False)
    dso_days_90: float | None = Field(allow_inf_nan=False)
    countback_dso_days: float | None = Field(allow_inf_nan=False)


class BundleKpis(SnapshotMetadata):
    """`kpis.json`: the headline figures (`kpis`), the as-of day, and the metadata the bundle
    shares with its snapshot (the model, the pair's id). Every field typed strictly; NaN only
    where a figure can be undefined (no paid invoice yet)."""

    as_of: str
    customers: int = Field(ge=0)
    invoices: int = Field(ge=0)
    paid_invoices: int = Field(ge=0)
    open_invoices: int = Field(ge=0)
    open_amount: float = Field(allow_inf_nan=False)
    overdue_amount: float = Field(allow_inf_nan=False)
    late_share_of_paid: float
    mean_days_late_of_paid: float
    default_share: float
    dispute_share: float
    dso_days_90: float
    predicted_dso_days: float
    amount_at_risk: float = Field(allow_inf_nan=False)
    expected_loss: float = Field(allow_inf_nan=False)
    predicted_late_invoices: int = Field(ge=0)
    aged_balance: list[AgedRow] = Field(max_length=16)
    monthly: list[MonthRow] = Field(default_factory=list, max_length=120)

    @field_validator("as_of")
    @classmethod
    def _a_day(cls, value: str) -> str:
        try:
            day = date.fromisoformat(value) if len(value) == 10 else None
        except ValueError:
            day = None
        if day is None or not EARLIEST_AS_OF <= day <= LATEST_AS_OF:
            raise ValueError("not a date YYYY-MM-DD between 1990 and 2100")
        return value


# Each table's columns and their kinds: "text" (strings, empty allowed), "day" (dates),
# "number" (integers or floats, NaN where unknown), "flag" (true/false). A table may hold more
# columns (reasons, policy details); these are the ones something reads by name.
_PLAN = {"scenario": "text", "action": "text", "channel": "text", "template": "text",
         "actor": "text", "action_date": "day", "step": "number"}  # fmt: skip
TABLE_SCHEMA: dict[str, dict[str, str]] = {
    "invoices": {
        "invoice_id": "id", "customer_id": "id", "issue_date": "day", "due_date": "day",
        "amount": "number", "open_amount": "number", "disputed": "flag", "snapshot_date": "day",
        "late_probability": "number", "default_probability": "number",
        "expected_payment_date_low": "day", "expected_payment_date": "day",
        "expected_payment_date_high": "day", "expected_days_late": "number",
        "expected_loss": "number", "priority_rank": "number", "reason_1": "text",
        "reasons_json": "text", **_PLAN,
    },
    "customers": {
        "customer_id": "id", "scenario": "text", "late_probability": "number",
        "default_probability": "number", "open_amount": "number", "open_invoices": "number",
        "expected_loss": "number", "next_contact_date": "day", "next_contact_channel": "text",
        "next_contact_action": "text", "next_contact_actor": "text",
        "next_contact_invoices": "number",
    },
    "payments": {
        "invoice_id": "id", "customer_id": "id", "due_date": "day", "amount": "number",
        "settled_date": "day", "days_late": "number", "written_off": "flag",
    },
    "cash_forecast": {
        "week_start": "day", "expected": "number", "low": "number", "high": "number",
        "invoices": "number", "beyond_expected": "number",
    },
    "reminders": {
        "invoice_id": "id", "customer_id": "id", "sent_date": "day", "channel": "text",
        "step": "number",
    },
}  # fmt: skip
# The bundle's files; `reminders` (the open invoices' dunning history) is absent from bundles
# written before it: read as empty.
TABLES = ("invoices", "customers", "payments", "cash_forecast", "reminders")
OPTIONAL_TABLES = frozenset({"reminders"})
# Columns a table may lack (older bundles, another policy), typed when present: the dunning
# state goes all or nothing (`state_arrays`).
OPTIONAL_COLUMNS: dict[str, dict[str, str]] = {
    "invoices": {
        **{name: ("day" if name.endswith("_date") else "number")
           for name in STATE_COLUMNS.values()},
        "alternatives": "text", "policy_reason": "text", "state_reason": "text",
        "penalty_total": "number", "amount_due": "number",
        "promise_kept_probability": "number",
    },
}  # fmt: skip


def _column_problem(column: pd.Series, kind: str) -> str | None:
    """Why `column` is not of `kind`, or None."""
    dtype = column.dtype
    if kind == "day":
        return None if pd.api.types.is_datetime64_dtype(dtype) else "is not a date column"
    if kind == "number":
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        return None if numeric else "is not a numeric column"
    if kind == "flag":
        if pd.api.types.is_bool_dtype(dtype):
            return None
        values = column.dropna()
        return None if values.map(type).eq(bool).all() else "is not a true/false column"
    values = column.dropna()
    if not (pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype)):
        return "is not a text column"
    if not values.map(type).eq(str).all():
        return "holds values that are not text"
    if kind == "id" and (len(values) < len(column) or (values == "").any()):
        return "has an empty id"
    return None


def check_tables(tables: dict[str, pd.DataFrame]) -> None:
    """BundleInvalidError naming the first file and column that breaks `TABLE_SCHEMA`."""
    for name, table in tables.items():
        expected = TABLE_SCHEMA[name]
        for column, kind in {**expected, **OPTIONAL_COLUMNS.get(name, {})}.items():
            if column not in table:
                if column in expected:
                    raise BundleInvalidError(f"{name}.parquet lacks the column {column}")
                continue
            problem = _column_problem(table[column], kind)
            if problem:
                raise BundleInvalidError(f"{name}.parquet column {column} {problem}")
    invoices = tables["invoices"]
    if not invoices["invoice_id"].is_unique:
        raise BundleInvalidError("invoices.parquet column invoice_id is not unique")
    if invoices["priority_rank"].isna().any():
        raise BundleInvalidError("invoices.parquet column priority_rank has empty values")
    state = [c for c in STATE_COLUMNS.values() if c in invoices]
    if state and len(state) != len(STATE_COLUMNS):
        raise BundleInvalidError("invoices.parquet holds only part of the dunning state columns")


def checked_kpis(raw: object) -> dict:
    """`kpis.json` validated (BundleInvalidError naming the first bad field, never its value),
    as read."""
    try:
        BundleKpis.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        field = ".".join(map(str, first["loc"])) or "(the whole file)"
        raise BundleInvalidError(f"kpis.json field {field}: {first['msg']}") from None
    return raw  # type: ignore[return-value]


@dataclass(frozen=True)
class PortfolioBundle:
    kpis: dict
    invoices: pd.DataFrame
    customers: pd.DataFrame
    payments: pd.DataFrame
    cash_forecast: pd.DataFrame
    reminders: pd.DataFrame = field(default_factory=lambda: no_reminders())
    _provisions: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False, compare=False)

    def provisions(self, rules: ProvisionRules) -> pd.DataFrame:
        """Each doubtful invoice's provision under `rules` (`invoice_provisions`), worked out
        once per bundle and rules: the pages, the API and the exports read the same table."""
        key = rules.model_dump_json()
        if key not in self._provisions:
            self._provisions[key] = invoice_provisions(self.invoices, rules, recovery_of(self.kpis))
        return self._provisions[key]

    @property
    def scenarios(self) -> list[str]:
        return sorted(self.invoices["scenario"].dropna().unique().tolist())

    @property
    def as_of(self) -> pd.Timestamp:
        return pd.Timestamp(self.kpis["as_of"])

    @property
    def snapshot_id(self) -> str | None:
        """The id shared with the snapshot written with it (None for older bundles)."""
        return self.kpis.get("snapshot_id")

    @cached_property
    def rows_of_customer(self) -> dict[str, np.ndarray]:
        """Row positions of each customer's open invoices (one hash lookup per request)."""
        return {
            str(k): v for k, v in self.invoices.groupby("customer_id", sort=False).indices.items()
        }

    @cached_property
    def invoice_index(self) -> pd.Index:
        """The open invoices' ids, hashed once (whose invoice a request's id is)."""
        return pd.Index(self.invoices["invoice_id"].astype("str"))

    @cached_property
    def open_invoice_arrays(self) -> dict[str, np.ndarray]:
        """The open invoices' identity, dates (day numbers) and amounts as arrays, converted
        once per bundle: the service takes a customer's rows from here for every request."""
        table = self.invoices
        return {
            "invoice_id": table["invoice_id"].to_numpy(dtype=object),
            "customer_id": table["customer_id"].to_numpy(dtype=object),
            "issue_day": to_days(table["issue_date"]),
            "due_day": to_days(table["due_date"]),
            "amount": table["amount"].to_numpy(dtype="float64"),
            "open_amount": table["open_amount"].to_numpy(dtype="float64"),
            "disputed": table["disputed"].fillna(False).to_numpy(dtype=bool),
        }

    @cached_property
    def state_arrays(self) -> dict[str, np.ndarray] | None:
        """The open invoices' dunning state columns (`state_...`) as arrays, None if the bundle
        has none (written before they existed)."""
        names = list(STATE_COLUMNS.values())
        if not all(name in self.invoices for name in names):
            return None
        return {name: self.invoices[name].to_numpy() for name in names}

    @cached_property
    def actions(self) -> pd.DataFrame:
        """The planned actions grouped as people carry them out (`action_groups`): the
        collectors' worklist, by priority."""
        return action_groups(self.invoices)


def read_bundle(folder: Path) -> PortfolioBundle:
    """The files of a bundle folder, checked against the schema (`BundleInvalidError`
    names the file and field), the invoices sorted by worklist rank."""
    try:
        kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
        tables = {
            name: pd.read_parquet(folder / f"{name}.parquet")
            for name in TABLES
            if name not in OPTIONAL_TABLES or (folder / f"{name}.parquet").exists()
        }
    except (OSError, ValueError) as error:
        raise BundleMissingError(
            f"no readable portfolio bundle in {folder.name}/ ({type(error).__name__}); "
            "run `payrisk snapshot --data DIR`"
        ) from None
    checked_kpis(kpis)
    check_tables(tables)
    invoices = tables["invoices"]
    return PortfolioBundle(
        kpis=kpis,
        invoices=invoices.sort_values("priority_rank", kind="stable").reset_index(drop=True),
        customers=tables["customers"],
        payments=tables["payments"],
        cash_forecast=tables["cash_forecast"],
        reminders=tables.get("reminders", no_reminders()),
    )


def no_reminders() -> pd.DataFrame:
    """An empty reminder log, typed as the schema says."""
    return pd.DataFrame(
        {
            "invoice_id": pd.Series(dtype=object),
            "customer_id": pd.Series(dtype=object),
            "sent_date": pd.Series(dtype="datetime64[ns]"),
            "channel": pd.Series(dtype=object),
            "step": pd.Series(dtype="float64"),
        }
    )


def reminder_log(dataset: Dataset, invoices: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The reminders sent before `as_of` about the open `invoices`, newest first: the dunning
    history the customer page shows (the ledger's own; what a dunning system reports later is in
    its requests)."""
    sent = dataset.reminders
    sent = sent.loc[(sent["sent_date"] < as_of) & sent["invoice_id"].isin(invoices["invoice_id"])]
    customer = invoices.set_index("invoice_id")["customer_id"]
    step = sent["step"] if "step" in sent else pd.Series(np.nan, index=sent.index)
    log = pd.DataFrame(
        {
            "invoice_id": sent["invoice_id"].astype(str).astype(object),
            "customer_id": sent["invoice_id"].map(customer).astype(object),
            "sent_date": pd.to_datetime(sent["sent_date"]).astype("datetime64[ns]"),
            "channel": sent["channel"].astype(str).astype(object),
            "step": pd.to_numeric(step, errors="coerce").astype("float64"),
        }
    )
    if log.empty:
        return no_reminders()
    return log.sort_values(["sent_date", "invoice_id"], ascending=[False, True], kind="stable")


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


Z_80 = 1.2815515655446004  # the 90th percentile of the standard normal: an 80% range


def paid_before(day: float, knots: np.ndarray, levels: tuple[float, float, float]) -> np.ndarray:
    """P(payment before `day`) per invoice, if it is paid: a piecewise-linear CDF through its
    three predicted quantile dates (`knots`, rows x 3 day numbers, at `levels`), with tails as
    steep as the nearest inner segment. A zero-width segment is a step (all on one day)."""
    low, mid, high = knots[:, 0], knots[:, 1], knots[:, 2]
    q_lo, q_mid, q_hi = levels
    start = low - (mid - low) * q_lo / (q_mid - q_lo)
    end = high + (high - mid) * (1 - q_hi) / (q_hi - q_mid)
    points = [(start, 0.0), (low, q_lo), (mid, q_mid), (high, q_hi), (end, 1.0)]
    cdf = np.zeros(len(knots))
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        width = np.maximum(x1 - x0, 1e-9)
        cdf += (y1 - y0) * np.clip((day - x0) / width, 0.0, 1.0)
    return cdf


def cash_forecast(
    scored: pd.DataFrame,
    as_of: pd.Timestamp,
    weeks: int = 13,
    levels: tuple[float, float, float] = (0.1, 0.5, 0.9),
) -> pd.DataFrame:
    """Expected cash-in per week, with an 80% range that contains it by construction.

    Each open amount counts with its probability of being paid (1 - default probability),
    spread over the weeks by its predicted payment-date distribution (the three quantile dates
    at `levels`), given that it is still unpaid at `as_of`: so an invoice adds to every week of
    its interval, not all of it to its central week. The week's total is a sum of independent
    outcomes (each invoice paid that week or not): `expected` is its mean, `low` and `high` the
    mean -/+ 1.28 standard deviations (clipped at 0), so low <= expected <= high. What is
    expected after the last week is in the last row's `beyond_expected`; `invoices` counts the
    invoices whose central date falls in the week (the first week also holds those whose central
    date has already passed).
    """
    start = as_of - pd.Timedelta(days=as_of.weekday())  # Monday of the as-of week
    edges = pd.date_range(start, periods=weeks + 1, freq="7D")
    edge_days = edges.to_numpy("datetime64[D]").astype("int64")
    today = float(as_of.to_datetime64().astype("datetime64[D]").astype("int64"))
    out = pd.DataFrame({"week_start": edges[:-1]})
    if scored.empty:
        for name in ("expected", "low", "high", "invoices"):
            out[name] = 0.0
        out["beyond_expected"] = np.nan
        return out
    knots = np.column_stack(
        [
            scored[c].to_numpy("datetime64[D]").astype("int64").astype("float64")
            for c in ("expected_payment_date_low", "expected_payment_date",
                      "expected_payment_date_high")
        ]
    )  # fmt: skip
    amount = scored["open_amount"].to_numpy("float64")
    paid = 1.0 - scored["default_probability"].to_numpy("float64")
    before_today = paid_before(today, knots, levels)
    remaining = 1.0 - before_today
    # Still unpaid at as_of: the distribution after as_of, renormalised; an invoice the model
    # expected to be paid already (nothing left after as_of) is expected in the first week.
    overdue = remaining < 1e-9
    cumulative = [np.zeros(len(knots))]
    for edge in edge_days[1:]:
        after = (paid_before(max(float(edge), today), knots, levels) - before_today) / np.where(
            overdue, 1.0, remaining
        )
        cumulative.append(np.where(overdue, 1.0, np.clip(after, 0.0, 1.0)))
    share = np.diff(np.column_stack(cumulative), axis=1)  # invoices x weeks
    probability = share * paid[:, None]
    mean = (amount[:, None] * probability).sum(axis=0)
    spread = np.sqrt((amount[:, None] ** 2 * probability * (1 - probability)).sum(axis=0))
    out["expected"] = mean.round(2)
    out["low"] = np.clip(mean - Z_80 * spread, 0.0, None).round(2)
    out["high"] = (mean + Z_80 * spread).round(2)
    central = np.searchsorted(edge_days, knots[:, 1], side="right") - 1
    out["invoices"] = np.bincount(np.clip(central, 0, weeks), minlength=weeks + 1)[:weeks]
    beyond = float((amount * paid * (1.0 - cumulative[-1])).sum())
    out["beyond_expected"] = np.nan
    out.loc[weeks - 1, "beyond_expected"] = round(beyond, 2)
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


def kpis(
    dataset: Dataset, scored: pd.DataFrame, as_of: pd.Timestamp, policy: DunningConfig
) -> dict:
    """The portfolio page's headline figures (aged balance as a list of rows)."""
    summary = portfolio_summary(dataset, as_of)
    aged = summary.pop("aged_balance")
    at_risk = float((scored["open_amount"] * scored["default_probability"]).sum())
    return {
        **summary,
        "predicted_dso_days": predicted_dso(scored),
        "amount_at_risk": round(at_risk, 2),
        "recovery_rate": recovery_rate(policy),
        "expected_loss": round(float(scored["expected_loss"].sum()), 2),
        "predicted_late_invoices": int((scored["late_probability"] >= 0.5).sum()),
        "aged_balance": [
            {"bucket": str(bucket), **{k: float(v) for k, v in row.items()}}
            for bucket, row in aged.iterrows()
        ],
        # the DAF's month by month: CEI, standard and countback DSO (payrisk.data.collection)
        "monthly": monthly_kpis(dataset, as_of).to_dict("records"),
    }


def write_bundle(bundle: PortfolioBundle, folder: Path, metadata: dict) -> None:
    """The bundle's files in `folder` (the caller makes the folder appear atomically)."""
    for name in TABLES:
        getattr(bundle, name).to_parquet(folder / f"{name}.parquet", index=False)
    write_json(folder / "kpis.json", {**bundle.kpis, **metadata})


def build_bundle(
    dataset: Dataset,
    scored: ScoredPortfolio,
    as_of: pd.Timestamp,
    policy: DunningConfig,
    levels: tuple[float, float, float] = (0.1, 0.5, 0.9),
) -> PortfolioBundle:
    """The portfolio bundle's content: scored open invoices (reasons as text columns, worklist
    order), customer plans, payment records, weekly cash-in forecast and KPIs."""
    invoices = pd.concat(
        [
            scored.invoices.drop(columns=["reasons", "alternatives"], errors="ignore"),
            flatten_reasons(scored.invoices),
            alternatives_text(scored.invoices),
        ],
        axis=1,
    ).assign(reasons_json=reasons_json(scored.invoices))
    return PortfolioBundle(
        kpis={**kpis(dataset, scored.invoices, as_of, policy), "as_of": as_of.date().isoformat()},
        invoices=invoices.sort_values("priority_rank", kind="stable").reset_index(drop=True),
        customers=with_credit_limits(scored.customers, dataset.customers),
        payments=payment_records(dataset, as_of),
        cash_forecast=cash_forecast(scored.invoices, as_of, levels=levels),
        reminders=reminder_log(dataset, scored.invoices, as_of).reset_index(drop=True),
    )


def with_credit_limits(plans: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """The customer plans with each customer's credit limit (NaN without one), so that the
    portfolio can flag the customers over it."""
    if "credit_limit" in plans.columns:
        return plans
    limits = (
        customers.drop_duplicates("customer_id").set_index("customer_id")["credit_limit"]
        if "credit_limit" in customers.columns
        else pd.Series(dtype="float64")
    )
    return plans.assign(credit_limit=plans["customer_id"].map(limits).astype("float64").to_numpy())


def alternatives_text(invoices: pd.DataFrame) -> pd.DataFrame:
    """The channels the learned policy weighed, as JSON text (one column a file can hold)."""
    if "alternatives" not in invoices:
        return pd.DataFrame(index=invoices.index)
    return pd.DataFrame(
        {"alternatives": [json.dumps(list(o or [])) for o in invoices["alternatives"]]},
        index=invoices.index,
    )


def flatten_reasons(invoices: pd.DataFrame) -> pd.DataFrame:
    """reason_1..3 (what raises the risk) and lowers_1..2 (what lowers it) as text columns, for
    files a spreadsheet can open."""
    out: dict[str, list[str]] = {}
    for direction, prefix, count in ((RAISES, "reason", REASON_COUNT),
                                     (LOWERS, "lowers", LOWERING_COUNT)):  # fmt: skip
        texts = [
            [e["text"] for e in entries if e["direction"] == direction] if entries else []
            for entries in invoices["reasons"]
        ]
        for k in range(count):
            out[f"{prefix}_{k + 1}"] = [t[k] if len(t) > k else "" for t in texts]
    return pd.DataFrame(out, index=invoices.index)


def reasons_json(invoices: pd.DataFrame) -> pd.Series:
    """The reasons as JSON text (feature, family, direction, value...), so that the pages can
    phrase them again in their reader's language."""
    return pd.Series(
        [
            json.dumps(entries, ensure_ascii=False) if entries else ""
            for entries in invoices["reasons"]
        ],
        index=invoices.index,
        dtype=object,
    )


class BundleHolder:
    """The latest good bundle of the snapshot being served; rereads the folder when its files
    change (`payrisk snapshot` replaces it atomically), keeps the previous bundle while a new
    one cannot be read, breaks the schema, or belongs to a snapshot the service refused."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._bundle: PortfolioBundle | None = None
        self._candidate: PortfolioBundle | None = None  # the folder's files as last read
        self._read_stamp: tuple | None = None
        self.problem: str | None = None  # why the folder's files are not in use
        self._lock = threading.Lock()

    def _current_stamp(self) -> tuple | None:
        try:
            return tuple(
                (s.st_mtime_ns, s.st_size, s.st_ino)
                for s in (os.stat(self.folder / name) for name in BUNDLE_FILES)
            )
        except OSError:
            return None

    def get(self, snapshot_id: str | None = None) -> PortfolioBundle:
        """The bundle in use; with `snapshot_id`, the one written with that snapshot (a newer
        bundle waits until its snapshot is served)."""
        stamp = self._current_stamp()
        with self._lock:
            if stamp is not None and stamp != self._read_stamp:
                self._read_stamp = stamp
                try:
                    self._candidate, self.problem = read_bundle(self.folder), None
                except BundleMissingError as error:
                    self._candidate = None
                    self.problem = f"portfolio bundle refused: {error}"
                    log.error("%s", self.problem)
            candidate = self._candidate
            if (
                candidate is not None
                and candidate is not self._bundle
                and (snapshot_id is None or candidate.snapshot_id in (None, snapshot_id))
            ):
                self._bundle = candidate
            bundle = self._bundle
        if bundle is None:
            raise BundleMissingError(
                self.problem
                or f"no portfolio bundle in {self.folder.name}/; run `payrisk snapshot --data DIR`"
            )
        if snapshot_id is not None and bundle.snapshot_id not in (None, snapshot_id):
            raise BundleMissingError(
                "the portfolio bundle was written with another snapshot than the one served"
            )
        return bundle
