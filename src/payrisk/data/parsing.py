"""Text cells to typed values: the one parser behind the loader (contract files) and the importer
(ERP exports with their own conventions).

The contract's conventions (dates YYYY-MM-DD, a dot for decimals, true/false) are the defaults; the
importer passes the export's. Every conversion maps each distinct cell once (exports repeat dates,
flags and codes a lot) and leaves unparseable cells missing for the caller to report.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from payrisk.core.days import DATE_DTYPE
from payrisk.data.contract import (
    DATE_FORMAT,
    FALSE_WORDS,
    MONEY_DECIMALS,
    TRUE_WORDS,
    Kind,
    Table,
)

SPACE_PATTERN = "[ \u00a0\u2007\u202f]"  # spaces used as thousands separators


def as_text(values: pd.Series) -> pd.Series:
    """Trimmed text with empty cells missing, whatever the source dtype."""
    text = values.astype("str").str.strip()
    return text.mask(text == "")


def by_unique(text: pd.Series, convert: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Convert each distinct value once."""
    codes, uniques = pd.factorize(text)
    converted = convert(pd.Series(uniques, dtype="str"))
    return pd.Series(converted.array.take(codes, allow_fill=True), index=text.index)


def parse_numbers(text: pd.Series, decimal: str = ".", thousands: str | None = None) -> pd.Series:
    """Numbers as float64 ('1 234,56' with decimal ',' and thousands ' '); bad cells missing."""

    def convert(values: pd.Series) -> pd.Series:
        if thousands == " ":
            values = values.str.replace(SPACE_PATTERN, "", regex=True)
        elif thousands is not None:
            values = values.str.replace(thousands, "", regex=False)
        if decimal != ".":
            values = values.str.replace(decimal, ".", regex=False)
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
        return numbers.where(np.isfinite(numbers))

    return by_unique(text, convert).astype("float64")


def parse_dates(text: pd.Series, date_format: str = "%Y-%m-%d") -> pd.Series:
    """Dates in `date_format` as calendar days; bad cells missing."""

    def convert(values: pd.Series) -> pd.Series:
        parsed = pd.to_datetime(values, format=date_format, errors="coerce")
        return parsed.dt.normalize().astype(DATE_DTYPE)

    return by_unique(text, convert).astype(DATE_DTYPE)


def parse_flags(text: pd.Series, spellings: dict[str, bool]) -> pd.Series:
    """Booleans from their spellings (lower case keys); unknown spellings missing."""
    return by_unique(text, lambda v: v.str.lower().map(spellings).astype("boolean")).astype(
        "boolean"
    )


UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")  # byte-order marks (UTF-32 LE starts like UTF-16 LE)


def layout_problem(path: Path, encoding: str = "utf-8") -> str | None:
    """What is wrong with a CSV's bytes before any parsing, or None: a file in UTF-16 (or with
    NUL bytes) when an 8-bit encoding is expected, or lines ended by CR alone (classic Mac OS),
    which the row counting and the truncation check cannot follow."""
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if "16" not in encoding and "32" not in encoding:
        if head.startswith(UTF16_MARKS):
            return f"the file is UTF-16 encoded, not {encoding} (in Excel: save as 'CSV UTF-8')"
        if b"\x00" in head:
            return f"the file holds NUL bytes (UTF-16 text, or not a text file), not {encoding}"
        if b"\r" in head and b"\n" not in head:
            return "lines end with CR alone (classic Mac OS); save it with LF or CR LF line ends"
    return None


# The most columns a file or export may have: a ledger table needs a few dozen; 40,000 columns
# (an attack, or a transposed sheet) took 42 s to import before being refused.
MAX_COLUMNS = 2_000
# The most names an error message lists.
SHOWN_NAMES = 10


def duplicated_headers(names: Iterable[object]) -> list[str]:
    """Header names given more than once (after trimming), sorted; linear in the header."""
    counts = Counter(str(name).strip() for name in names)
    return sorted(name for name, count in counts.items() if count > 1)


def too_many_columns(count: int) -> str | None:
    """Why a header of `count` columns is refused, or None."""
    if count > MAX_COLUMNS:
        return f"{count:,} columns, more than the {MAX_COLUMNS:,} payrisk reads"
    return None


def shown(names: list[str]) -> str:
    """A list of names for a message: the first SHOWN_NAMES, each cut to 40 characters."""
    cut = [name[:40] for name in names[:SHOWN_NAMES]]
    more = f" and {len(names) - SHOWN_NAMES:,} more" if len(names) > SHOWN_NAMES else ""
    return f"{cut}{more}"


