"""The mutations that survived the suite's audit (issue 32) are killed now: each is applied to a
temporary copy of the source and the tests written for it must fail. (The gate's
`min_improvement` mutation is the gate's own tests' business.) `make mutation` runs the broader
search (benchmarks/mutation.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# (module under src/payrisk, the code as it is, the code mutated, the tests that must catch it)
MUTATIONS = {
    "default label past the threshold: > -> >=": (
        "models/labels.py",
        "(is_written_off | (open_days_past_due > threshold))",
        "(is_written_off | (open_days_past_due >= threshold))",
        "tests/code/test_labels.py",
    ),
    "mature_only ignores the target's delay": (
        "models/labels.py",
        "out[target].where(due + days < cutoff)",
        "out[target].where(due < cutoff)",
        "tests/code/test_labels.py",
    ),
    "contact gap between separate contacts one day short": (
        "policy/dunning.py",
        "next_working_day(first[planned] + gap, workdays)",
        "next_working_day(first[planned] + gap - 1, workdays)",
        "tests/code/test_dunning.py",
    ),
    "rules planner bundles a step exactly the gap after: < -> <=": (
        "policy/dunning.py",
        "bundled = contact & (step_day < first + gap)",
        "bundled = contact & (step_day <= first + gap)",
        "tests/code/test_dunning.py",
    ),
    "learned policy bundles a contact exactly the gap after: < -> <=": (
        "policy/learned.py",
        "bundled = todo & (day < anchor + gap)",
        "bundled = todo & (day <= anchor + gap)",
        "tests/code/test_learned_policy.py",
    ),
    "penalty interest on the whole open amount, not the instalment due": (
        "policy/planning.py",
        "owed = penalty_arrays(due_now, due_day, day,",
        "owed = penalty_arrays(open_amount, due_day, day,",
        "tests/code/test_penalties.py",
    ),
    "population rate without the Jeffreys half event": (
        "models/estimators.py",
        "float((y.sum() + 0.5) / (len(y) + 1.0))",
        "float(y.sum() / len(y))",
        "tests/model/test_selection.py::test_the_population_rate_has_half_an_event_added",
    ),
    "expected recovery ignores the recovery rate": (
        "policy/config.py",
        """            * np.asarray(default_probability, dtype="float64")
            * self.recovery_rate""",
        """            * np.asarray(default_probability, dtype="float64")""",
        "tests/code/test_dunning.py",
    ),
}


def _run(source_root: Path, tests: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source_root), str(ROOT)])}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow",
         *[str(ROOT / t) for t in tests.split()]],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip


@pytest.mark.slow  # one pytest run per mutation
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_each_mutation_the_audit_left_alive_is_killed(name: str, tmp_path: Path) -> None:
    module, original, mutated, tests = MUTATIONS[name]
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "src", copy, ignore=shutil.ignore_patterns("__pycache__"))
    path = copy / "payrisk" / module
    text = path.read_text()
    assert text.count(original) == 1, f"{module} changed: update the mutation '{name}'"
    path.write_text(text.replace(original, mutated))
    result = _run(copy, tests)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    assert " failed" in result.stdout
