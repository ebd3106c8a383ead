"""Import an ERP or accounting export into one contract table, driven by a mapping file.

Exports never match the data contract: French headers, `;` separators, decimal commas, dd/mm/yyyy
dates, "Oui"/"Non", payment terms instead of due dates. A mapping file (see
configs/mapping.example.yaml) says how to read one export and which contract table it becomes, so
several exports can be imported one after the other into the same data directory.

Reading (`read_export`, I/O only) is kept apart from converting (`apply_mapping`, pure and
vectorised: a million-row export converts in seconds). Only mapped and explicitly kept columns
are carried over: names, e-mails and other personal data stay behind unless asked for.

Errors name the mapping key, the source column and the line. A cell is shown only when it is a
date, number, boolean, currency or channel: never a name or other free text.
"""

from __future__ import annotations

import codecs
import difflib
import hashlib
import hmac
import os
import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime, time
from itertools import islice
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from payrisk.core.config import ConfigError, StrictModel, load_config
from payrisk.core.storage import TABLE_SUFFIXES, write_table
from payrisk.data.contract import (
    CHANNELS,
    CURRENCY_CODES,
    DATE_DTYPE,
    DATE_FORMAT,
    FALSE_WORDS,
    MONEY_DECIMALS,
    TABLES,
    TRUE_WORDS,
    Kind,
    Table,
)
from payrisk.data.parsing import (
    RAW_PREFIX,
    ROW_COLUMN,
    as_text,
    by_unique,
    duplicated_headers,
    layout_problem,
    parse_dates,
    parse_flags,
    parse_numbers,
    shown,
    too_many_columns,
    truncation_problem,
)

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
MAX_EXAMPLES = 3  # bad cells quoted per column and problem; the rest are counted
MAX_DAYS = 36_500  # a payment term or delay beyond 100 years is a wrong column, not a term
PSEUDONYM_PREFIX = "ps-"  # never all digits: spreadsheets cannot turn a pseudonym into a number
PSEUDONYM_HEX_DIGITS = 20  # 80 bits: no collision in any realistic number of customers
MIN_KEY_LENGTH = 16  # ids are guessable (C00001...), so the key is the only secret
# Thousands separators written as a space: plain, no-break (Excel, LibreOffice), figure and
# narrow no-break (recent CLDR locales). Literal characters, not \s, so that pyarrow runs it.
# Kinds whose cells may be rewritten by `values` before parsing (categorical fields).
VALUE_MAP_KINDS = (Kind.TEXT, Kind.CHANNEL, Kind.BOOL, Kind.INT)
# YAML 1.1 reads these unquoted words as booleans; a spelling list gets them all back.
YAML_TRUE_WORDS = ("true", "yes", "on")
YAML_FALSE_WORDS = ("false", "no", "off")


class ExportImportError(ValueError):
    """An export cannot be converted: a mapped column is missing or cells do not parse."""


# --- Mapping file -------------------------------------------------------------------------------


def _scalar_as_text(value: Any) -> Any:
    """YAML reads 1 as a number and Yes/No/On/Off as booleans; a label is text, so say so."""
    if isinstance(value, bool):
        raise ValueError(
            "YAML reads unquoted Yes/No/On/Off/true/false as a boolean; put the text in quotes, "
            "e.g. 'Non'"
        )
    if isinstance(value, int):
        return str(value)
    return value


def normalise_name(name: str) -> str:
    """One spelling per header: trimmed, accents composed (macOS files decompose them)."""
    return unicodedata.normalize("NFC", name).strip()


def _non_empty_name(name: str) -> str:
    name = normalise_name(name)
    if not name:
        raise ValueError("a column name cannot be empty")
    return name


Label = Annotated[str, BeforeValidator(_scalar_as_text)]
SourceName = Annotated[str, AfterValidator(_non_empty_name), BeforeValidator(_scalar_as_text)]


def _check_date_format(fmt: str) -> str:
    """A format must round-trip a date: 'dd/mm/yyyy' (not strftime) would parse nothing."""
    sample = datetime(2024, 12, 31)
    try:
        round_trip = datetime.strptime(sample.strftime(fmt), fmt)
    except ValueError:
        round_trip = None
    if round_trip is None or round_trip.date() != sample.date():
        raise ValueError(
            f"{fmt!r} is not a strftime date format with day, month and year, e.g. '%d/%m/%Y'"
        )
    return fmt


