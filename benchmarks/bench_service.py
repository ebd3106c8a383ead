"""HTTP latency and throughput of `bentoml serve` payrisk, against a bare BentoML endpoint.

Run: python -m benchmarks.bench_service [n_invoices]   (default: a 100k-invoice history)

Both servers run on loopback in this run, one after the other, with the same client: single-invoice
latency p50/p99 (sequential), a batch of 1,000 invoices, and requests per second with concurrent
clients sending single invoices for a fixed time.
"""

from __future__ import annotations

import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd

from pipelines.server import running_service

CONCURRENT_CLIENTS = 8
LOAD_SECONDS = 10.0
SEQUENTIAL_REQUESTS = 200


def measure(base: str, single: list[dict], batch: list[dict]) -> dict[str, float]:
    url = f"{base}/v1/score"
    with httpx.Client(timeout=60) as client:
        for body in single[:20]:  # warm up
            client.post(url, json={"invoices": [body]}).raise_for_status()
        latencies = []
        for body in single[:SEQUENTIAL_REQUESTS]:
            started = time.perf_counter()
            client.post(url, json={"invoices": [body]}).raise_for_status()
            latencies.append(time.perf_counter() - started)
        batch_times = []
        for _ in range(5):
            started = time.perf_counter()
            client.post(url, json={"invoices": batch}).raise_for_status()
            batch_times.append(time.perf_counter() - started)

    def worker(offset: int) -> int:
        done = 0
        with httpx.Client(timeout=60) as client:
            stop = time.monotonic() + LOAD_SECONDS
            while time.monotonic() < stop:
                body = single[(offset + done) % len(single)]
                client.post(url, json={"invoices": [body]}).raise_for_status()
                done += 1
        return done

    with ThreadPoolExecutor(CONCURRENT_CLIENTS) as pool:
        total = sum(pool.map(worker, range(CONCURRENT_CLIENTS)))
    return {
        "single_p50_ms": float(np.percentile(latencies, 50) * 1000),
        "single_p99_ms": float(np.percentile(latencies, 99) * 1000),
        "batch_1000_ms": float(np.median(batch_times) * 1000),
        "requests_per_s": total / LOAD_SECONDS,
    }


def prepare(target: int, workdir: Path) -> tuple[dict[str, str], list[dict]]:
    """Train a scorer without MLflow tracking, save it and a snapshot; return env and invoices."""
    from payrisk.config import TrainConfig
    from payrisk.features import build_history, invoice_features
    from payrisk.generate import customers_for_invoices, generate_history
    from payrisk.labels import snapshot_queries
    from payrisk.receivables import default_as_of
    from payrisk.scorer import PayriskModel
    from payrisk.scoring import open_invoice_queries
    from payrisk.snapshot import save_history
    from payrisk.training import Examples, fit_scorer, split_windows, window_examples

    config = TrainConfig()
    dataset = generate_history(customers_for_invoices(target, 3.0), 3.0, seed=0)
    as_of = default_as_of(dataset)
    history = build_history(dataset, as_of, config.targets, config.features)
    queries = snapshot_queries(dataset.invoices, as_of, config.snapshots)
    everything = Examples(queries, invoice_features(history, queries), pd.DataFrame())
    train_window, _ = split_windows(as_of, config)
    scorer = fit_scorer(window_examples(everything, dataset.invoices, train_window, config), config)
    mlflow.pyfunc.save_model(str(workdir / "model"), python_model=PayriskModel(scorer))
    save_history(history.compact(), workdir / "snapshot.npz")
    open_invoices = open_invoice_queries(dataset, as_of).sample(frac=1.0, random_state=0)
    invoices = [
        {
            "invoice_id": row.invoice_id,
            "customer_id": row.customer_id,
            "issue_date": row.issue_date.date().isoformat(),
            "due_date": row.due_date.date().isoformat(),
            "amount": float(row.amount),
        }
        for row in open_invoices.head(1000).itertuples()
    ]
    env = {
        "PAYRISK_MODEL_URI": str(workdir / "model"),
        "PAYRISK_SNAPSHOT": str(workdir / "snapshot.npz"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
        "BENTOML_HOME": str(workdir / "bentoml"),
    }
    return env, invoices


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    args = sys.argv[1:] if argv is None else argv
    target = int(args[0]) if args else 100_000
    with tempfile.TemporaryDirectory(prefix="payrisk-bench-") as tmp:
        workdir = Path(tmp)
        env, invoices = prepare(target, workdir)
        results = {}
        for name, service in (
            ("bare BentoML", "benchmarks.bare_service:BareService"),
            ("payrisk", "payrisk.service:PayriskService"),
        ):
            with running_service(service, env, workdir / f"{name.replace(' ', '_')}.log") as base:
                results[name] = measure(base, invoices, invoices)
    print(f"service over HTTP, history of {target:,} invoices, {CONCURRENT_CLIENTS} clients")
    print(f"{'server':<14} {'1 inv p50 ms':>12} {'p99 ms':>8} {'1000 inv ms':>11} {'req/s':>7}")
    for name, figures in results.items():
        print(
            f"{name:<14} {figures['single_p50_ms']:>12.1f} {figures['single_p99_ms']:>8.1f} "
            f"{figures['batch_1000_ms']:>11.0f} {figures['requests_per_s']:>7.0f}"
        )
    ratio = results["payrisk"]["single_p50_ms"] / results["bare BentoML"]["single_p50_ms"]
    print(f"payrisk single-invoice p50 / bare p50 = {ratio:.1f}x")
    return results


if __name__ == "__main__":
    main()
