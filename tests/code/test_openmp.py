"""LightGBM's OpenMP threads sleep when idle unless the user chose otherwise: spinning threads
made a fit several times slower on a machine whose cores were busy (README "Benchmarks")."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SHOW = "import os, payrisk; print(os.environ['OMP_WAIT_POLICY'])"


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_importing_payrisk_sets_a_passive_wait_policy_unless_one_is_set(
    given: str | None, expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    shown = subprocess.run(
        [sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == expected
