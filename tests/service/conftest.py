"""A snapshot of the sample and the service's ASGI app, on the session's trained champion."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def snapshot_file(trained) -> Path:
    from pipelines.scoring import write_snapshot

    path = Path(trained.env["PAYRISK_SNAPSHOT"])
    if not path.exists():
        write_snapshot(trained.data_dir, path)
    return path


@pytest.fixture(scope="module")
def client(trained, snapshot_file):
    from starlette.testclient import TestClient

    from payrisk.service import PayriskService

    with pytest.MonkeyPatch.context() as patch:
        for key, value in trained.env.items():
            patch.setenv(key, value)
        with TestClient(PayriskService.to_asgi()) as test_client:
            yield test_client
