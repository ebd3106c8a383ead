"""Every batch step on a generated history, with wall time and peak memory per step.

Run: python -m benchmarks.bench_pipeline [n_invoices ...]   (default: 100k and 1M invoices)

Each size runs in a fresh process; inside it, each step's peak resident memory is measured on
its own (`benchmarks.measure`). Steps: generate the history, write it as a parquet data directory,
validate that directory, build features (history, training snapshots, features), fit the three
models (`payrisk.training.fit_scorer`, no MLflow, so that the figures are the library's own),
score and plan the open invoices of the history, score and plan a portfolio of as many *open*
invoices as the history has invoices (`open_portfolio`), and the online engine in process.
"""

from __future__ import annotations

import multiprocessing
import pickle
import sys
import tempfile
import time
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.measure import StepFigures, in_fresh_process, measure

DEFAULT_SIZES = (100_000, 1_000_000)
YEARS = 3.0
EXPLAIN_TOP = 10_000
MAX_OPEN_AGE_DAYS = 150
SCORER_FILE = Path(tempfile.gettempdir()) / "payrisk-bench-scorer.pkl"  # between sizes of a run


def open_portfolio(
    invoices: pd.DataFrame, as_of: pd.Timestamp, n: int, seed: int = 0
) -> pd.DataFrame:
    """`n` invoices open at `as_of` for the history's customers, as scoring queries.

    The generator leaves about 6% of a history open, so a million open invoices would need a
    history of 16 million. Instead each open invoice copies the customer, amount and payment
    terms of a random invoice of the history, is issued 0-149 days before `as_of` (so some are
    well past due), one in ten is part-paid and one in fifty disputed. They are not in the
    history: each is scored as a new invoice against its customer's real record, and the plan
    bundles them per customer like any open invoices.
    """
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(invoices), n)
    issue_day = np.asarray(invoices["issue_date"], dtype="datetime64[D]").astype("int64")
    terms = np.asarray(invoices["due_date"], dtype="datetime64[D]").astype("int64") - issue_day
    today = int(np.datetime64(as_of.date(), "D").astype("int64"))
    issue = today - rng.integers(0, MAX_OPEN_AGE_DAYS, n)
    amount = invoices["amount"].to_numpy(dtype="float64")[pick]
    part_paid = rng.random(n) < 0.1
    return pd.DataFrame(
        {
            "invoice_id": np.char.add("OPEN", np.arange(n).astype("U8")).astype(object),
            "customer_id": invoices["customer_id"].to_numpy(dtype=object)[pick],
            "issue_date": issue.astype("datetime64[D]").astype("datetime64[ns]"),
            "due_date": (issue + terms[pick]).astype("datetime64[D]").astype("datetime64[ns]"),
            "amount": amount,
            "open_amount": np.where(
                part_paid, (amount * rng.uniform(0.2, 0.9, n)).round(2), amount
            ),
            "disputed": rng.random(n) < 0.02,
            "snapshot_date": as_of,
            "in_history": False,
        }
    )


def online_figures(scorer: Any, history: Any, queries: pd.DataFrame, as_of: pd.Timestamp) -> dict:
    """The service's engine in process (no HTTP): one invoice p50/p99, 1,000 invoices."""
    from payrisk.policy.config import load_dunning_config
    from payrisk.serving.engine import ScoringEngine, SnapshotHolder
    from payrisk.serving.schemas import InvoiceIn, ScoreRequest

    engine = ScoringEngine(
        scorer, "bench", "memory", SnapshotHolder(None, history.compact()), load_dunning_config()
    )
    sample = queries.sample(min(1000, len(queries)), random_state=0)
    invoices = [
        InvoiceIn(
            invoice_id=row.invoice_id,
            customer_id=row.customer_id,
            issue_date=row.issue_date.date(),
            due_date=row.due_date.date(),
            amount=float(row.amount),
        )
        for row in sample.itertuples()
    ]
    figures: dict[str, float] = {}
    for key, with_reasons in (("single", True), ("single_no_reasons", False)):
        requests = [
            ScoreRequest(invoices=[i], as_of=as_of.date(), with_reasons=with_reasons)
            for i in invoices[:300]
        ]
        for request in requests[:20]:  # warm up
            engine.score(request)
        times = []
        for request in requests:
            started = time.perf_counter()
            engine.score(request)
            times.append(time.perf_counter() - started)
        figures[f"{key}_p50_ms"] = float(np.percentile(times, 50) * 1000)
        figures[f"{key}_p99_ms"] = float(np.percentile(times, 99) * 1000)
    for key, with_reasons in (("batch_1000_ms", False), ("batch_1000_reasons_ms", True)):
        request = ScoreRequest(invoices=invoices, as_of=as_of.date(), with_reasons=with_reasons)
        times = []
        for _ in range(5):
            started = time.perf_counter()
            engine.score(request)
            times.append(time.perf_counter() - started)
        figures[key] = float(np.median(times) * 1000)
    return figures


