"""The one loader: data directory in, typed DataFrames out.

Reading is split from validating. `read_tables` parses every file of a data directory into typed
frames, remembering what each cell looked like as read, so that `payrisk.validation` can tell a
missing value from an unparseable one and name the file line. `load_dataset` does both and is what
every pipeline calls.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from payrisk.core.storage import TABLE_SUFFIXES, restore_formulas, write_table
from payrisk.data.contract import (
    DATE_DTYPE,
    TABLES,
    Kind,
    Table,
)
from payrisk.data.parsing import (
    ROW_COLUMN,
    ParsedTable,
    duplicated_headers,
    layout_problem,
    parse_table,
    shown,
    too_many_columns,
    truncation_problem,
)
from payrisk.data.terms import LegalTerms
from payrisk.data.validation import ValidationReport, validate_tables


class DataFileError(ValueError):
    """A data file is missing, unreadable, ambiguous or truncated."""


@dataclass(frozen=True)
class Dataset:
    """A company's payment history in the contract's types. Absent optional tables are empty."""

    invoices: pd.DataFrame
    payments: pd.DataFrame = field(default_factory=lambda: empty_table(TABLES["payments"]))
    customers: pd.DataFrame = field(default_factory=lambda: empty_table(TABLES["customers"]))
    reminders: pd.DataFrame = field(default_factory=lambda: empty_table(TABLES["reminders"]))
    promises: pd.DataFrame = field(default_factory=lambda: empty_table(TABLES["promises"]))
    payment_plans: pd.DataFrame = field(
        default_factory=lambda: empty_table(TABLES["payment_plans"])
    )
    holds: pd.DataFrame = field(default_factory=lambda: empty_table(TABLES["holds"]))

    def table(self, name: str) -> pd.DataFrame:
        return getattr(self, name)


def _typed_empty(kind: Kind) -> pd.Series:
    if kind is Kind.DATE:
        return pd.Series([], dtype=DATE_DTYPE)
    if kind is Kind.MONEY:
        return pd.Series([], dtype="float64")
    if kind is Kind.BOOL:
        return pd.Series([], dtype="bool")
    if kind is Kind.INT:
        return pd.Series([], dtype="Int64")
    return pd.Series([], dtype="str")


def empty_table(table: Table) -> pd.DataFrame:
    return pd.DataFrame({c.name: _typed_empty(c.kind) for c in table.columns})


def find_table_file(data_dir: Path, table: Table) -> Path | None:
    candidates = [data_dir / f"{table.name}{suffix}" for suffix in TABLE_SUFFIXES]
    found = [p for p in candidates if p.is_file()]
    if len(found) > 1:
        raise DataFileError(
            f"{table.name}: both {found[0].name} and {found[1].name} exist in the data directory; "
            "keep one"
        )
    return found[0] if found else None


def _read_file(path: Path) -> pd.DataFrame:
    """The file's cells as read, indexed by file line (CSV, header = 1) or row number (Parquet)."""
    try:
        if path.suffix.lower() == ".csv":
            if path.stat().st_size == 0:
                raise DataFileError(f"{path.name}: file is empty (no header line)")
            problem = layout_problem(path) or truncation_problem(path, b",")
            if problem:
                raise DataFileError(f"{path.name}: {problem}")
            with open(path, encoding="utf-8-sig", newline="") as handle:
                header = next(csv.reader(handle), [])
            problem = too_many_columns(len(header))
            if problem:
                raise DataFileError(f"{path.name}: {problem}")
            duplicated = duplicated_headers(restore_formulas(pd.DataFrame(columns=header)).columns)
            if duplicated:  # read_csv would rename the second one (amount.1) and keep both
                raise DataFileError(f"{path.name}: duplicated column header(s) {shown(duplicated)}")
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
                encoding="utf-8-sig",
                skip_blank_lines=False,
            )
            # Line numbers before blank lines are dropped, so that messages point at the file.
            frame.index = pd.RangeIndex(2, len(frame) + 2)
            frame = restore_formulas(frame.dropna(how="all"))  # undo write_table's quoting
        else:
            frame = pd.read_parquet(path)
            frame.index = pd.RangeIndex(1, len(frame) + 1)
    except DataFileError:
        raise
    except (UnicodeDecodeError, pd.errors.ParserError, OSError, ValueError) as error:
        # The parser's own message can quote cell contents; keep only its kind and location.
        raise DataFileError(f"{path.name}: cannot be read ({type(error).__name__})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise DataFileError(f"{path.name}: duplicated column header(s) {duplicated}")
    return frame


def read_tables(data_dir: str | Path) -> dict[str, ParsedTable]:
    """Parse every contract table present in `data_dir` (without validating it)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataFileError(f"data directory {data_dir} does not exist")
    parsed: dict[str, ParsedTable] = {}
    for table in TABLES.values():
        path = find_table_file(data_dir, table)
        if path is None:
            if table.required:
                raise DataFileError(
                    f"{table.name}: no {table.name}.csv or {table.name}.parquet in {data_dir}"
                )
            continue
        frame = _read_file(path)
        parsed[table.name] = parse_table(frame, table, path.name, frame.index.to_numpy())
    return parsed


def finalize(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """Contract dtypes for a validated table: booleans default to False, helper columns dropped."""
    out = frame.drop(columns=[ROW_COLUMN], errors="ignore").copy()
    for column in table.columns:
        if column.kind is Kind.BOOL:
            out[column.name] = out[column.name].fillna(False).astype("bool")
    if "dispute_date" in out.columns:  # a dated dispute is a dispute
        out["disputed"] = out["disputed"] | out["dispute_date"].notna()
    return out


def to_dataset(tables: dict[str, ParsedTable]) -> Dataset:
    frames = {name: finalize(p.table, p.frame) for name, p in tables.items()}
    return Dataset(**frames)


def load_dataset(data_dir: str | Path, *, validate: bool = True) -> Dataset:
    """Read, validate and type a data directory; raise `DataValidationError` on bad data."""
    tables = read_tables(data_dir)
    if validate:
        validate_tables(tables).raise_for_failures()
    return to_dataset(tables)


def validate_dataset_dir(
    data_dir: str | Path, legal_terms: LegalTerms | None = None
) -> ValidationReport:
    """Read and validate a data directory; unreadable files raise `DataFileError`."""
    return validate_tables(read_tables(data_dir), legal_terms)


def write_dataset(dataset: Dataset, out_dir: str | Path, fmt: str = "csv") -> list[Path]:
    """Write a dataset in the contract layout; each file atomically."""
    out_dir = Path(out_dir)
    written = []
    for name in TABLES:
        frame = dataset.table(name)
        if name != "invoices" and frame.empty:
            continue
        path = out_dir / f"{name}.{fmt}"
        write_table(frame, path)
        written.append(path)
    return written
