"""Mutation testing of the decision and label code: `make mutation` (python -m benchmarks.mutation).

A small runner of our own (mutmut 3 forks a process per mutant too, but needs its own copy of the
tree and a stats run of the whole suite first; with LightGBM's OpenMP and a 10-minute suite that
did not fit). For each target (a module, the functions of it to mutate, the fast tests that cover
them) every mutant is one small change of one operator or constant:

- comparisons at their boundary (`<` <-> `<=`, `>` <-> `>=`) and `==` <-> `!=`;
- arithmetic `+` <-> `-`, `*` <-> `/`; numpy masks `&` <-> `|`; `~x` and `not x` -> `x`;
- `np.maximum` <-> `np.minimum`, `min` <-> `max`;
- a number n -> n + 1 (0.5 -> 1.5; booleans flipped).

The tree under src/ is copied once to a temporary folder; each mutant is written into the copy and
the target's tests run in a forked child (third-party libraries are imported once by the parent;
payrisk and the tests are imported afresh by each child, from the copy). A mutant is killed when a
test fails (or errors, or the run times out); it survives when every test passes. Surviving
mutants are printed with their line, and the score is killed / (total - listed equivalents).

    python -m benchmarks.mutation                 # every target below
    python -m benchmarks.mutation --target labels # one target (names below)
    python -m benchmarks.mutation --list          # the mutants, without running anything
"""

from __future__ import annotations

import argparse
import ast
import compileall
import contextlib
import importlib.util
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Target:
    name: str
    module: str  # path under src/payrisk
    functions: tuple[str, ...]  # qualified names ("Class.method") or top-level functions
    tests: tuple[str, ...]  # pytest node ids or files, fast tests only


TARGETS = (
    Target(
        "labels",
        "models/labels.py",
        ("outcome_labels", "mature_only", "snapshot_queries"),
        ("tests/code/test_labels.py",),
    ),
    Target(
        "prior",
        "models/estimators.py",
        (
            "CustomerRatePrior._events_trials",
            "CustomerRatePrior.fit",
            "CustomerRatePrior._rate",
            "CustomerRatePrior.predict",
        ),
        (
            "tests/code/test_prior.py",
            "tests/model/test_selection.py::test_the_population_rate_has_half_an_event_added",
            "tests/model/test_selection.py::test_the_prior_is_the_customers_own_rate_shrunk_towards_the_population",
        ),
    ),
    Target(
        "dunning",
        "policy/dunning.py",
        (
            "earliest_contact",
            "action_arrays",
            "bundle_contacts",
            "priority_arrays",
            "CustomerCodes.latest",
            "CustomerCodes.first_contact",
        ),
        ("tests/code/test_dunning.py",),
    ),
    Target(
        "escalation",
        "policy/config.py",
        ("EscalationRules.expected_recovery", "EscalationRules.worth_it"),
        ("tests/code/test_dunning.py",),
    ),
    Target(
        "learned",
        "policy/learned.py",
        ("allowed_channels", "escalation_violations", "respect_gap"),
        ("tests/code/test_learned_policy.py",),
    ),
    Target(
        "penalties",
        "policy/penalties.py",
        ("_leap_days_before", "year_fractions", "round_cents", "penalty_arrays"),
        ("tests/code/test_penalties.py",),
    ),
    Target(
        "streams",
        "features/streams.py",
        ("Stream.locate", "Stream.value", "Stream.compact", "build_stream"),
        ("tests/code/test_features.py",),
    ),
    Target(
        "gate",
        "models/gate.py",
        (
            "behind_baselines",
            "metric_order",
            "_value",
            "Judged.words",
            "judge",
            "target_difference",
            "_gate_inputs",
            "_measured",
            "decide",
        ),
        ("tests/model/test_gate.py",),
    ),
    Target(
        "state",
        "policy/state.py",
        (
            "latest_day",
            "DunningState.over",
            "DunningState.given",
            "DunningState.any",
            "DunningState.decides",
            "DunningState.held",
            "DunningState.open_promise",
            "DunningState.broken_promise",
            "DunningState.on_plan",
            "DunningState.paused_until",
            "DunningState.on_track",
            "DunningState.collected_by_debit",
            "DunningState.disputed",
            "_latest",
            "_given",
            "promise_kept_probability",
            "scenario_inputs",
            "amount_due",
            "constrain",
        ),
        (
            "tests/code/test_state_rules.py",
            "tests/code/test_continuity.py",
            "tests/code/test_penalties.py",
        ),
    ),
    Target(
        "decisions",
        "policy/planning.py",
        (
            "LearnedNextActions.__call__",
            "LearnedNextActions._decide",
            "LearnedNextActions._levels_sent",
        ),
        ("tests/code/test_broken_promise_choice.py",),
    ),
    Target(
        "amounts",
        "policy/planning.py",
        ("dunning_amounts",),
        ("tests/code/test_penalties.py",),
    ),
)