def truncation_problem(path: Path, separator: bytes, header_line: int = 0) -> str | None:
    """Why a CSV looks cut short (a copy or export that stopped mid-row), or None.

    Cut short: no line end at the end of the file and fewer separators on the last line than on
    the header line (`header_line` lines are skipped before it).
    """
    size = path.stat().st_size
    with open(path, "rb") as handle:
        lines = [handle.readline() for _ in range(header_line + 1)]
        handle.seek(max(0, size - 65536))
        tail = handle.read()
    if not tail or tail.endswith((b"\n", b"\r")):
        return None
    last_line = tail.rsplit(b"\n", 1)[-1]
    if last_line.count(separator) < lines[-1].count(separator):
        return (
            "the last line has fewer fields than the header and no line end; "
            "the file looks truncated"
        )
    return None


# --- Contract tables ----------------------------------------------------------------------------
ROW_COLUMN = "_row"  # line number in a CSV file (header is line 1), row number + 1 in Parquet
RAW_PREFIX = "raw__"  # column as read, kept beside the parsed one for validation
CONTRACT_FLAGS = {**dict.fromkeys(TRUE_WORDS, True), **dict.fromkeys(FALSE_WORDS, False)}


@dataclass(frozen=True)
class ParsedTable:
    """A table as parsed from its file, with what validation needs to explain problems."""

    table: Table
    source: str  # file name only: paths can hold a customer's name
    frame: pd.DataFrame  # typed contract columns, extra columns as text, and ROW_COLUMN
    raw: pd.DataFrame  # contract columns as read, RAW_PREFIX-ed, same index as frame
    missing_columns: tuple[str, ...] = ()

    def check_frame(self) -> pd.DataFrame:
        """Typed and raw columns side by side: the frame the expectation suites run on."""
        return pd.concat([self.frame, self.raw], axis=1)


def _as_text(values: pd.Series) -> pd.Series:
    """Trimmed text with empty strings as missing; Parquet dates written as the contract's."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime(DATE_FORMAT).astype("str")
    return as_text(values)


def parse_column(values: pd.Series, kind: Kind) -> pd.Series:
    """Parse one column to its contract type; unparseable cells become missing."""
    if kind is Kind.DATE:
        if pd.api.types.is_datetime64_any_dtype(values):
            parsed = values.dt.tz_localize(None) if values.dt.tz is not None else values
            return parsed.dt.normalize().astype(DATE_DTYPE)
        return parse_dates(_as_text(values), DATE_FORMAT)
    if kind is Kind.MONEY:
        return parse_numbers(_as_text(values)).round(MONEY_DECIMALS)
    if kind is Kind.INT:
        numbers = parse_numbers(_as_text(values))
        return numbers.where(numbers == np.round(numbers)).astype("Int64")
    if kind is Kind.BOOL:
        if pd.api.types.is_bool_dtype(values):
            return values.astype("boolean")
        return parse_flags(_as_text(values), CONTRACT_FLAGS)
    if kind is Kind.CURRENCY:
        return _as_text(values).str.upper()
    if kind is Kind.CHANNEL:
        return _as_text(values).str.lower()
    return _as_text(values)


def parse_table(
    frame: pd.DataFrame, table: Table, source: str, line_numbers: np.ndarray | None = None
) -> ParsedTable:
    """Type the contract columns of a freshly read table; keep the extra ones as text.

    `line_numbers` name each row in messages (default: CSV lines from 2, or rows from 1).
    """
    if line_numbers is None:
        offset = 2 if source.lower().endswith(".csv") else 1
        line_numbers = np.arange(len(frame), dtype="int64") + offset
    frame = frame.reset_index(drop=True)
    missing = tuple(c.name for c in table.columns if c.required and c.name not in frame.columns)
    typed: dict[str, pd.Series] = {}
    raw: dict[str, pd.Series] = {}
    for column in table.columns:
        if column.name in frame.columns:
            values = frame[column.name]
            raw[RAW_PREFIX + column.name] = _as_text(values)
            typed[column.name] = parse_column(values, column.kind)
        else:
            raw[RAW_PREFIX + column.name] = pd.Series(pd.NA, index=frame.index, dtype="str")
            typed[column.name] = parse_column(raw[RAW_PREFIX + column.name], column.kind)
    extras = {c: _as_text(frame[c]) for c in frame.columns if c not in table.column_names}
    typed_frame = pd.DataFrame({**typed, **extras}, index=frame.index)
    typed_frame[ROW_COLUMN] = np.asarray(line_numbers, dtype="int64")
    return ParsedTable(
        table=table,
        source=source,
        frame=typed_frame,
        raw=pd.DataFrame(raw, index=frame.index),
        missing_columns=missing,
    )
