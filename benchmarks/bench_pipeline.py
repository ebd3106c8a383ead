"""Features, training, batch scoring and in-process online latency on generated histories.

Run: python -m benchmarks.bench_pipeline [n_invoices ...]   (default: 100k and 1M invoices)

Each size runs in a fresh process (peak memory is its own). The scorer used for scoring is trained
on the history of that size, without MLflow (`payrisk.training.fit_scorer`), so the figures are the
library's own; `make demo` shows the tracked pipeline.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date

import numpy as np
import pandas as pd

DEFAULT_SIZES = (100_000, 1_000_000)
YEARS = 3.0


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def run_size(target: int) -> dict:
    from payrisk.config import TrainConfig, load_dunning_config
    from payrisk.features import build_history, invoice_features
    from payrisk.generate import customers_for_invoices, generate_history
    from payrisk.labels import snapshot_queries
    from payrisk.receivables import default_as_of
    from payrisk.scoring import open_invoice_queries, score_and_plan
    from payrisk.service_models import InvoiceIn, ScoreRequest
    from payrisk.serving import ScoringEngine, SnapshotHolder
    from payrisk.training import Examples, fit_scorer, split_windows, window_examples

    config = TrainConfig()
    figures: dict = {"target_invoices": target}
    dataset = generate_history(customers_for_invoices(target, YEARS), YEARS, seed=0)
    figures["invoices"] = len(dataset.invoices)
    as_of = default_as_of(dataset)

    started = time.perf_counter()
    history = build_history(dataset, as_of, config.targets, config.features)
    queries = snapshot_queries(dataset.invoices, as_of, config.snapshots)
    features = invoice_features(history, queries)
    figures["features_s"] = time.perf_counter() - started
    figures["snapshots"] = len(queries)

    started = time.perf_counter()
    everything = Examples(queries, features, pd.DataFrame(index=queries.index))
    train_window, _ = split_windows(as_of, config)
    train = window_examples(everything, dataset.invoices, train_window, config)
    scorer = fit_scorer(train, config)
    figures["train_s"] = time.perf_counter() - started
    del everything, train, features, queries

    open_queries = open_invoice_queries(dataset, as_of)
    started = time.perf_counter()
    portfolio = score_and_plan(
        scorer, history, open_queries, as_of, load_dunning_config(), explain_top=10_000
    )
    figures["score_s"] = time.perf_counter() - started
    figures["open_invoices"] = len(portfolio.invoices)

    # Load test for batch scoring: every invoice of the history scored as if it were open.
    all_as_open = dataset.invoices[
        ["invoice_id", "customer_id", "issue_date", "due_date", "amount"]
    ]
    all_as_open = all_as_open.assign(
        open_amount=all_as_open["amount"], disputed=False, snapshot_date=as_of, in_history=True
    )
    started = time.perf_counter()
    score_and_plan(scorer, history, all_as_open, as_of, load_dunning_config(), explain_top=10_000)
    figures["score_all_s"] = time.perf_counter() - started

    # Online, in process: the engine on the compact snapshot, no HTTP.
    holder = SnapshotHolder(None, history.compact())
    engine = ScoringEngine(scorer, "bench", "memory", holder, load_dunning_config())
    sample = open_queries.sample(min(1000, len(open_queries)), random_state=0)
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
    single = []
    for invoice in invoices[:200]:
        started = time.perf_counter()
        engine.score(ScoreRequest(invoices=[invoice], as_of=as_of.date()))
        single.append(time.perf_counter() - started)
    figures["single_p50_ms"] = float(np.percentile(single, 50) * 1000)
    figures["single_p99_ms"] = float(np.percentile(single, 99) * 1000)
    for key, with_reasons in (("batch_1000_ms", False), ("batch_1000_reasons_ms", True)):
        batch = []
        for _ in range(5):
            started = time.perf_counter()
            engine.score(
                ScoreRequest(invoices=invoices, as_of=as_of.date(), with_reasons=with_reasons)
            )
            batch.append(time.perf_counter() - started)
        figures[key] = float(np.median(batch) * 1000)
    figures["peak_gb"] = peak_gb()
    return figures


def main(argv: list[str] | None = None) -> list[dict]:
    sizes = [int(a) for a in (sys.argv[1:] if argv is None else argv)] or list(DEFAULT_SIZES)
    context = multiprocessing.get_context("spawn")
    results = []
    print(f"payrisk pipeline benchmark, {date.today()}, {multiprocessing.cpu_count()} cores")
    header = (
        f"{'invoices':>10} {'snapshots':>10} {'features s':>10} {'train s':>8} {'open inv.':>9} "
        f"{'score s':>8} {'all as open s':>13} {'1 inv p50 ms':>12} {'p99 ms':>7} "
        f"{'1000 inv ms':>11} "
        f"{'+reasons ms':>11} {'peak GB':>8}"
    )
    print(header)
    for target in sizes:
        # A fresh process per size, so that each peak-memory figure is that size's own.
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            figures = pool.submit(run_size, target).result()
        results.append(figures)
        print(
            f"{figures['invoices']:>10,} {figures['snapshots']:>10,} "
            f"{figures['features_s']:>10.1f} "
            f"{figures['train_s']:>8.1f} {figures['open_invoices']:>9,} {figures['score_s']:>8.1f} "
            f"{figures['score_all_s']:>13.1f} "
            f"{figures['single_p50_ms']:>12.1f} {figures['single_p99_ms']:>7.1f} "
            f"{figures['batch_1000_ms']:>11.0f} {figures['batch_1000_reasons_ms']:>11.0f} "
            f"{figures['peak_gb']:>8.2f}"
        )
    return results


if __name__ == "__main__":
    main()
