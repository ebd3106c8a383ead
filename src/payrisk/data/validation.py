"""Validation of a data directory against the data contract, with Great Expectations suites.

Every rule is one Great Expectations expectation, run on a table's check frame (typed columns,
whether each cell was given as read, the file line) or on a frame derived from it with vectorised
joins and group-bys (payments and reminders joined to their invoice, payments summed per invoice).
A report names each failed rule, its file and a few failing rows by line number and key id only:
extra columns (customer names, e-mails) never reach the expectation suites, so they cannot leak
into a message.

Great Expectations is imported on first use, not at import time: the CLI imports this module for
`DataValidationError` on every command and should not pay seconds for it.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from payrisk.data.contract import (
    CHANNELS,
    CONTROL_CHARACTERS,
    CURRENCY_CODES,
    DATE_DTYPE,
    MAX_EXTRA_LENGTH,
    MAX_ID_LENGTH,
    MAX_TEXT_LENGTH,
    TABLES,
    Kind,
)
from payrisk.data.parsing import RAW_PREFIX, ROW_COLUMN, ParsedTable, by_unique
from payrisk.data.terms import REFUSE, LegalTerms, latest_due_dates

if TYPE_CHECKING:
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.datasource.fluent import PandasDatasource

# Read by GE at import; 1.24 sends no usage statistics, this keeps it so should a client return.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

EARLIEST_DATE = dt.datetime(1990, 1, 1)
LATEST_DATE = dt.datetime(2100, 12, 31)
OVERPAYMENT_TOLERANCE = 0.005  # half a cent: sums of amounts in cents carry float noise
MAX_EXAMPLES = 5

# BASIC + unexpected rows, not SUMMARY/COMPLETE with unexpected_index_column_names: GE 1.24 builds
# the index list with one Python loop per failing row (40 s for a whole bad column of 1M rows),
# while the unexpected rows come from one boolean mask, cut to `partial_unexpected_count`.
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "BASIC",
    "include_unexpected_rows": True,
    "partial_unexpected_count": MAX_EXAMPLES,
}

# Whether a cell had a value as read: the `raw__` text reduced to what the rules need of it.
GIVEN_PREFIX = "given__"
# Whether an id or text cell is within its length and free of control characters.
FITS_PREFIX = "fits__"
EXTRA_FITS = "fits__extra_columns"
TEXT_LIMITS = {Kind.ID: MAX_ID_LENGTH, Kind.TEXT: MAX_TEXT_LENGTH}
SHOWN_ID_LENGTH = 40  # an id in a message: cut, control characters escaped
CONTROL_PATTERN = re.compile(f"[{CONTROL_CHARACTERS}]")
# Columns added to a table's frame from its invoice (payments, reminders).
INVOICE_ROW = "invoice__row"
INVOICE_ISSUE_DATE = "invoice__issue_date"
INVOICE_AMOUNT_ALLOWED = "invoice__amount_allowed"
PAYMENTS_TOTAL = "payments_total"
LEGAL_DUE_LIMIT = "legal__latest_due_date"  # the latest due date the law allows (data.terms)
CUSTOMER_INDUSTRY = "customer__industry"
ERROR, WARNING = "error", "warning"

_PARSE_DESCRIPTIONS: dict[Kind, str] = {
    Kind.DATE: "{column} must be a date written YYYY-MM-DD, e.g. 2024-03-31",
    Kind.MONEY: (
        "{column} must be a plain number with a dot for decimals, e.g. 1234.50 "
        "(no currency sign, no thousands separator)"
    ),
    Kind.BOOL: "{column} must be true/false, yes/no or 1/0",
    Kind.INT: "{column} must be a whole number",
}

_GX_LOCK = threading.Lock()  # one ephemeral context per process; GE objects are not thread-safe


class DataValidationError(ValueError):
    """The data breaks the contract; the message is the rendered report."""

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(report.render())
        self.report = report

    def __reduce__(self) -> tuple[type[DataValidationError], tuple[ValidationReport]]:
        return (type(self), (self.report,))


@dataclass(frozen=True)
class RuleFailure:
    """One rule that failed on one table, with a few failing rows named by line and key id."""

    table: str
    source: str  # file name only
    rule: str
    description: str
    column: str
    failing_rows: int
    examples: list[tuple[int, str | None]] = field(default_factory=list)  # (line, key id)
    key: str = ""  # the column the example ids come from, e.g. invoice_id
    column_missing: bool = False
    severity: str = ERROR  # WARNING: reported, the data is still accepted

    def render(self) -> str:
        head = f"{self.source} [{self.table}] rule {self.rule} ({self.column}): {self.description}"
        if self.severity == WARNING:
            head = f"warning: {head}"
        if self.column_missing:
            return f"{head}\n  the column is not in the file ({self.failing_rows:,} rows)"
        word = "line" if self.source.lower().endswith(".csv") else "row"
        shown = ", ".join(
            _render_example(word, line, self.key, key_id) for line, key_id in self.examples
        )
        rows = "row" if self.failing_rows == 1 else "rows"
        more = ", ..." if self.failing_rows > len(self.examples) else ""
        return f"{head}\n  {self.failing_rows:,} failing {rows}: {shown}{more}"


def _shown_id(key_id: str) -> str:
    """An id as a message can show it: control characters escaped, at most SHOWN_ID_LENGTH."""
    shown = CONTROL_PATTERN.sub(
        lambda match: f"\\x{ord(match.group()):02x}", key_id[: SHOWN_ID_LENGTH + 1]
    )
    if len(key_id) > SHOWN_ID_LENGTH:
        return f"{shown[:SHOWN_ID_LENGTH]}... ({len(key_id):,} characters)"
    return shown


def _render_example(word: str, line: int, key: str, key_id: str | None) -> str:
    if not key:
        return f"{word} {line}"
    return f"{word} {line} ({key} {_shown_id(key_id) if key_id is not None else 'missing'})"


@dataclass
class ValidationReport:
    """What was checked and what failed; `render()` is what a user reads."""

    success: bool
    failures: list[RuleFailure]
    checked: dict[str, int]  # rows per table
    rules_run: int = 0
    warnings: list[RuleFailure] = field(default_factory=list)  # accepted, but worth a look

    def render(self) -> str:
        notes = [warning.render() for warning in self.warnings]
        if self.success:
            tables = ", ".join(f"{name} ({rows:,} rows)" for name, rows in self.checked.items())
            passed = f"all {self.rules_run} rules passed on {tables}"
            if notes:
                passed = f"{self.rules_run - len(notes)} of {self.rules_run} rules passed on "
                passed += f"{tables}; {len(notes)} warning(s), the data is accepted"
            return "\n".join([*notes, passed])
        tables = {failure.table for failure in self.failures}
        rules = "rule" if len(self.failures) == 1 else "rules"
        table_word = "table" if len(tables) == 1 else "tables"
        lines = [failure.render() for failure in self.failures] + notes
        lines.append(f"{len(self.failures)} {rules} failed on {len(tables)} {table_word}")
        return "\n".join(lines)

    def raise_for_failures(self) -> None:
        if not self.success:
            raise DataValidationError(self)


@dataclass(frozen=True)
class _Check:
    """A named rule and the one expectation that checks it, kept as plain data until run."""

    table: str
    rule: str
    column: str
    description: str
    expectation: str  # class name in great_expectations.expectations
    needs: tuple[str, ...]  # the frame columns it reads
    kwargs: dict[str, Any]
    severity: str = ERROR


@dataclass
class _Frame:
    """A frame handed to Great Expectations, with the checks that run on it."""

    name: str  # the GE data asset: the table, or a frame derived from it
    table: str
    source: str
    key: str
    data: pd.DataFrame
    checks: list[_Check] = field(default_factory=list)

    def add(
        self,
        rule: str,
        about: str,
        description: str,
        expectation: str,
        needs: tuple[str, ...],
        severity: str = ERROR,
        **kwargs: Any,
    ) -> None:
        """Add a check on column `about`, unless a column it reads is absent (reported already)."""
        if all(name in self.data.columns for name in needs):
            self.checks.append(
                _Check(self.table, rule, about, description, expectation, needs, kwargs, severity)
            )


def validate_tables(
    tables: dict[str, ParsedTable], legal_terms: LegalTerms | None = None
) -> ValidationReport:
    """Run every contract rule on parsed tables and collect the failures (and the warnings:
    invoices whose terms exceed `legal_terms`, France's by default, unless it says refuse)."""
    failures: list[RuleFailure] = []
    rules_run = 0
    for parsed in tables.values():
        for column in parsed.missing_columns:
            failures.append(
                RuleFailure(
                    table=parsed.table.name,
                    source=parsed.source,
                    rule="column_present",
                    description=f"the file must have a {column} column",
                    column=column,
                    failing_rows=len(parsed.frame),
                    key=parsed.table.key,
                    column_missing=True,
                )
            )
        rules_run += len(parsed.table.required_columns)

    frames = _build_frames(tables, legal_terms or LegalTerms())
    for frame in frames:
        rules_run += len(frame.checks)
        failures.extend(_run_checks(frame))

    order = {name: position for position, name in enumerate(TABLES)}
    failures.sort(key=lambda failure: order.get(failure.table, len(order)))
    warnings = [failure for failure in failures if failure.severity == WARNING]
    failures = [failure for failure in failures if failure.severity != WARNING]
    return ValidationReport(
        success=not failures,
        failures=failures,
        checked={name: len(parsed.frame) for name, parsed in tables.items()},
        rules_run=rules_run,
        warnings=warnings,
    )


def _build_frames(tables: dict[str, ParsedTable], legal_terms: LegalTerms) -> list[_Frame]:
    """The frames to validate and their checks, table by table."""
    frames: list[_Frame] = []
    base = {name: _base_frame(parsed) for name, parsed in tables.items()}
    invoices = base.get("invoices")
    lookup = _invoice_lookup(invoices.data) if invoices is not None else None
    for name, frame in base.items():
        _add_column_checks(frame, tables[name])
        if name == "invoices":
            _add_invoice_checks(frame)
            if legal_terms.enabled:
                _add_legal_terms_check(frame, legal_terms, tables.get("customers"))
        elif name == "payments":
            _join_invoice(frame, lookup)
            _add_payment_checks(frame)
        elif name == "reminders":
            _join_invoice(frame, lookup)
            _add_reminder_checks(frame)
        elif name == "customers":
            _add_customer_checks(frame)
        elif name in ("promises", "payment_plans"):
            _join_invoice(frame, lookup)
            _add_invoice_known(frame)
            (_add_promise_checks if name == "promises" else _add_plan_checks)(frame)
        elif name == "holds":
            _add_hold_checks(frame)
        frames.append(frame)
        if name == "payments":
            per_invoice = _payments_per_invoice(frame)
            if per_invoice is not None:
                frames.append(per_invoice)
    return frames


def _base_frame(parsed: ParsedTable) -> _Frame:
    """The contract columns present in the file, typed and as given, and the file line.

    Extra columns are left out on purpose: they may hold names or e-mails, and Great Expectations
    returns whole failing rows. Whole-number columns become float64 and dates nanosecond datetimes
    so that GE's vectorised comparisons apply (it maps a Python function over nullable Int64).
    """
    check = parsed.check_frame()
    data: dict[str, pd.Series] = {}
    for column in parsed.table.columns:
        if column.name in parsed.missing_columns:
            continue
        typed = check[column.name]
        if column.kind is Kind.INT:
            typed = typed.astype("float64")
        elif column.kind is Kind.DATE:
            typed = typed.astype(DATE_DTYPE)
        data[column.name] = typed
        data[GIVEN_PREFIX + column.name] = check[RAW_PREFIX + column.name].notna()
        if column.kind in TEXT_LIMITS:
            data[FITS_PREFIX + column.name] = _fits(
                check[RAW_PREFIX + column.name], TEXT_LIMITS[column.kind]
            )
    extras = [c for c in parsed.frame.columns if c not in parsed.table.column_names]
    extras = [c for c in extras if c != ROW_COLUMN]
    if extras:
        longest = pd.concat([parsed.frame[c].str.len() for c in extras], axis=1).max(axis=1)
        data[EXTRA_FITS] = longest.fillna(0).to_numpy() <= MAX_EXTRA_LENGTH
    data[ROW_COLUMN] = check[ROW_COLUMN]
    return _Frame(
        name=parsed.table.name,
        table=parsed.table.name,
        source=parsed.source,
        key=parsed.table.key,
        data=pd.DataFrame(data, index=check.index),
    )


def _fits(raw: pd.Series, limit: int) -> pd.Series:
    """Cells of at most `limit` characters and no control character (missing cells fit: the
    `value_present` rule speaks for them). Each distinct value is checked once."""
    pattern = f"[^{CONTROL_CHARACTERS}]{{0,{limit}}}"
    given = raw.notna()
    fits = pd.Series(True, index=raw.index)
    if given.any():
        fits[given] = by_unique(
            raw[given], lambda values: values.str.fullmatch(pattern).astype("bool")
        ).to_numpy(dtype=bool)
    return fits


def _add_column_checks(frame: _Frame, parsed: ParsedTable) -> None:
    """Required values present, values parseable, dates in a plausible range, ids and text within
    their length and free of control characters."""
    if EXTRA_FITS in frame.data.columns:
        frame.add(
            "extra_text_fits",
            "extra columns",
            f"cells of the extra columns must hold at most {MAX_EXTRA_LENGTH:,} characters",
            "ExpectColumnValuesToBeInSet",
            (EXTRA_FITS,),
            column=EXTRA_FITS,
            value_set=[True],
        )
    for column in parsed.table.columns:
        if column.kind in TEXT_LIMITS:
            frame.add(
                "text_fits",
                column.name,
                f"{column.name} must hold at most {TEXT_LIMITS[column.kind]} characters and no "
                "control character (tab, line break...)",
                "ExpectColumnValuesToBeInSet",
                (FITS_PREFIX + column.name,),
                column=FITS_PREFIX + column.name,
                value_set=[True],
            )
        given = GIVEN_PREFIX + column.name
        if column.required:
            frame.add(
                "value_present",
                column.name,
                f"{column.name} is required on every row",
                "ExpectColumnValuesToBeInSet",
                (given,),
                column=given,
                value_set=[True],
            )
        if column.kind in _PARSE_DESCRIPTIONS:
            frame.add(
                "parseable",
                column.name,
                _PARSE_DESCRIPTIONS[column.kind].format(column=column.name),
                "ExpectColumnValuesToNotBeNull",
                (column.name, given),
                column=column.name,
                row_condition=given,
                condition_parser="pandas",
            )
        if column.kind is Kind.DATE:
            frame.add(
                "date_in_range",
                column.name,
                f"{column.name} must fall between {EARLIEST_DATE:%Y-%m-%d} and "
                f"{LATEST_DATE:%Y-%m-%d}",
                "ExpectColumnValuesToBeBetween",
                (column.name,),
                column=column.name,
                min_value=EARLIEST_DATE,
                max_value=LATEST_DATE,
            )


def _add_not_before(
    frame: _Frame, column: str, reference: str, reference_name: str, rule: str | None = None
) -> None:
    frame.add(
        rule or f"{column}_not_before_issue_date",
        column,
        f"{column} must not be before {reference_name}",
        "ExpectColumnPairValuesAToBeGreaterThanB",
        (column, reference),
        column_A=column,
        column_B=reference,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


def _add_positive_amount(frame: _Frame, message: str = "amount must be greater than zero") -> None:
    frame.add(
        "amount_positive",
        "amount",
        message,
        "ExpectColumnValuesToBeBetween",
        ("amount",),
        column="amount",
        min_value=0,
        strict_min=True,
    )


def _add_unique_key(frame: _Frame) -> None:
    frame.add(
        "unique_id",
        frame.key,
        f"each {frame.key} must appear on one line only",
        "ExpectColumnValuesToBeUnique",
        (frame.key,),
        column=frame.key,
    )


def _add_invoice_known(frame: _Frame) -> None:
    frame.add(
        "invoice_known",
        "invoice_id",
        "invoice_id must be the id of an invoice in the invoices file",
        "ExpectColumnValuesToNotBeNull",
        ("invoice_id", INVOICE_ROW),
        column=INVOICE_ROW,
        row_condition="invoice_id.notna()",
        condition_parser="pandas",
    )


def _add_invoice_checks(frame: _Frame) -> None:
    _add_unique_key(frame)
    _add_positive_amount(frame)
    for column in ("due_date", "paid_date", "written_off_date", "dispute_date"):
        _add_not_before(frame, column, "issue_date", "issue_date")
    _add_not_before(
        frame,
        "dispute_resolved_date",
        "dispute_date",
        "dispute_date",
        "dispute_resolved_date_not_before_dispute_date",
    )
    frame.add(
        "dispute_date_with_resolution",
        "dispute_date",
        "dispute_date is required where dispute_resolved_date is given",
        "ExpectColumnValuesToNotBeNull",
        ("dispute_date", "dispute_resolved_date"),
        column="dispute_date",
        row_condition="dispute_resolved_date.notna()",
        condition_parser="pandas",
    )
    frame.add(
        "currency_known",
        "currency",
        "currency must be an ISO 4217 code such as EUR, USD or GBP",
        "ExpectColumnValuesToBeInSet",
        ("currency",),
        column="currency",
        value_set=sorted(CURRENCY_CODES),
    )


def _add_legal_terms_check(frame: _Frame, terms: LegalTerms, customers: ParsedTable | None) -> None:
    """due_date no later than the law allows (`payrisk.data.terms`): a warning, or a failure
    when the policy says refuse. Sector caps read the customers' industry."""
    data = frame.data
    if not {"issue_date", "due_date"} <= set(data.columns):
        return
    industries = None
    if terms.industries and customers is not None and "customer_id" in data.columns:
        known = customers.check_frame()
        if {"customer_id", "industry"} <= set(known.columns):
            by_customer = known.drop_duplicates("customer_id").set_index("customer_id")["industry"]
            industries = data["customer_id"].map(by_customer)
    data[LEGAL_DUE_LIMIT] = latest_due_dates(data["issue_date"], terms, industries)
    frame.add(
        "due_date_within_legal_terms",
        "due_date",
        f"due_date must not be later than the legal maximum terms: {terms.describe()}",
        "ExpectColumnPairValuesAToBeGreaterThanB",
        ("due_date", LEGAL_DUE_LIMIT),
        ERROR if terms.action == REFUSE else WARNING,
        column_A=LEGAL_DUE_LIMIT,
        column_B="due_date",
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )


def _add_payment_checks(frame: _Frame) -> None:
    _add_positive_amount(frame)
    _add_invoice_known(frame)
    _add_not_before(frame, "payment_date", INVOICE_ISSUE_DATE, "the invoice's issue_date")


def _add_reminder_checks(frame: _Frame) -> None:
    _add_invoice_known(frame)
    _add_not_before(frame, "sent_date", INVOICE_ISSUE_DATE, "the invoice's issue_date")
    frame.add(
        "channel_known",
        "channel",
        "channel must be one of: " + ", ".join(CHANNELS),
        "ExpectColumnValuesToBeInSet",
        ("channel",),
        column="channel",
        value_set=list(CHANNELS),
    )
    frame.add(
        "step_positive",
        "step",
        "step, when given, must be 1 or more",
        "ExpectColumnValuesToBeBetween",
        ("step",),
        column="step",
        min_value=1,
    )


def _add_promise_checks(frame: _Frame) -> None:
    _add_not_before(frame, "made_date", INVOICE_ISSUE_DATE, "the invoice's issue_date")
    _add_not_before(
        frame, "promised_date", "made_date", "made_date", "promised_date_not_before_made_date"
    )
    if "amount" in frame.data.columns:  # optional: all that is open
        _add_positive_amount(frame, "amount, when given, must be greater than zero")


def _add_plan_checks(frame: _Frame) -> None:
    _add_not_before(frame, "agreed_date", INVOICE_ISSUE_DATE, "the invoice's issue_date")
    _add_not_before(
        frame, "due_date", "agreed_date", "agreed_date", "due_date_not_before_agreed_date"
    )
    _add_positive_amount(frame)


def _add_hold_checks(frame: _Frame) -> None:
    _add_not_before(
        frame, "until_date", "start_date", "start_date", "until_date_not_before_start_date"
    )


def _add_customer_checks(frame: _Frame) -> None:
    _add_unique_key(frame)
    frame.add(
        "credit_limit_not_negative",
        "credit_limit",
        "credit_limit must be zero or more",
        "ExpectColumnValuesToBeBetween",
        ("credit_limit",),
        column="credit_limit",
        min_value=0,
    )


def _invoice_lookup(invoices: pd.DataFrame) -> pd.DataFrame | None:
    """Invoice line, issue date and amount by invoice id (first line wins on duplicate ids)."""
    if "invoice_id" not in invoices.columns:
        return None
    wanted = {ROW_COLUMN: INVOICE_ROW, "issue_date": INVOICE_ISSUE_DATE, "amount": "amount"}
    present = [column for column in wanted if column in invoices.columns]
    lookup = invoices.loc[invoices["invoice_id"].notna(), ["invoice_id", *present]]
    lookup = lookup.drop_duplicates("invoice_id", keep="first").set_index("invoice_id")
    lookup = lookup.rename(columns=wanted)
    lookup[INVOICE_ROW] = lookup[INVOICE_ROW].astype("float64")  # missing for unknown invoices
    if "amount" in lookup.columns:
        lookup[INVOICE_AMOUNT_ALLOWED] = lookup.pop("amount") + OVERPAYMENT_TOLERANCE
    return lookup


def _join_invoice(frame: _Frame, lookup: pd.DataFrame | None) -> None:
    """Add the invoice's line, issue date and amount to each row (missing if it is unknown)."""
    if lookup is None or "invoice_id" not in frame.data.columns:
        return
    # Positions rather than DataFrame.join: pandas 3.1 fails to join two empty Arrow string keys.
    positions = lookup.index.get_indexer(frame.data["invoice_id"])
    joined = {
        column: pd.Series(values.array.take(positions, allow_fill=True), index=frame.data.index)
        for column, values in lookup.items()
    }
    frame.data = frame.data.assign(**joined)


def _payments_per_invoice(payments: _Frame) -> _Frame | None:
    """Payments summed per invoice beside the invoice amount, for the overpayment rule.

    The line reported for an overpaid invoice is the payment that takes the running total over
    the amount, which is the one to look at first.
    """
    needed = ["invoice_id", "amount", INVOICE_AMOUNT_ALLOWED, ROW_COLUMN]
    if not all(column in payments.data.columns for column in needed):
        return None
    data = payments.data
    paid = data.loc[data["invoice_id"].notna() & data["amount"].notna(), needed]
    by_invoice = paid.groupby("invoice_id", sort=False)
    per_invoice = by_invoice.agg(
        **{
            PAYMENTS_TOTAL: ("amount", "sum"),
            INVOICE_AMOUNT_ALLOWED: (INVOICE_AMOUNT_ALLOWED, "first"),
            ROW_COLUMN: (ROW_COLUMN, "max"),
        }
    )
    goes_over = by_invoice["amount"].cumsum() > paid[INVOICE_AMOUNT_ALLOWED]
    first_over = paid.loc[goes_over].groupby("invoice_id", sort=False)[ROW_COLUMN].min()
    per_invoice[ROW_COLUMN] = (
        first_over.reindex(per_invoice.index).fillna(per_invoice[ROW_COLUMN]).astype("int64")
    )
    frame = _Frame(
        name="payments_per_invoice",
        table=payments.table,
        source=payments.source,
        key="invoice_id",
        data=per_invoice.rename_axis("invoice_id").reset_index(),
    )
    frame.add(
        "payments_within_invoice_amount",
        "amount",
        "the payments of an invoice must not add up to more than its amount (half a cent "
        "tolerance); the line shown is the payment that goes over",
        "ExpectColumnPairValuesAToBeGreaterThanB",
        (INVOICE_AMOUNT_ALLOWED, PAYMENTS_TOTAL),
        column_A=INVOICE_AMOUNT_ALLOWED,
        column_B=PAYMENTS_TOTAL,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
    )
    return frame


def _run_checks(frame: _Frame) -> list[RuleFailure]:
    """Validate one frame with one suite holding all its checks; one batch, shared metrics."""
    if not frame.checks:
        return []
    import great_expectations as gx
    import great_expectations.expectations as gxe

    expectations = [
        getattr(gxe, check.expectation)(**check.kwargs, meta={"check": position})
        for position, check in enumerate(frame.checks)
    ]
    data, key_labels = _frame_for_gx(frame)
    with _GX_LOCK:
        suite = gx.ExpectationSuite(name=f"payrisk_{frame.name}", expectations=expectations)
        batch = _batch_definition(frame.name).get_batch(batch_parameters={"dataframe": data})
        results = batch.validate(suite, result_format=RESULT_FORMAT)

    failed: dict[int, RuleFailure] = {}
    for result in results.results:
        if result.success:
            continue
        position = result.expectation_config.meta["check"]
        check = frame.checks[position]
        error = _raised(result.exception_info)
        if error is not None:  # a bug, not bad data: say so rather than report failing rows
            raise RuntimeError(
                f"validation rule {check.table}.{check.rule} ({check.column}) could not run: "
                f"{error}"
            )
        failed[position] = _failure(frame, check, result.result, key_labels)
    return [failed[position] for position in sorted(failed)]  # in the order rules are declared


def _frame_for_gx(frame: _Frame) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The columns the checks read, plus line and key; the key as integer codes, and its labels.

    GE fingerprints every batch it loads by hashing all cells, twice per validation, and hashing
    a million distinct id strings takes longer than every check on the frame together. Codes from
    `pd.factorize` keep what the rules need of an id (equal or not, given or not); the labels turn
    the codes of failing rows back into ids.
    """
    needed = {ROW_COLUMN, frame.key}.union(*(check.needs for check in frame.checks))
    data = frame.data[[column for column in frame.data.columns if column in needed]]
    if frame.key not in data.columns:
        return data, None
    codes, labels = pd.factorize(data[frame.key])
    coded_key = pd.Series(np.where(codes < 0, np.nan, codes), index=data.index)
    return data.assign(**{frame.key: coded_key}), np.asarray(labels, dtype=object)


def _raised(exception_info: Any) -> str | None:
    """The message of an exception GE caught running an expectation (its info nests by metric).

    GE frames hold only codes, flags, numbers, dates and code lists, so the message cannot carry
    a name from the data.
    """
    if not isinstance(exception_info, dict):
        return None
    infos = [exception_info, *(v for v in exception_info.values() if isinstance(v, dict))]
    for info in infos:
        if info.get("raised_exception"):
            return str(info.get("exception_message") or "unknown error")
    return None


def _failure(
    frame: _Frame, check: _Check, result: dict[str, Any], key_labels: np.ndarray | None
) -> RuleFailure:
    rows = result.get("unexpected_rows")
    examples: list[tuple[int, str | None]] = []
    if isinstance(rows, pd.DataFrame) and not rows.empty:
        lines = rows[ROW_COLUMN].astype("int64").tolist()
        ids: list[str | None] = [None] * len(lines)
        if key_labels is not None:
            ids = [
                None if pd.isna(code) else str(key_labels[int(code)]) for code in rows[frame.key]
            ]
        examples = list(zip(lines, ids, strict=True))
    return RuleFailure(
        table=frame.table,
        source=frame.source,
        rule=check.rule,
        description=check.description,
        column=check.column,
        failing_rows=int(result.get("unexpected_count") or 0),
        examples=examples,
        key=frame.key if frame.key in frame.data.columns else "",
        severity=check.severity,
    )


def _batch_definition(asset_name: str) -> BatchDefinition:
    """One whole-dataframe asset per frame name, created once per process."""
    source = _pandas_source()
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_dataframe_asset(asset_name)
        return asset.add_batch_definition_whole_dataframe("whole")
    return asset.get_batch_definition("whole")


@functools.cache
def _pandas_source() -> PandasDatasource:
    """The process's ephemeral GE context and its pandas data source, without progress bars."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context.data_sources.add_pandas("payrisk")