# Mutants that no test can kill because they do not change behaviour, with why. Keyed by
# (module, function, line text stripped, mutation description).
EQUIVALENT: dict[tuple[str, str, str, str, int], str] = {
    (
        "models/labels.py",
        "snapshot_queries",
        "queries = pd.concat(frames, ignore_index=True)",
        "True -> False",
        0,
    ): "the index is reset (reset_index(drop=True)) after the sort anyway",
    (
        "models/estimators.py",
        "CustomerRatePrior.fit",
        "self.columns_ = [columns.index(n) if n else -1 for n in names]",
        "1 -> 2",
        0,
    ): "the base-rate column's index is read only when there is a base-rate feature",
    (
        "policy/learned.py",
        "escalation_violations",
        "code = np.array([CHANNELS.index(c) if c is not None else 0 for c in channel], "
        'dtype="int64")',
        "0 -> 1",
        0,
    ): "a wait (no channel) is no contact: the column it reads is masked out by `contact &`",
    (
        "policy/learned.py",
        "respect_gap",
        "size = int(customer.max()) + 1 if len(customer) else 0",
        "1 -> 2",
        0,
    ): "a per-customer scratch array one slot longer than needed: the slot is never read",
    (
        "policy/learned.py",
        "respect_gap",
        "size = int(customer.max()) + 1 if len(customer) else 0",
        "0 -> 1",
        0,
    ): "no decisions: the loop never runs, whatever the scratch array's size",
    (
        "policy/learned.py",
        "respect_gap",
        "day = np.where(todo, np.maximum(day, anchor + gap), day)",
        "+ -> -",
        0,
    ): "what is left after a round was not bundled, so it is already on or after anchor + gap",
}
EQUIVALENT[
    "models/gate.py",
    "judge",
    "old = _value(champion, name) if champion is not None else 0.0",
    "0.0 -> 1.0",
    0,
] = (
    "with no champion the stand-in value is only checked to be finite (any number is) and is "
    "never returned: the champion's value is None"
)
for _code in (
    "held = np.where(self.held(today), self.hold_until_day, today - 1)",
    "promised = np.where(self.open_promise(today), self.promise_day, today - 1)",
):
    EQUIVALENT["policy/state.py", "DunningState.paused_until", _code, "1 -> 2", 0] = (
        "the pause is the later of the two: where this one pauses nothing, the other is today - 1 "
        "or a pause's end (on or after today), never earlier, so today - 2 is never the answer"
    )
# A decision moment is -1 (none left) or a day on or after today (day numbers count from 1970):
# a test against 0 cannot tell 0 from 1, nor >= from >.
_MOMENT = "moments are -1 (none left) or a day on or after today, never 0: "
for _code, _mutation, _nth, _why in (
    ('contact = is_contact(actions["action"]) | (ran_out & (moment >= 0))', ">= -> >", 0, "> 0"),
    ('contact = is_contact(actions["action"]) | (ran_out & (moment >= 0))', "0 -> 1", 0, ">= 1"),
    ("later = (contact | ran_out) & (moment < 0)", "< -> <=", 0, "<= 0"),
    ("later = (contact | ran_out) & (moment < 0)", "0 -> 1", 0, "< 1"),
):
    EQUIVALENT["policy/planning.py", "LearnedNextActions.__call__", _code, _mutation, _nth] = (
        f"{_MOMENT}{_why} splits them alike"
    )
