"""Atomic writes: a reader sees the old file or the new one, never half of one.

Every artifact payrisk writes (tables, reports, models, snapshots) goes through here: the content is
written to a temporary file in the destination folder, flushed, then renamed over the target.
A process killed mid-write leaves a hidden `.name.*.tmp` beside the target; the next write into
that folder removes such debris once it is older than STALE_SECONDS (younger ones may belong to a
writer still at work). A folder a kill caught between the two renames of `atomic_directory` is
put back from its `.name.old` backup by the next write of that folder.

Every CSV payrisk writes is safe to open in a spreadsheet (OWASP, "CSV injection"): a text cell or
header that starts with `=`, `+`, `-`, `@`, a tab or a carriage return, and is not a plain number,
is written with a leading `'`, so that Excel or LibreOffice shows it as text instead of running it
as a formula (`=HYPERLINK(...)`, `@SUM(...)`). payrisk's own CSV reader (`restore_formulas`) takes
that quote off again, so ids survive a round trip exactly (a value that itself starts with quotes
before such a character gets one quote more, and loses only that one).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

TABLE_SUFFIXES = (".csv", ".parquet")
# Errors of the file system that a user fixes (space, rights), not bugs: a message, no traceback.
WRITE_FAILURES = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
)
STALE_SECONDS = 3600.0
FORMULA_QUOTE = "'"
# A cell a spreadsheet would evaluate: a formula trigger first, and not a plain signed number.
# Cells that already start with quotes before a trigger get one more, so that reading back (which
# takes exactly one off) gives every value as it was.
FORMULA_PATTERN = r"^'*[=+\-@\t\r]"
PLAIN_NUMBER_PATTERN = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"


# mkstemp/mkdtemp names: ".<target name>.<8 random characters>.tmp"
DEBRIS_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def _backup_of(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def sweep_debris(folder: str | Path, stale_seconds: float = STALE_SECONDS) -> list[str]:
    """Remove temporaries that killed writes left in `folder`; return the names removed.

    Only names of the form this module creates, and only once older than `stale_seconds`, so a
    write still in progress in another process keeps its temporary.
    """
    folder = Path(folder)
    removed: list[str] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for entry in os.scandir(folder):
        if not DEBRIS_NAME.match(entry.name):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime < stale_seconds:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except FileNotFoundError:  # another process cleaned it first
            continue
        removed.append(entry.name)
    return removed


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it over `target` if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_debris(target.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would surprise other readers
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder; swap it in place of `target` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_debris(target.parent)
    backup = _backup_of(target)
    if backup.is_dir() and not target.exists():  # a kill between the two renames below
        os.replace(backup, target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        replaced = target.exists()
        if replaced:
            if backup.exists():
                shutil.rmtree(backup)
            os.replace(target, backup)
        os.replace(tmp, target)
        if replaced:
            shutil.rmtree(backup, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def promote_directory(source: str | Path, target: str | Path) -> None:
    """Put the finished folder `source` in place of `target` (same file system) with the swap of
    `atomic_directory`: a reader sees the old folder or the new one, never a mix."""
    source = Path(source)
    with atomic_directory(target) as tmp:
        tmp.rmdir()
        os.replace(source, tmp)


@contextmanager
def atomic_file_and_folder(
    file_target: str | Path, folder_target: str | Path
) -> Iterator[tuple[Path, Path]]:
    """Yield a temporary file and a temporary folder; put both in place only if the block
    succeeds, the folder first. If putting the file in place fails, the old folder is put back:
    readers see the old pair or the new pair (a kill between the two renames, a moment after the
    whole content was written, is the one window where the new folder stands beside the old
    file)."""
    file_target, folder_target = Path(file_target), Path(folder_target)
    for target in (file_target, folder_target):
        target.parent.mkdir(parents=True, exist_ok=True)
        sweep_debris(target.parent)
    backup = _backup_of(folder_target)
    if backup.is_dir() and not folder_target.exists():  # a kill between two renames
        os.replace(backup, folder_target)
    fd, file_name = tempfile.mkstemp(
        prefix=f".{file_target.name}.", suffix=".tmp", dir=file_target.parent
    )
    os.close(fd)
    file_tmp = Path(file_name)
    folder_tmp = Path(
        tempfile.mkdtemp(prefix=f".{folder_target.name}.", suffix=".tmp", dir=folder_target.parent)
    )
    try:
        yield file_tmp, folder_tmp
        with open(file_tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(file_tmp, 0o666 & ~_umask())
        replaced = folder_target.exists()
        if replaced:
            if backup.exists():
                shutil.rmtree(backup)
            os.replace(folder_target, backup)
        os.replace(folder_tmp, folder_target)
        try:
            os.replace(file_tmp, file_target)
        except BaseException:
            shutil.rmtree(folder_target, ignore_errors=True)
            if replaced:
                os.replace(backup, folder_target)
            raise
        if replaced:
            shutil.rmtree(backup, ignore_errors=True)
    finally:
        if file_tmp.exists():
            file_tmp.unlink()
        if folder_tmp.exists():
            shutil.rmtree(folder_tmp, ignore_errors=True)


def write_text(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | Path, payload: Any) -> None:
    write_text(target, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def write_with(target: str | Path, writer: Callable[[Path], None]) -> None:
    """Atomically write `target` with any function that writes a file at a given path."""
    with atomic_path(target) as tmp:
        writer(tmp)


def _formula_cells(text: pd.Series) -> pd.Series:
    """Which cells of a text column a spreadsheet would run as a formula."""
    return text.str.contains(FORMULA_PATTERN, regex=True, na=False) & ~text.str.contains(
        PLAIN_NUMBER_PATTERN, regex=True, na=False
    )


def _is_text(values: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)


def _quote(text: pd.Series) -> pd.Series:
    """`'` before each cell a spreadsheet would run as a formula."""
    return text.where(~_formula_cells(text), FORMULA_QUOTE + text)


def _unquote(text: pd.Series) -> pd.Series:
    """The `'` of `_quote` taken off again (only where what follows would run as a formula)."""
    rest = text.str.slice(1)
    quoted = text.str.startswith(FORMULA_QUOTE, na=False) & _formula_cells(rest)
    return text.where(~quoted, rest)


def _rewrite_text(frame: pd.DataFrame, change: Callable[[pd.Series], pd.Series]) -> pd.DataFrame:
    """The frame with `change` applied to its text cells and headers (others left as they are)."""
    out = frame.copy(deep=False)
    for name in frame.columns:
        values = frame[name]
        if not _is_text(values):
            continue
        text = values.astype("str").where(values.notna())
        changed = change(text)
        differs = text.notna() & (changed != text)
        if differs.any():
            out[name] = values.where(~differs, changed)
    headers = pd.Series([str(c) for c in frame.columns], dtype="str")
    changed_headers = change(headers)
    if (changed_headers != headers).any():
        out.columns = changed_headers.tolist()
    return out


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with a `'` before every text cell and header a spreadsheet would run."""
    return _rewrite_text(frame, _quote)


