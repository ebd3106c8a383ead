"""CSV exports of what the pages show, safe to open in a spreadsheet.

A text cell that a spreadsheet would read as a formula (starting with =, +, -, @, a tab or a
carriage return: "CSV injection") is written with a leading apostrophe, so that a customer id or
a note typed as `=HYPERLINK(...)` stays text. Numbers are written as numbers (dot decimal, no
thousands separator), dates and times in ISO 8601. UTF-8 with a byte-order mark, so that Excel
reads accents right.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from payrisk.data.collection import COLUMNS as MONTHLY_COLUMNS
from payrisk.policy.provisions import COLUMNS as PROVISION_COLUMNS
from payrisk.serving.schemas import CreditDecisionRecord

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DECISION_COLUMNS = tuple(CreditDecisionRecord.model_fields)  # the API's record, column by column


def cell(value: object) -> object:
    """One value as the CSV holds it: text neutralised, numbers plain, missing values empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(columns: Sequence[str], rows: Iterable[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(column)) for column in columns])
    return "\ufeff" + buffer.getvalue()


def download(columns: Sequence[str], rows: list[dict], name: str, xlsx: bool) -> tuple:
    """(body, media type, file name) of a table as CSV or XLSX."""
    if xlsx:
        return to_xlsx(columns, rows, name), XLSX_MEDIA, f"{name}.xlsx"
    return to_csv(columns, rows), "text/csv; charset=utf-8", f"{name}.csv"


TABLES = {
    "credit-decisions": DECISION_COLUMNS,
    "monthly": MONTHLY_COLUMNS,
    "provisions": PROVISION_COLUMNS,
}


XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def to_xlsx(columns: Sequence[str], rows: Iterable[dict], sheet: str) -> bytes:
    """The same table as an XLSX workbook: the same cells as the CSV (text neutralised the same
    way), every text cell stored as a string, never as a formula."""
    from openpyxl import Workbook

    book = Workbook(write_only=False)
    table = book.active
    table.title = sheet[:31]
    table.append(list(columns))
    for row in rows:
        values = [cell(row.get(column)) for column in columns]
        table.append([None if value == "" else value for value in values])
    for line in table.iter_rows(min_row=2):
        for item in line:
            if isinstance(item.value, str):
                item.data_type = "s"  # openpyxl would read "=..." as a formula otherwise
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