EQUIVALENT[
    "policy/planning.py",
    "LearnedNextActions.__call__",
    "following = np.where(later, -1, following)",
    "1 -> 2",
    0,
] = (
    "a row past its last moment has no following moment already (-1); -1 and -2 are read only "
    "as `following >= 0` (none)"
)
for _mutation in (">= -> >", "0 -> 1"):
    EQUIVALENT[
        "policy/planning.py",
        "LearnedNextActions._decide",
        "wait_until = np.where(following[mine] >= 0, following[mine], moment[mine])",
        _mutation,
        0,
    ] = f"{_MOMENT}following moments are -1 or after today, so > 0 and >= 1 split them alike"
EQUIVALENT[
    "policy/state.py",
    "constrain",
    "likely_broken = np.nan_to_num(promise_kept, nan=1.0) < rules.check_in_below",
    "1.0 -> 2.0",
    0,
] = "an unknown P(kept) read as 1 or 2 is never below check_in_below, which is at most 1"
_YEAR_CLIP = (
    'year = np.clip(np.searchsorted(_YEAR_STARTS, day, side="right") - 1, 0, len(_YEARS) - 1)'
)
for _mutation, _nth, _why in (
    ("0 -> 1", 0, "1900 is not a leap year: clipping to 1901 counts the same leap days (none)"),
    ("- -> +", 1, "searchsorted never returns more than len(_YEARS): a higher clip never bites"),
    ("1 -> 2", 1, "2299 and 2300 are not leap years: clipping to 2299 counts the same leap days"),
):
    EQUIVALENT["policy/penalties.py", "_leap_days_before", _YEAR_CLIP, _mutation, _nth] = _why
_SAFE = "safe = np.clip(position, 0, max(len(self.keys) - 1, 0))"
for _mutation, _nth, _why in (
    ("- -> +", 0, "searchsorted(...) - 1 never exceeds len - 1: a higher clip never bites"),
    ("0 -> 1", 1, "with one event the position is at most 0 anyway; with none, nothing is read"),
):
    EQUIVALENT["features/streams.py", "Stream.locate", _SAFE, _mutation, _nth] = _why
for _code in (
    "cumulative = deltas.groupby(entity.to_numpy(), sort=False).cumsum()",
    "state[name] = ordered.groupby(entity.to_numpy(), sort=False).cummax().to_numpy()",
    "rolled = ordered.groupby(entity.to_numpy(), sort=False).rolling(window, min_periods=1)",
):
    EQUIVALENT["features/streams.py", "build_stream", _code, "False -> True", 0] = (
        "sorting the groups changes no row's value: cumsum and cummax keep the rows' order, the "
        "rolling median is put back in the rows' order (sort_index)"
    )
EQUIVALENT[
    "features/streams.py",
    "build_stream",
    "state[name] = rolled.median().reset_index(level=0, drop=True).sort_index().to_numpy()",
    "0 -> 1",
    0,
] = (
    "keeping the customer level instead of the row level orders by customer: the rows are "
    "already sorted by (customer, day) and grouped in that order, so the order is the same"
)


@dataclass
class Mutant:
    module: str
    function: str
    line: int
    start: int  # byte offsets into the module's source
    end: int
    replacement: bytes
    description: str
    status: str = "pending"
    seconds: float = 0.0
    text: str = field(default="", repr=False)

    nth: int = 0  # which of the same mutation on the same line (0: the first)

    def key(self) -> tuple[str, str, str, str, int]:
        return (self.module, self.function, self.text.strip(), self.description, self.nth)


