"""Atomic writes: a reader sees the old file or the new one, never half of one.

Every artifact payrisk writes (tables, reports, models, snapshots) goes through here: the content is
written to a temporary file in the destination folder, flushed, then renamed over the target.
A process killed mid-write leaves a hidden `.name.*.tmp` beside the target; the next write into
that folder removes such debris once it is older than STALE_SECONDS (younger ones may belong to a
writer still at work). A folder a kill caught between the two renames of `atomic_directory` is
put back from its `.name.old` backup by the next write of that folder.
"""

from __future__ import annotations

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
STALE_SECONDS = 3600.0


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


def write_text(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(target: str | Path, payload: Any) -> None:
    write_text(target, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def write_with(target: str | Path, writer: Callable[[Path], None]) -> None:
    """Atomically write `target` with any function that writes a file at a given path."""
    with atomic_path(target) as tmp:
        writer(tmp)


def write_table(frame: pd.DataFrame, target: str | Path) -> None:
    """Write a DataFrame as CSV or Parquet, chosen by the file suffix; dates as YYYY-MM-DD."""
    target = Path(target)
    suffix = target.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ValueError(
            f"{target.name}: unsupported table format {suffix!r}; use .csv or .parquet"
        )
    with atomic_path(target) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False, date_format="%Y-%m-%d")
        else:
            frame.to_parquet(tmp, index=False)