def restore_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo `neutralise_formulas` on a CSV read back as text (cells and headers)."""
    return _rewrite_text(frame, _unquote)


def check_table_path(target: str | Path, option: str = "") -> Path:
    """`target` as a Path if it names a table payrisk writes (.csv, .parquet); ValueError naming
    it (and the `option` that gave it) otherwise. Call it before long work, not only at the end."""
    target = Path(target)
    suffix = target.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        where = f"{option} {target.name}" if option else target.name
        raise ValueError(f"{where}: unsupported table format {suffix!r}; use .csv or .parquet")
    return target


def write_table(frame: pd.DataFrame, target: str | Path) -> None:
    """Write a DataFrame as CSV or Parquet, chosen by the file suffix; dates as YYYY-MM-DD.

    CSV text cells a spreadsheet would run as formulas get a leading `'` (see the module)."""
    target = check_table_path(target)
    suffix = target.suffix.lower()
    with atomic_path(target) as tmp:
        if suffix == ".csv":
            # CR LF line ends (RFC 4180): a cell holding a lone CR is then quoted, not split.
            neutralise_formulas(frame).to_csv(
                tmp, index=False, date_format="%Y-%m-%d", lineterminator="\r\n"
            )
        else:
            frame.to_parquet(tmp, index=False)