_COMPARE = {ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">"),
            ast.Eq: ("==", "!="), ast.NotEq: ("!=", "==")}  # fmt: skip
_BINARY = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "/"), ast.Div: ("/", "*"),
           ast.BitAnd: ("&", "|"), ast.BitOr: ("|", "&")}  # fmt: skip
_NAMES = {"maximum": "minimum", "minimum": "maximum", "min": "max", "max": "min"}


class _Offsets:
    """(line, column) of ast nodes (UTF-8 bytes) to offsets into the source bytes."""

    def __init__(self, source: bytes) -> None:
        self.starts = [0]
        for line in source.split(b"\n"):
            self.starts.append(self.starts[-1] + len(line) + 1)

    def __call__(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.AST]]:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    yield f"{node.name}.{item.name}", item


def _docstrings(function: ast.AST) -> set[int]:
    body = getattr(function, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        return {id(body[0].value)}
    return set()


def _annotations(function: ast.AST) -> Iterator[ast.AST]:
    """Type hints of a function's arguments and return (not code: never mutated)."""
    for node in ast.walk(function):
        hint = node.annotation if isinstance(node, ast.arg) else getattr(node, "returns", None)
        if isinstance(node, ast.arg | ast.FunctionDef) and hint is not None:
            yield hint


def mutants_of(module: str, functions: tuple[str, ...]) -> list[Mutant]:
    """Every mutant of the named functions of src/payrisk/`module`."""
    path = ROOT / "src" / "payrisk" / module
    source = path.read_bytes()
    lines = source.decode().splitlines()
    at = _Offsets(source)
    tree = ast.parse(source)
    found = dict(_functions(tree))
    missing = set(functions) - set(found)
    if missing:
        raise SystemExit(f"{module}: no function {sorted(missing)}")
    out: list[Mutant] = []

    def add(function: str, node: ast.AST, start: int, end: int, new: str, what: str) -> None:
        line = source[:start].count(b"\n") + 1
        text = lines[line - 1]
        if "no mutate" in text:
            return
        out.append(Mutant(module, function, line, start, end, new.encode(), what, text=text))

    def operator(left: ast.AST, right: ast.AST, token: str) -> tuple[int, int] | None:
        """Byte span of `token` between two operands."""
        lo = at(left.end_lineno, left.end_col_offset)
        hi = at(right.lineno, right.col_offset)
        gap = source[lo:hi]
        index = gap.find(token.encode())
        # `<` must not match `<=`, nor `>` match `>=` or `->`.
        while index >= 0 and len(token) == 1 and gap[index + 1 : index + 2] == b"=":
            index = gap.find(token.encode(), index + 1)
        return None if index < 0 else (lo + index, lo + index + len(token))

    for name in functions:
        function = found[name]
        skip = _docstrings(function)
        annotations = {id(n) for a in _annotations(function) for n in ast.walk(a)}
        for node in ast.walk(function):
            if id(node) in skip or id(node) in annotations:
                continue
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
                for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
                    if type(op) in _COMPARE:
                        old, new = _COMPARE[type(op)]
                        span = operator(left, right, old)
                        if span:
                            add(name, node, *span, new, f"{old} -> {new}")
            elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
                old, new = _BINARY[type(node.op)]
                span = operator(node.left, node.right, old)
                if span:
                    add(name, node, *span, new, f"{old} -> {new}")
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert | ast.Not):
                start = at(node.lineno, node.col_offset)
                operand = at(node.operand.lineno, node.operand.col_offset)
                what = "drop ~" if isinstance(node.op, ast.Invert) else "drop not"
                add(name, node, start, operand, "", what)
            elif isinstance(node, ast.Attribute) and node.attr in _NAMES:
                end = at(node.end_lineno, node.end_col_offset)
                add(name, node, end - len(node.attr), end, _NAMES[node.attr],
                    f".{node.attr} -> .{_NAMES[node.attr]}")  # fmt: skip
            elif isinstance(node, ast.Name) and node.id in ("min", "max"):
                start = at(node.lineno, node.col_offset)
                add(name, node, start, start + len(node.id), _NAMES[node.id],
                    f"{node.id} -> {_NAMES[node.id]}")  # fmt: skip
            elif isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
                start = at(node.lineno, node.col_offset)
                end = at(node.end_lineno, node.end_col_offset)
                new = str(not node.value) if isinstance(node.value, bool) else repr(node.value + 1)
                add(name, node, start, end, new, f"{source[start:end].decode()} -> {new}")
    out.sort(key=lambda m: (m.start, m.description))
    seen: dict[tuple[int, str], int] = {}
    for m in out:
        m.nth = seen.get((m.line, m.description), 0)
        seen[(m.line, m.description)] = m.nth + 1
    return out


