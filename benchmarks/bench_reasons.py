"""1,000 invoices with reasons in process: LightGBM's `pred_contrib` and unremembered phrases (the
path before issue 18) against `payrisk.models.treeshap` and remembered phrases, alternating.

Run: python -m benchmarks.bench_reasons [--invoices 100000] [--reuse DIR] [--repeats 5]

Both in CPU time (`time.process_time`, which a shared machine's load inflates far less than wall
time) and wall time, with one thread for the CPU figures to mean one core; then "service
threads": the same batch as the service scores it, its kernels on every core (wall time is what a
caller waits). The model and
snapshot are `benchmarks.bench_service`'s (trained once into `--reuse`).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import mlflow
import numpy as np

from benchmarks.bench_service import prepared


@contextmanager
def lightgbm_reasons():
    """The path before: LightGBM's pred_contrib, every phrase formatted again."""
    from payrisk.core.i18n import Formats
    from payrisk.models import treeshap
    from payrisk.policy import reasons

    saved = (treeshap.trees_of, treeshap.contributions, reasons.describe)
    treeshap.trees_of = lambda booster, iteration: (booster, iteration)
    treeshap.contributions = lambda trees, matrix, threads=0: trees[0].predict(
        matrix, num_iteration=trees[1], pred_contrib=True, num_threads=threads
    )
    reasons.describe = lambda feature, value, formats=None: reasons._phrase(
        feature, value.item() if isinstance(value, np.generic) else value, formats or Formats()
    )
    try:
        yield
    finally:
        treeshap.trees_of, treeshap.contributions, reasons.describe = saved


def main(argv: list[str] | None = None) -> dict:
    from payrisk.features.snapshot import load_history
    from payrisk.models import scorer as scorer_module
    from payrisk.policy.config import load_dunning_config
    from payrisk.serving.engine import ScoringEngine, SnapshotHolder
    from payrisk.serving.schemas import InvoiceIn, ScoreRequest

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000, help="history size")
    parser.add_argument("--reuse", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="payrisk-reasons-") as tmp:
        env, invoices = prepared(args.invoices, Path(tmp), args.reuse)
        model = mlflow.pyfunc.load_model(env["PAYRISK_MODEL_URI"])
        history, _ = load_history(env["PAYRISK_SNAPSHOT"])
    scorer = model.unwrap_python_model().scorer
    all_cores = scorer_module.threads_for

    def one_thread(rows: int) -> dict:
        return {"num_threads": 1}

    scorer_module.threads_for = one_thread
    engine = ScoringEngine(
        scorer, "bench", "memory", SnapshotHolder(None, history), load_dunning_config()
    )
    body = [
        InvoiceIn(**{**i, "issue_date": date.fromisoformat(i["issue_date"]),
                     "due_date": date.fromisoformat(i["due_date"])})
        for i in invoices[:1000]
    ]  # fmt: skip
    as_of = history.as_of.date()
    with_reasons = ScoreRequest(invoices=body, as_of=as_of, with_reasons=True)
    without = ScoreRequest(invoices=body, as_of=as_of, with_reasons=False)
    engine.score(with_reasons)
    with lightgbm_reasons():
        engine.score(with_reasons)
    gc.freeze()  # as the service does once started (payrisk.service)
    times: dict[str, list[tuple[float, float]]] = {
        "before": [], "now": [], "no reasons": [], "service threads": []
    }  # fmt: skip
    try:
        for _ in range(args.repeats):
            for name, request in (("before", with_reasons), ("now", with_reasons),
                                  ("no reasons", without)):  # fmt: skip
                if name == "before":
                    with lightgbm_reasons():
                        times[name].append(_timed(engine, request))
                else:
                    times[name].append(_timed(engine, request))
            # As the service runs it: the kernels on every core for a batch this large.
            scorer_module.threads_for = all_cores
            times["service threads"].append(_timed(engine, with_reasons))
            scorer_module.threads_for = one_thread
    finally:
        scorer_module.threads_for = all_cores
    figures = {
        name.replace(" ", "_"): {
            "cpu_ms": float(np.median([cpu for cpu, _ in values])),
            "wall_ms": float(np.median([wall for _, wall in values])),
        }
        for name, values in times.items()
    }
    for name, figure in figures.items():
        print(
            f"1,000 invoices, {name:>15}: CPU {figure['cpu_ms']:6.0f} ms, "
            f"wall {figure['wall_ms']:6.0f} ms (median of {args.repeats})"
        )
    return figures


def _timed(engine, request) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    engine.score(request)
    return (time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000


if __name__ == "__main__":
    main()
