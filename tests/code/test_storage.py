"""Atomic writes: all or nothing, with ordinary file permissions."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from pyarrow.lib import ArrowInvalid

from payrisk.storage import atomic_directory, write_table, write_text


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