def _prepare(copy: Path) -> None:
    """Import every third-party module payrisk and the tests use, then forget payrisk and the
    tests so each child imports them from the copy."""
    sys.dont_write_bytecode = True  # a mutant may keep its file's size and second: no stale .pyc
    sys.path[:0] = [str(copy / "src"), str(ROOT)]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(copy / "src"), str(ROOT)])
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import pytest  # noqa: F401

    import payrisk.policy.planning  # noqa: F401
    import tests.helpers  # noqa: F401

    for name in list(sys.modules):
        if name.split(".")[0] in ("payrisk", "tests", "pipelines", "conftest"):
            del sys.modules[name]


def _run_tests(tests: tuple[str, ...], timeout: float) -> str:
    """Run `tests` in a forked child: killed, survived or timeout."""
    pid = os.fork()
    if pid == 0:  # the child
        code = 2
        try:
            import pytest

            quiet = io.StringIO()
            arguments = ["-x", "-q", "-p", "no:cacheprovider", "-m", "not slow"]
            arguments += ["--rootdir", str(ROOT), *[str(ROOT / t) for t in tests]]
            with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
                code = pytest.main(arguments)
        finally:
            os._exit(int(code))
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return "survived" if code == 0 else ("no tests" if code == 5 else "killed")
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.05)