DateFormat = Annotated[str, AfterValidator(_check_date_format)]


class CsvOptions(StrictModel):
    """How the CSV file is written. decimal and thousands also apply to numbers stored as text in
    an .xlsx sheet."""

    separator: str = Field(",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    decimal: Literal[".", ","] = "."
    thousands: str | None = Field(None, min_length=1, max_length=1)
    quote_char: str = Field('"', min_length=1, max_length=1)
    skip_rows: int = Field(0, ge=0, le=1000, description="Lines before the header line.")
    skip_footer: int = Field(0, ge=0, le=1000, description="Rows after the data (totals).")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"unknown encoding {value!r}; use e.g. utf-8, cp1252 or latin-1"
            ) from None
        return value

    @model_validator(mode="after")
    def _separators_differ(self) -> CsvOptions:
        if self.thousands == self.decimal:
            raise ValueError(f"thousands and decimal are both {self.decimal!r}")
        return self


class ExcelOptions(StrictModel):
    """Which sheet of an .xlsx file holds the export, and where its header is."""

    sheet: int | str | None = Field(None, description="Name, or 0-based position; first if unset.")
    skip_rows: int = Field(0, ge=0, le=1000)
    skip_footer: int = Field(0, ge=0, le=1000)


class BooleanSpellings(StrictModel):
    """Cell texts meaning true and false, compared case-insensitively; "" is an empty cell."""

    true: tuple[Label, ...] = tuple(sorted(TRUE_WORDS))
    false: tuple[Label, ...] = tuple(sorted(FALSE_WORDS))

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, data: Any) -> Any:
        """`true:` and `Yes` unquoted are YAML booleans: give them back their words."""
        if not isinstance(data, dict):
            return data
        fixed: dict[Any, Any] = {}
        for key, words in data.items():
            name = {True: "true", False: "false"}.get(key, key) if isinstance(key, bool) else key
            if name in ("true", "false") and isinstance(words, list | tuple):
                yaml_words = YAML_TRUE_WORDS if name == "true" else YAML_FALSE_WORDS
                expanded: list[Any] = []
                for word in words:
                    is_own_boolean = isinstance(word, bool) and word == (name == "true")
                    expanded.extend(yaml_words if is_own_boolean else [word])
                words = expanded
            fixed[name] = words
        return fixed

    @model_validator(mode="after")
    def _disjoint(self) -> BooleanSpellings:
        both = {w.strip().lower() for w in self.true} & {w.strip().lower() for w in self.false}
        if both:
            raise ValueError(f"spelling(s) {sorted(both)} listed as both true and false")
        return self

    def lookup(self) -> dict[str, bool]:
        """Lower-cased spelling -> value; 'true'/'false' always read (xlsx boolean cells)."""
        words = {w.strip().lower(): True for w in self.true}
        words |= {w.strip().lower(): False for w in self.false}
        for word, value in (("true", True), ("false", False)):
            words.setdefault(word, value)
        return words


class DaysAfter(StrictModel):
    """A date as another date plus days: a column of days, or a fixed number of days."""

    from_days_after: str = Field(description="Date column of the table the days count from.")
    column: SourceName | None = Field(None, description="Source column holding the days.")
    days: int | None = Field(None, ge=-MAX_DAYS, le=MAX_DAYS)
    end_of_month: Literal["after_days", "before_days"] | None = Field(
        None,
        description="after_days: add the days, then go to the end of that month (45 jours fin "
        "de mois); before_days: go to the end of the month, then add the days.",
    )

    @model_validator(mode="after")
    def _one_source_of_days(self) -> DaysAfter:
        if (self.column is None) == (self.days is None):
            raise ValueError("give exactly one of column (days per row) or days (fixed)")
        return self