def run_size(target: int, scorer_file: str, train_here: bool = True) -> dict:
    """All steps on one history of about `target` invoices (call in a fresh process).

    With `train_here` False the models are not fitted on this history: scoring uses the scorer
    saved in `scorer_file` by a smaller size (scoring cost depends on the trees, not on the
    history they were fitted on); otherwise the scorer fitted here is saved there.
    """
    from payrisk.core.config import TrainConfig
    from payrisk.data.generator import customers_for_invoices, generate_history
    from payrisk.data.loading import validate_dataset_dir, write_dataset
    from payrisk.data.receivables import default_as_of
    from payrisk.features.definitions import invoice_features
    from payrisk.features.history import build_history
    from payrisk.models.labels import snapshot_queries
    from payrisk.models.training import Examples, fit_scorer, split_windows, window_examples
    from payrisk.policy.config import load_dunning_config
    from payrisk.policy.planning import open_invoice_queries, score_and_plan

    config = TrainConfig()
    dunning = load_dunning_config()
    steps: list[StepFigures] = []
    figures: dict[str, Any] = {"target_invoices": target, "steps": steps}

    def step(name: str, work):
        result, measured = measure(name, work)
        steps.append(measured)
        print(
            f"  {target:>9,} {name:<34} {measured.seconds:>8.1f} s"
            f"  peak {measured.peak_gb:5.2f} GB",
            flush=True,
        )
        return result

    customers = customers_for_invoices(target, YEARS)
    dataset = step("generate", lambda: generate_history(customers, YEARS, seed=0))
    figures.update(
        invoices=len(dataset.invoices),
        payments=len(dataset.payments),
        reminders=len(dataset.reminders),
        customers=customers,
    )
    with tempfile.TemporaryDirectory(prefix="payrisk-bench-") as tmp:
        step("write parquet", lambda: write_dataset(dataset, tmp, fmt="parquet"))
        report = step("validate", lambda: validate_dataset_dir(tmp))
        figures["validation_failures"] = len(getattr(report, "failures", []) or [])
    as_of = default_as_of(dataset)

    def build_features():
        history = build_history(dataset, as_of, config.targets, config.features)
        queries = snapshot_queries(dataset.invoices, as_of, config.snapshots)
        return history, queries, invoice_features(history, queries)

    history, queries, features = step("features", build_features)
    figures["snapshots"] = len(queries)

    def train(queries: pd.DataFrame, features: pd.DataFrame):
        everything = Examples(queries, features, pd.DataFrame(index=queries.index))
        train_window, _ = split_windows(as_of, config)
        return fit_scorer(
            window_examples(everything, dataset.invoices, train_window, config), config
        )

    if train_here:
        scorer = step("train (3 models)", partial(train, queries, features))
        Path(scorer_file).write_bytes(pickle.dumps(scorer))
    else:
        scorer = pickle.loads(Path(scorer_file).read_bytes())
        figures["scorer_trained_on_a_smaller_history"] = True
    del queries, features

    open_queries = open_invoice_queries(dataset, as_of)
    portfolio = step(
        "score + plan open invoices",
        lambda: score_and_plan(scorer, history, open_queries, as_of, dunning, EXPLAIN_TOP),
    )
    figures["open_invoices"] = len(portfolio.invoices)
    del portfolio

    synthetic = open_portfolio(dataset.invoices, as_of, figures["invoices"])
    portfolio = step(
        "score + plan open portfolio",
        partial(score_and_plan, scorer, history, synthetic, as_of, dunning, EXPLAIN_TOP),
    )
    figures["portfolio_open_invoices"] = len(portfolio.invoices)
    figures["portfolio_customers"] = len(portfolio.customers)
    del portfolio, synthetic

    figures["online"] = step(
        "online engine (in process)", lambda: online_figures(scorer, history, open_queries, as_of)
    )
    figures["steps"] = [s.as_dict() for s in steps]
    return figures


def main(argv: list[str] | None = None) -> list[dict]:
    """Sizes as arguments; `--train-max N` fits the models only on histories up to N invoices
    (larger ones score with the scorer of the largest size trained), for short runs."""
    args = list(sys.argv[1:] if argv is None else argv)
    train_max = None
    if "--train-max" in args:
        at = args.index("--train-max")
        train_max = int(args[at + 1])
        del args[at : at + 2]
    sizes = sorted(int(a) for a in args) or list(DEFAULT_SIZES)
    print(f"payrisk pipeline benchmark, {date.today()}, {multiprocessing.cpu_count()} cores")
    results = []
    scorer_file = SCORER_FILE
    for target in sizes:
        train_here = train_max is None or target <= train_max or not Path(scorer_file).exists()
        figures = in_fresh_process(run_size, target, str(scorer_file), train_here)
        results.append(figures)
        online = figures["online"]
        print(
            f"  {figures['invoices']:,} invoices: one invoice in process p50 "
            f"{online['single_p50_ms']:.1f} ms / p99 {online['single_p99_ms']:.1f} ms "
            f"(no reasons p50 {online['single_no_reasons_p50_ms']:.1f} ms); 1,000 invoices "
            f"{online['batch_1000_ms']:.0f} ms, "
            f"with reasons {online['batch_1000_reasons_ms']:.0f} ms"
        )
    return results


if __name__ == "__main__":
    main()