def run(targets: list[Target], timeout: float, report: Path | None) -> int:
    copy = Path(tempfile.mkdtemp(prefix="payrisk-mutation-"))
    try:
        shutil.copytree(ROOT / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__"))
        # Compiled once: a child compiles only the mutated module (whose .pyc is removed).
        compileall.compile_dir(copy / "src", quiet=1)
        _prepare(copy)
        results: list[Mutant] = []
        for target in targets:
            path = copy / "src" / "payrisk" / target.module
            original = path.read_bytes()
            stat = path.stat()
            compiled = Path(importlib.util.cache_from_source(str(path)))
            bytecode = compiled.read_bytes()
            start = time.monotonic()
            baseline = _run_tests(target.tests, timeout * 3)
            if baseline != "survived":
                raise SystemExit(f"{target.name}: the tests fail without any mutant ({baseline})")
            budget = max(10.0, timeout, 4 * (time.monotonic() - start))
            mutants = mutants_of(target.module, target.functions)
            print(f"{target.name}: {len(mutants)} mutants of {target.module}", flush=True)
            for mutant in mutants:
                mutated = original[: mutant.start] + mutant.replacement + original[mutant.end :]
                compiled.unlink()
                path.write_bytes(mutated)
                began = time.monotonic()
                try:
                    mutant.status = _run_tests(target.tests, budget)
                finally:
                    path.write_bytes(original)
                    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
                    compiled.write_bytes(bytecode)
                mutant.seconds = time.monotonic() - began
                if mutant.status == "survived" and mutant.key() in EQUIVALENT:
                    mutant.status = "equivalent"
                if mutant.status in ("survived", "no tests"):
                    print(f"  SURVIVED {target.module}:{mutant.line} ({mutant.function}) "
                          f"{mutant.description}: {mutant.text.strip()}", flush=True)  # fmt: skip
            killed = sum(m.status in ("killed", "timeout") for m in mutants)
            print(f"  {killed} of {len(mutants)} killed in {time.monotonic() - start:.0f} s")
            results.extend(mutants)
        return _summary(results, report)
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def _summary(results: list[Mutant], report: Path | None) -> int:
    by_module: dict[str, dict[str, int]] = {}
    for m in results:
        counts = by_module.setdefault(m.module, {})
        counts[m.status] = counts.get(m.status, 0) + 1
    print()
    print("| module | mutants | killed | timeout | equivalent | survived | score |")
    print("|---|---|---|---|---|---|---|")
    total = {"mutants": 0, "killed": 0, "equivalent": 0, "survived": 0}
    for module, counts in by_module.items():
        n = sum(counts.values())
        killed = counts.get("killed", 0) + counts.get("timeout", 0)
        equivalent = counts.get("equivalent", 0)
        survived = n - killed - equivalent
        score = killed / max(1, n - equivalent)
        print(f"| {module} | {n} | {counts.get('killed', 0)} | {counts.get('timeout', 0)} | "
              f"{equivalent} | {survived} | {score:.0%} |")  # fmt: skip
        for key, value in (("mutants", n), ("killed", killed), ("equivalent", equivalent),
                           ("survived", survived)):  # fmt: skip
            total[key] += value
    score = total["killed"] / max(1, total["mutants"] - total["equivalent"])
    print(f"| all | {total['mutants']} | {total['killed']} | | {total['equivalent']} | "
          f"{total['survived']} | {score:.0%} |")  # fmt: skip
    if report is not None:
        rows = [
            {"module": m.module, "function": m.function, "line": m.line, "mutation": m.description,
             "nth": m.nth, "code": m.text.strip(), "status": m.status,
             "seconds": round(m.seconds, 2)}
            for m in results
        ]  # fmt: skip
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps({"score": score, **total, "mutants": rows}, indent=1))
    return 0 if total["survived"] == 0 else 1


def summarize(reports: list[Path]) -> int:
    """The table of several runs' reports (a later report's fate of a mutant wins), with the
    EQUIVALENT list as it is now."""
    latest: dict[tuple, Mutant] = {}
    for report in reports:
        seen: dict[tuple, int] = {}
        for row in json.loads(report.read_text())["mutants"]:
            where = (row["module"], row["line"], row["mutation"])
            nth = row.get("nth", seen.get(where, 0))
            seen[where] = nth + 1
            mutant = Mutant(row["module"], row["function"], row["line"], 0, 0, b"",
                            row["mutation"], row["status"], text=row["code"], nth=nth)  # fmt: skip
            if mutant.status == "equivalent":
                mutant.status = "survived"
            if mutant.status == "survived" and mutant.key() in EQUIVALENT:
                mutant.status = "equivalent"
            latest[(row["module"], row["function"], *where, nth)] = mutant
    for m in latest.values():
        if m.status in ("survived", "no tests"):
            print(f"  SURVIVED {m.module}:{m.line} ({m.function}) {m.description}: {m.text}")
    return _summary(list(latest.values()), None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", action="append", choices=[t.name for t in TARGETS])
    parser.add_argument("--list", action="store_true", help="print the mutants and stop")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per mutant at least")
    parser.add_argument("--report", type=Path, default=ROOT / "reports" / "mutation.json")
    parser.add_argument("--summarize", type=Path, nargs="+", help="tabulate earlier reports")
    args = parser.parse_args(argv)
    if args.summarize:
        return summarize(args.summarize)
    targets = [t for t in TARGETS if not args.target or t.name in args.target]
    if args.list:
        for target in targets:
            for m in mutants_of(target.module, target.functions):
                print(f"{target.name} {m.module}:{m.line} {m.function} {m.description}")
        return 0
    return run(targets, args.timeout, args.report)


if __name__ == "__main__":
    sys.exit(main())