class Pseudonymisation(StrictModel):
    """Replace ids by a keyed hash (HMAC-SHA256): stable across imports with the same key."""

    key_env: str = Field("PAYRISK_PSEUDONYM_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    columns: tuple[str, ...] = Field(("customer_id",), min_length=1)


class Mapping(StrictModel):
    """How one export becomes one contract table (see configs/mapping.example.yaml)."""

    table: Literal[tuple(TABLES)] = "invoices"  # type: ignore[valid-type]  # the contract's
    format: Literal["csv", "parquet"] = "csv"
    columns: dict[str, SourceName] = Field(min_length=1)
    keep_columns: tuple[SourceName | dict[SourceName, str], ...] = ()
    csv: CsvOptions = Field(default_factory=CsvOptions)
    excel: ExcelOptions = Field(default_factory=ExcelOptions)
    date_format: DateFormat = DATE_FORMAT
    date_formats: dict[str, DateFormat] = Field(default_factory=dict)
    booleans: BooleanSpellings = Field(default_factory=BooleanSpellings)
    default_currency: str | None = None
    currency_map: dict[Label, str] = Field(default_factory=dict)
    values: dict[str, dict[Label, Label]] = Field(default_factory=dict)
    derive: dict[str, DaysAfter] = Field(default_factory=dict)
    undated_disputes_known_from: date | None = Field(
        None,
        description="invoices: the day a `disputed` flag without dispute_date was known (the "
        "export's date); it becomes the dispute_date (the issue date if later). Unset: such flags "
        "stay undated and are not used as features.",
    )
    pseudonymise_ids: Pseudonymisation | None = None

    @field_validator("pseudonymise_ids", mode="before")
    @classmethod
    def _switch(cls, value: Any) -> Any:
        """`pseudonymise_ids: true` means the defaults; false means off."""
        if value is True:
            return {}
        if value is False:
            return None
        return value

    @field_validator("default_currency")
    @classmethod
    def _iso_currency(cls, value: str | None) -> str | None:
        if value is not None and value.strip().upper() not in CURRENCY_CODES:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return None if value is None else value.strip().upper()

    @field_validator("currency_map")
    @classmethod
    def _iso_currencies(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(v for v in value.values() if v.strip().upper() not in CURRENCY_CODES)
        if unknown:
            raise ValueError(f"{unknown} are not ISO 4217 currency codes")
        return {k: v.strip().upper() for k, v in value.items()}

    @model_validator(mode="after")
    def _fits_table(self) -> Mapping:
        problems = _mapping_problems(self)
        if problems:
            raise ValueError("\n    ".join(problems))
        return self

    @property
    def spec(self) -> Table:
        return TABLES[self.table]

    def kept(self) -> list[tuple[str, str]]:
        """(source column, output name) of the extra columns carried over."""
        pairs: list[tuple[str, str]] = []
        for item in self.keep_columns:
            if isinstance(item, str):
                pairs.append((item, item))
            else:
                pairs.extend((source, target.strip()) for source, target in item.items())
        return pairs

    def date_format_for(self, column: str) -> str:
        return self.date_formats.get(column, self.date_format)

    def source_date_formats(self) -> dict[str, str]:
        """Source column -> date format, to write xlsx date cells the way a CSV would."""
        spec = self.spec
        return {
            source: self.date_format_for(name)
            for name, source in self.columns.items()
            if name in spec.column_names and spec.column(name).kind is Kind.DATE
        }


def _mapping_problems(mapping: Mapping) -> list[str]:
    """Cross-field checks against the contract table; every problem, not only the first."""
    spec = mapping.spec
    names = spec.column_names
    dates = [c.name for c in spec.columns if c.kind is Kind.DATE]
    mapped_dates = [n for n in mapping.columns if n in dates]
    problems = [
        f"columns.{name}: not a column of table {spec.name} (columns: {', '.join(names)})"
        for name in mapping.columns
        if name not in names
    ]
    for name, rule in mapping.derive.items():
        if name not in dates:
            problems.append(
                f"derive.{name}: only date columns of table {spec.name} can be derived "
                f"({', '.join(dates)})"
            )
        elif name in mapping.columns:
            problems.append(f"derive.{name}: also mapped in columns; map it or derive it")
        if rule.from_days_after not in mapped_dates:
            problems.append(
                f"derive.{name}.from_days_after: {rule.from_days_after!r} is not a date column "
                f"mapped in columns (mapped: {', '.join(mapped_dates) or 'none'})"
            )
    if mapping.undated_disputes_known_from is not None and "disputed" not in mapping.columns:
        problems.append("undated_disputes_known_from: only for a disputed column mapped in columns")
    has_currency = "currency" in names
    if not has_currency and (mapping.default_currency or mapping.currency_map):
        key = "default_currency" if mapping.default_currency else "currency_map"
        problems.append(f"{key}: table {spec.name} has no currency column")
    provided = set(mapping.columns) | set(mapping.derive)
    if has_currency and mapping.default_currency:
        provided.add("currency")
    for name in spec.required_columns:
        if name not in provided:
            how = {"due_date": ", or derive it", "currency": ", or set default_currency"}
            problems.append(
                f"columns.{name}: table {spec.name} requires it; map it{how.get(name, '')}"
            )
    problems.extend(
        f"date_formats.{name}: not a date column mapped in columns "
        f"(mapped: {', '.join(mapped_dates) or 'none'})"
        for name in mapping.date_formats
        if name not in mapped_dates
    )
    problems.extend(_value_map_problems(mapping))
    problems.extend(_pseudonymisation_problems(mapping))
    problems.extend(_kept_problems(mapping))
    return problems


def _value_map_problems(mapping: Mapping) -> list[str]:
    spec = mapping.spec
    problems: list[str] = []
    for name, table in mapping.values.items():
        if name not in mapping.columns or name not in spec.column_names:
            problems.append(f"values.{name}: not a column mapped in columns")
            continue
        kind = spec.column(name).kind
        if kind not in VALUE_MAP_KINDS:
            problems.append(
                f"values.{name}: {kind.value} columns take no value map "
                f"(only {', '.join(k.value for k in VALUE_MAP_KINDS)})"
            )
        lowered = [k.strip().lower() for k in table]
        clashes = sorted({k for k in lowered if lowered.count(k) > 1})
        if clashes:
            problems.append(f"values.{name}: {clashes} given twice (case is ignored)")
        if kind is Kind.CHANNEL:
            unknown = sorted({v for v in table.values() if v.strip().lower() not in CHANNELS})
            if unknown:
                problems.append(
                    f"values.{name}: {unknown} are not channels ({', '.join(CHANNELS)})"
                )
    return problems


def _pseudonymisation_problems(mapping: Mapping) -> list[str]:
    if mapping.pseudonymise_ids is None:
        return []
    spec = mapping.spec
    ids = [c.name for c in spec.columns if c.kind is Kind.ID]
    problems = [
        f"pseudonymise_ids.columns: {name!r} is not an id column mapped in columns "
        f"(id columns of {spec.name}: {', '.join(ids)})"
        for name in mapping.pseudonymise_ids.columns
        if name not in ids or name not in mapping.columns
    ]
    hidden = {mapping.columns[n] for n in mapping.pseudonymise_ids.columns if n in mapping.columns}
    problems.extend(
        f"keep_columns: {source!r} holds pseudonymised ids; keeping it would leak them"
        for source, _ in mapping.kept()
        if source in hidden
    )
    return problems


def _kept_problems(mapping: Mapping) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for source, target in mapping.kept():
        if not target:
            problems.append(f"keep_columns: {source!r} renamed to an empty name")
        elif target in mapping.spec.column_names:
            problems.append(
                f"keep_columns: {target!r} is a contract column of {mapping.table}; "
                "map it in columns or keep it under another name"
            )
        elif target == ROW_COLUMN or target.startswith(RAW_PREFIX):
            problems.append(f"keep_columns: {target!r} is a name reserved by the loader")
        elif target in seen:
            problems.append(f"keep_columns: {target!r} would be written twice")
        seen.add(target)
    return problems


def load_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file; a ConfigError names the file and the field path."""
    return load_config(path, Mapping)


# --- Reading an export (I/O only) ---------------------------------------------------------------


def read_export(path: str | Path, mapping: Mapping) -> pd.DataFrame:
    """Every cell of a CSV or .xlsx export as text ("" when empty), headers normalised.

    The index holds the source line number (the header is line 1 unless rows are skipped) so
    that errors point to the line a user sees in a spreadsheet. Blank rows are dropped.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: export file not found")
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        header, body = _read_excel_cells(path, mapping)
        skip_rows, skip_footer = mapping.excel.skip_rows, mapping.excel.skip_footer
    elif suffix in CSV_SUFFIXES:
        header, body = _read_csv_cells(path, mapping.csv)
        skip_rows, skip_footer = mapping.csv.skip_rows, mapping.csv.skip_footer
    else:
        raise ExportImportError(
            f"{path.name}: unsupported export format {suffix!r}; use CSV "
            f"({', '.join(CSV_SUFFIXES)}) or Excel ({', '.join(EXCEL_SUFFIXES)})"
        )
    names = _header_names(header, path.name)
    body = body.set_axis(names, axis=1)
    body.index = pd.RangeIndex(skip_rows + 2, skip_rows + 2 + len(body), name="line")
    filled = np.zeros(len(body), dtype=bool)
    for name in names:
        filled |= body[name].str.strip().ne("").to_numpy()
    body = body[filled]
    if skip_footer:
        body = body.iloc[: max(0, len(body) - skip_footer)]
    if body.empty:
        raise ExportImportError(
            f"{path.name}: no data rows below the header (skip_rows={skip_rows}, "
            f"skip_footer={skip_footer})"
        )
    return body


def _header_names(header: Iterable[Any], source_name: str) -> list[str]:
    """The export's column names, normalised; refused when there are too many or one is given
    twice (linear: a 40,000-column header took 42 s to check pairwise)."""
    cells = list(header)
    problem = too_many_columns(len(cells))
    if problem:
        raise ExportImportError(f"{source_name}: {problem}")
    names = [
        normalise_name(str(cell)) if cell is not None and str(cell).strip() else f"Unnamed: {i}"
        for i, cell in enumerate(cells)
    ]
    duplicated = duplicated_headers(names)
    if duplicated:
        raise ExportImportError(f"{source_name}: duplicated column header(s) {shown(duplicated)}")
    return names


def _read_csv_cells(path: Path, options: CsvOptions) -> tuple[list[str], pd.DataFrame]:
    encoding = options.encoding
    if codecs.lookup(encoding).name == "utf-8":
        encoding = "utf-8-sig"  # Excel's "CSV UTF-8" starts with a byte-order mark
    separator = options.separator.encode(options.encoding, "replace")
    problem = layout_problem(path, codecs.lookup(options.encoding).name) or truncation_problem(
        path, separator, options.skip_rows
    )
    if problem:
        raise ExportImportError(f"{path.name}: {problem}")
    try:
        cells = pd.read_csv(
            path,
            sep=options.separator,
            encoding=encoding,
            quotechar=options.quote_char,
            header=None,
            dtype="str",
            na_filter=False,
            skiprows=options.skip_rows,
            skip_blank_lines=False,
            engine="c",
        )
    except UnicodeDecodeError:
        raise ExportImportError(
            f"{path.name}: not valid {options.encoding} text; set csv.encoding "
            "(exports from Windows software are often cp1252)"
        ) from None
    except pd.errors.EmptyDataError:
        raise ExportImportError(
            f"{path.name}: no header line (csv.skip_rows={options.skip_rows})"
        ) from None
    except pd.errors.ParserError as error:
        # The parser's message can quote cells; keep only the field counts and the line.
        found = re.search(r"Expected \d+ fields in line \d+, saw \d+", str(error))
        detail = f" ({found.group(0).lower()}; is csv.separator right?)" if found else ""
        raise ExportImportError(f"{path.name}: cannot be read as CSV{detail}") from None
    cells = cells.fillna("")
    header = cells.iloc[0].tolist()
    return header, cells.iloc[1:].reset_index(drop=True)


def _read_excel_cells(path: Path, mapping: Mapping) -> tuple[list[Any], pd.DataFrame]:
    """Cells of one sheet as the text a CSV export with the mapping's conventions would hold."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception:  # openpyxl raises zip, XML and key errors for a damaged or foreign file
        raise ExportImportError(f"{path.name}: not a readable .xlsx workbook") from None
    try:
        sheet = mapping.excel.sheet
        if sheet is None:
            worksheet = workbook.worksheets[0]
        elif isinstance(sheet, int) and 0 <= sheet < len(workbook.worksheets):
            worksheet = workbook.worksheets[sheet]
        elif isinstance(sheet, str) and sheet in workbook.sheetnames:
            worksheet = workbook[sheet]
        else:
            raise ExportImportError(
                f"mapping.excel.sheet: no sheet {sheet!r} in {path.name} "
                f"(sheets: {', '.join(workbook.sheetnames)})"
            )
        rows = islice(
            worksheet.iter_rows(min_row=1, values_only=True), mapping.excel.skip_rows, None
        )
        header = list(next(rows, None) or ())
        if not header:
            raise ExportImportError(
                f"{path.name}: no header row (excel.skip_rows={mapping.excel.skip_rows})"
            )
        date_formats = mapping.source_date_formats()
        formats = [date_formats.get(n, DATE_FORMAT) for n in _header_names(header, path.name)]
        decimal = mapping.csv.decimal
        width = len(header)
        body: list[list[str]] = []
        for offset, row in enumerate(rows):
            if any(cell is not None for cell in row[width:]):
                line = mapping.excel.skip_rows + 2 + offset
                raise ExportImportError(f"{path.name} line {line}: more cells than header columns")
            cells = list(row[:width]) + [None] * (width - len(row))
            body.append([_cell_text(c, f, decimal) for c, f in zip(cells, formats, strict=True)])
    finally:
        workbook.close()
    frame = pd.DataFrame(body, columns=range(width), dtype="str")
    return header, frame


def _cell_text(value: Any, date_format: str, decimal: str) -> str:
    """A typed spreadsheet cell written as text in the export's conventions."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.strftime(date_format)
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return repr(value).replace(".", decimal)
    return str(value)


# --- Converting (pure) --------------------------------------------------------------------------


class _Problems:
    """Bad cells, grouped per column and problem: a few examples each, and a count."""

    def __init__(self, source_name: str, lines: pd.Index) -> None:
        self.source_name = source_name
        self.lines = lines
        self.messages: list[str] = []
        self.bad_cells = 0

    def check(self, bad: pd.Series, column: str, cells: pd.Series, problem: str) -> None:
        flags = bad.fillna(False).to_numpy(dtype=bool)
        count = int(flags.sum())
        if not count:
            return
        self.bad_cells += count
        for position in np.flatnonzero(flags)[:MAX_EXAMPLES]:
            shown = _shown(cells.iloc[position])
            self.messages.append(
                f"{self.source_name} line {self.lines[position]}, column {column!r}: "
                f"{shown} {problem}"
            )
        if count > MAX_EXAMPLES:
            self.messages.append(
                f"{self.source_name}: {count - MAX_EXAMPLES} more line(s) in column {column!r} "
                f"with the same problem ({count} in all)"
            )

    def raise_if_any(self) -> None:
        if not self.messages:
            return
        if len(self.messages) == 1:
            raise ExportImportError(self.messages[0])
        header = f"{self.source_name}: {self.bad_cells} cell(s) cannot be converted"
        raise ExportImportError("\n".join([header, *(f"  - {m}" for m in self.messages)]))


def _shown(cell: Any) -> str:
    text = str(cell)
    return repr(text if len(text) <= 40 else text[:40] + "...")


def _map_values(text: pd.Series, table: dict[str, str]) -> pd.Series:
    """Rewrite categorical labels ('Courrier' -> letter); case and outer spaces ignored."""
    lookup = {k.strip().lower(): v.strip() for k, v in table.items()}

    def convert(values: pd.Series) -> pd.Series:
        mapped = values.str.lower().map(lookup)
        return values.where(mapped.isna(), mapped).astype("str")

    return as_text(by_unique(text, convert))


def _convert(
    text: pd.Series, name: str, source: str, mapping: Mapping, problems: _Problems
) -> pd.Series:
    """One mapped column from trimmed text to its contract type."""
    kind = mapping.spec.column(name).kind
    present = text.notna()
    if kind is Kind.DATE:
        fmt = mapping.date_format_for(name)
        dates = parse_dates(text, fmt)
        problems.check(present & dates.isna(), source, text, f"is not a date in format {fmt}")
        return dates
    if kind in (Kind.MONEY, Kind.INT):
        numbers = parse_numbers(text, mapping.csv.decimal, mapping.csv.thousands)
        conventions = f"decimal {mapping.csv.decimal!r}, thousands {mapping.csv.thousands!r}"
        if kind is Kind.MONEY:
            problems.check(
                present & numbers.isna(), source, text, f"is not a number ({conventions})"
            )
            return numbers.round(MONEY_DECIMALS)
        whole = numbers.where(numbers == np.round(numbers))
        problems.check(present & whole.isna(), source, text, "is not a whole number")
        return whole.astype("Int64")
    if kind is Kind.BOOL:
        return _convert_booleans(text, source, mapping.booleans, problems)
    if kind is Kind.CURRENCY:
        lookup = {k.strip().lower(): v for k, v in mapping.currency_map.items()}
        codes = by_unique(
            text, lambda v: v.str.lower().map(lookup).fillna(v.str.upper()).astype("str")
        )
        if mapping.default_currency:
            codes = codes.fillna(mapping.default_currency)
        problems.check(
            present & ~codes.isin(CURRENCY_CODES),
            source,
            text,
            "is not an ISO 4217 currency code; map it in currency_map",
        )
        return codes
    if kind is Kind.CHANNEL:
        channels = text.str.lower()
        problems.check(
            present & ~channels.isin(CHANNELS),
            source,
            text,
            f"is not a channel ({', '.join(CHANNELS)}); map it in values.{name}",
        )
        return channels
    return text


def _convert_booleans(
    text: pd.Series, source: str, spellings: BooleanSpellings, problems: _Problems
) -> pd.Series:
    lookup = spellings.lookup()
    flags = parse_flags(text, lookup)
    known = sorted(w or '""' for w in lookup)
    problems.check(
        text.notna() & flags.isna(),
        source,
        text,
        f"is not a true/false spelling of booleans ({', '.join(known)})",
    )
    if "" in lookup:
        flags = flags.fillna(lookup[""])
    return flags


def _derive_date(
    name: str,
    rule: DaysAfter,
    converted: dict[str, pd.Series],
    export: pd.DataFrame,
    mapping: Mapping,
    problems: _Problems,
) -> pd.Series:
    """A date as a mapped date plus days; an empty days cell leaves it empty (still open)."""
    base = converted[rule.from_days_after]
    if rule.end_of_month == "before_days":
        base = base + pd.offsets.MonthEnd(0)
    if rule.column is None:
        days = pd.Series(float(rule.days or 0), index=base.index)
    else:
        text = as_text(export[rule.column])
        days = parse_numbers(text, mapping.csv.decimal, mapping.csv.thousands)
        days = days.where((days == np.round(days)) & (days.abs() <= MAX_DAYS))
        problems.check(
            text.notna() & days.isna(),
            rule.column,
            text,
            f"is not a whole number of days (derive.{name})",
        )
    derived = base + pd.to_timedelta(days, unit="D")
    if rule.end_of_month == "after_days":
        derived = derived + pd.offsets.MonthEnd(0)
    return derived.astype(DATE_DTYPE)


def _check_sources(export: pd.DataFrame, mapping: Mapping, source_name: str) -> None:
    """Every source column the mapping names must be in the export; list all that are not."""
    wanted = [(f"columns.{name}", source) for name, source in mapping.columns.items()]
    wanted += [
        (f"derive.{name}.column", rule.column)
        for name, rule in mapping.derive.items()
        if rule.column is not None
    ]
    wanted += [(f"keep_columns.{i}", source) for i, (source, _) in enumerate(mapping.kept())]
    found = [str(c) for c in export.columns]
    if len(found) == 1 and any(sep in found[0] for sep in ";,\t|"):
        raise ExportImportError(
            f"{source_name}: the header reads as a single column {found[0]!r}; is csv.separator "
            f"right (now {mapping.csv.separator!r})?"
        )
    messages = []
    for key, source in wanted:
        if source in found:
            continue
        close = difflib.get_close_matches(source, found, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        listed = ", ".join(repr(c) for c in found[:30]) + (", ..." if len(found) > 30 else "")
        messages.append(
            f"mapping.{key}: source column {source!r} not found in {source_name} "
            f"(found: {listed}){hint}"
        )
    if messages:
        raise ExportImportError("\n".join(messages))


def pseudonymise(values: pd.Series, column: str, key: bytes) -> pd.Series:
    """Ids replaced by a keyed hash: same key and id, same pseudonym; irreversible without key.

    The contract column name is hashed in too, so an invoice and a customer sharing a number do
    not get the same pseudonym (which would reveal it).
    """

    def pseudonym(value: str) -> str:
        digest = hmac.new(key, f"{column}\x1f{value}".encode(), hashlib.sha256).hexdigest()
        return PSEUDONYM_PREFIX + digest[:PSEUDONYM_HEX_DIGITS]

    return by_unique(values, lambda ids: pd.Series([pseudonym(v) for v in ids], dtype="str"))


def pseudonym_key(mapping: Mapping) -> bytes | None:
    """The pseudonymisation key from the environment variable the mapping names, if it asks."""
    if mapping.pseudonymise_ids is None:
        return None
    name = mapping.pseudonymise_ids.key_env
    key = os.environ.get(name, "")
    if not key:
        raise ConfigError(
            f"pseudonymise_ids.key_env: environment variable {name} is not set; set it to a "
            f"secret of at least {MIN_KEY_LENGTH} characters and keep it (the same key gives "
            "the same pseudonyms in every import)"
        )
    if len(key) < MIN_KEY_LENGTH:
        raise ConfigError(
            f"pseudonymise_ids.key_env: {name} is shorter than {MIN_KEY_LENGTH} characters; "
            "ids are easy to guess, so a short key does not protect them"
        )
    return key.encode("utf-8")


def apply_mapping(
    export: pd.DataFrame,
    mapping: Mapping,
    source_name: str,
    *,
    pseudonym_key: bytes | None = None,
) -> pd.DataFrame:
    """The contract table an export maps to, in contract dtypes (as `parse_table` types them).

    `export` holds text cells as `read_export` returns them; its index gives the line numbers
    quoted in errors. Contract columns come in contract order (unmapped optional ones left out),
    then the kept columns as text. Raises ExportImportError listing every bad cell kind.
    """
    export = export.set_axis([normalise_name(str(c)) for c in export.columns], axis=1)
    _check_sources(export, mapping, source_name)
    if mapping.pseudonymise_ids is not None and not pseudonym_key:
        raise ConfigError(
            f"pseudonymise_ids: the mapping asks for pseudonyms but no key was given "
            f"(set {mapping.pseudonymise_ids.key_env})"
        )
    problems = _Problems(source_name, export.index)
    converted: dict[str, pd.Series] = {}
    for name, source in mapping.columns.items():
        text = as_text(export[source])
        if name in mapping.values:
            text = _map_values(text, mapping.values[name])
        converted[name] = _convert(text, name, source, mapping, problems)
    for name, rule in mapping.derive.items():
        converted[name] = _derive_date(name, rule, converted, export, mapping, problems)
    columns = mapping.spec.column_names
    if "currency" in columns and "currency" not in converted and mapping.default_currency:
        converted["currency"] = pd.Series(mapping.default_currency, index=export.index, dtype="str")
    problems.raise_if_any()
    if mapping.undated_disputes_known_from is not None:
        converted["dispute_date"] = _date_undated_disputes(
            converted, pd.Timestamp(mapping.undated_disputes_known_from)
        )
    if mapping.pseudonymise_ids is not None and pseudonym_key:
        for name in mapping.pseudonymise_ids.columns:
            converted[name] = pseudonymise(converted[name], name, pseudonym_key)
    table = {name: converted[name] for name in columns if name in converted}
    kept = {target: as_text(export[source]) for source, target in mapping.kept()}
    return pd.DataFrame({**table, **kept}, index=export.index).reset_index(drop=True)


def _date_undated_disputes(converted: dict[str, pd.Series], known_from: pd.Timestamp) -> pd.Series:
    """dispute_date of flagged invoices without one: the day the flag was known, never earlier
    than the invoice itself (a flag is not known from the issue date unless told so)."""
    flagged = converted["disputed"].fillna(False).astype("bool")
    index = flagged.index
    dated = converted.get("dispute_date", pd.Series(pd.NaT, index=index, dtype=DATE_DTYPE))
    issue = converted["issue_date"]
    known = issue.where(issue > known_from, known_from).astype(DATE_DTYPE)
    return dated.where(dated.notna() | ~flagged, known).astype(DATE_DTYPE)


# --- Wiring -------------------------------------------------------------------------------------


def file_form(table: pd.DataFrame) -> pd.DataFrame:
    """Booleans as true/false text, the contract's spelling in CSV files (pandas writes True)."""
    out = table.copy()
    for name in out.columns:
        if pd.api.types.is_bool_dtype(out[name]):
            flags = out[name].astype("boolean")
            out[name] = flags.map({True: "true", False: "false"}).astype("str")
    return out


def import_export(
    source: str | Path,
    mapping_path: str | Path,
    out_dir: str | Path,
    overwrite: bool = False,
) -> Path:
    """Convert an export into `out_dir/<table>.<format>`; on any error nothing is written."""
    source = Path(source)
    mapping = load_mapping(mapping_path)
    out_dir = Path(out_dir)
    target = out_dir / f"{mapping.table}.{mapping.format}"
    existing = [
        out_dir / f"{mapping.table}{suffix}"
        for suffix in TABLE_SUFFIXES
        if (out_dir / f"{mapping.table}{suffix}").exists()
    ]
    if existing and not overwrite:
        raise FileExistsError(
            f"{existing[0]} already exists; use overwrite (--overwrite) to replace it"
        )
    key = pseudonym_key(mapping)
    export = read_export(source, mapping)
    table = apply_mapping(export, mapping, source.name, pseudonym_key=key)
    write_table(file_form(table) if mapping.format == "csv" else table, target)
    for stale in existing:
        if stale != target:  # the other format would make the data directory ambiguous
            stale.unlink()
    return target
