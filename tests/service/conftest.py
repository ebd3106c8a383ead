"""The service tests read the portfolio bundle written beside the session's snapshot."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="package")
def bundle(snapshot_file):
    from payrisk.policy.portfolio import read_bundle

    return read_bundle(snapshot_file.with_name("portfolio"))
