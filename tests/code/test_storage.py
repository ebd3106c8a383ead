"""Atomic writes: all or nothing, with ordinary file permissions."""

from __future__ import annotations

import os
import time

import pandas as pd
import pytest
from pyarrow.lib import ArrowInvalid

from payrisk.core.storage import (
    STALE_SECONDS,
    atomic_directory,
    atomic_file_and_folder,
    neutralise_formulas,
    restore_formulas,
    write_table,
    write_text,
)


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


def pair(tmp_path, snapshot: str, bundle: str) -> None:
    with atomic_file_and_folder(tmp_path / "snapshot.npz", tmp_path / "portfolio") as (
        file,
        folder,
    ):
        file.write_text(snapshot)
        (folder / "kpis.json").write_text(bundle)


def read_pair(tmp_path) -> tuple[str, str]:
    return (tmp_path / "snapshot.npz").read_text(), (
        tmp_path / "portfolio" / "kpis.json"
    ).read_text()


def test_a_file_and_a_folder_are_replaced_together_or_not_at_all(tmp_path, monkeypatch):
    pair(tmp_path, "s1", "b1")
    assert read_pair(tmp_path) == ("s1", "b1")

    # The snapshot fails after the bundle was written (the 503 GiB allocation): nothing moves.
    target, folder_target = tmp_path / "snapshot.npz", tmp_path / "portfolio"
    with pytest.raises(MemoryError), atomic_file_and_folder(target, folder_target) as (_, folder):
        (folder / "kpis.json").write_text("b2")
        raise MemoryError
    assert read_pair(tmp_path) == ("s1", "b1")

    # The file cannot be put in place after the folder was: the old folder comes back.
    real_replace = os.replace

    def refuse_the_file(source, target):
        if str(target).endswith("snapshot.npz"):
            raise OSError("disk full")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", refuse_the_file)
    with pytest.raises(OSError, match="disk full"):
        pair(tmp_path, "s3", "b3")
    monkeypatch.undo()
    assert read_pair(tmp_path) == ("s1", "b1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["portfolio", "snapshot.npz"]

    pair(tmp_path, "s4", "b4")
    assert read_pair(tmp_path) == ("s4", "b4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["portfolio", "snapshot.npz"]


def test_csv_cells_a_spreadsheet_would_run_are_quoted_and_read_back_exactly(tmp_path):
    import csv

    values = ["=1+1", "@SUM(A1:A9)", '=HYPERLINK("http://x","y")', "+cmd", "-x", "\tx", "\rx"]
    values += ["-12.5", "+3", "1e5", "plain", "'=quoted", "''-x", "'plain", None]
    frame = pd.DataFrame({"id": values, "n": range(len(values)), "=header": "x"})
    write_table(frame, tmp_path / "t.csv")
    with open(tmp_path / "t.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["id", "n", "'=header"]
    cells = [row[0] for row in rows[1:]]
    for cell in cells:
        assert not cell or not cell.startswith(("=", "+", "@", "\t", "\r")) or cell in ("+3",)
        assert not cell.startswith("-") or cell == "-12.5"
    assert cells[:7] == ["'" + v for v in values[:7]]
    assert cells[7:11] == ["-12.5", "+3", "1e5", "plain"]
    assert cells[11:14] == ["''=quoted", "'''-x", "'plain"]

    back = restore_formulas(
        pd.read_csv(tmp_path / "t.csv", dtype=str, keep_default_na=False, na_values=[""])
    )
    assert list(back.columns) == ["id", "n", "=header"]
    assert back["id"].tolist()[:-1] == values[:-1] and pd.isna(back["id"].iloc[-1])
    assert (
        write_table is not None and neutralise_formulas(frame)["n"].tolist() == frame["n"].tolist()
    )
