"""The review pages read the portfolio bundle written beside the session's snapshot."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="package")
def bundle(snapshot_file):
    from payrisk.web.bundle import read_bundle
    from pipelines.scoring import portfolio_dir

    return read_bundle(portfolio_dir(snapshot_file))
