"""Atomic writes: all or nothing, with ordinary file permissions."""

from __future__ import annotations

import os
import time

import pandas as pd
import pytest
from pyarrow.lib import ArrowInvalid

from payrisk.core.storage import STALE_SECONDS, atomic_directory, write_table, write_text


def test_a_failed_write_leaves_the_old_file_and_no_debris(tmp_path):
    target = tmp_path / "report.html"
    write_text(target, "old")
    with pytest.raises(ArrowInvalid):  # Parquet cannot hold a bare object
        write_table(pd.DataFrame({"a": [object()]}), tmp_path / "t.parquet")
    with pytest.raises(ZeroDivisionError), atomic_directory(tmp_path / "bundle") as folder:
        (folder / "half.parquet").write_text("x")
        1 / 0  # noqa: B018
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_files_get_the_usual_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(previous)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644


def _age(path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_the_next_write_clears_what_a_killed_write_left_but_not_a_write_in_progress(tmp_path):
    stale_file = tmp_path / ".scores.csv.k3x_9a2b.tmp"
    stale_file.write_text("half a table")
    stale_folder = tmp_path / ".version-7.ab12cd34.tmp"
    (stale_folder / "model").mkdir(parents=True)
    for path in (stale_file, stale_folder):
        _age(path, STALE_SECONDS + 60)
    in_progress = tmp_path / ".portfolio.zz99yy88.tmp"
    in_progress.mkdir()
    users_own = tmp_path / ".notes.tmp"  # hidden, but not a name payrisk creates
    users_own.write_text("mine")
    _age(users_own, STALE_SECONDS + 60)

    write_text(tmp_path / "report.html", "new")

    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([".notes.tmp", ".portfolio.zz99yy88.tmp", "report.html"])


def test_a_folder_caught_between_its_two_renames_comes_back_on_the_next_write(tmp_path):
    target = tmp_path / "portfolio"
    with atomic_directory(target) as folder:
        (folder / "open_invoices.parquet").write_text("v1")
    os.replace(target, tmp_path / ".portfolio.old")  # killed after the first rename

    with pytest.raises(ZeroDivisionError), atomic_directory(target) as folder:
        1 / 0  # noqa: B018  the next write fails, yet the last good folder is back
    assert (target / "open_invoices.parquet").read_text() == "v1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["portfolio"]

    with atomic_directory(target) as folder:
        (folder / "open_invoices.parquet").write_text("v2")
    assert (target / "open_invoices.parquet").read_text() == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["portfolio"]
