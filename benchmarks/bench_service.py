"""HTTP latency and throughput of `bentoml serve` payrisk, against a bare BentoML endpoint.

Run: python -m benchmarks.bench_service [n_invoices]   (default: a 100k-invoice history)

Both servers run at the same time on loopback, started the same way (`payrisk.serving.process`),
and are measured with the same client, *interleaved* request by request: on a shared machine
whose load moves from second to second, alternating is what makes the ratio of the two figures fair.
Figures: single-invoice latency p50/p99 (sequential, with and without reasons), a batch of 1,000
invoices, and requests per second with N concurrent clients sending single invoices.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd

from payrisk.serving.process import running_service

CONCURRENCY = (1, 8, 32)
LOAD_SECONDS = 12.0  # per server and concurrency, in LOAD_ROUNDS alternating rounds
LOAD_ROUNDS = 4
SEQUENTIAL_REQUESTS = 300
BATCH_REPEATS = 5
KEY = "benchmark-key-0123456789abcdef"
DEFAULT_WORKERS = 1  # the service's default (PAYRISK_WORKERS)
SERVERS = {
    "bare BentoML": "benchmarks.bare_service:BareService",
    "payrisk": "payrisk.service:PayriskService",
}


def percentiles(seconds: list[float]) -> dict[str, float]:
    return {
        "p50_ms": float(np.percentile(seconds, 50) * 1000),
        "p99_ms": float(np.percentile(seconds, 99) * 1000),
    }


def timed_post(client: httpx.Client, url: str, body: dict) -> float:
    started = time.perf_counter()
    client.post(url, json=body).raise_for_status()
    return time.perf_counter() - started


def sequential(
    urls: dict[str, str], single: list[dict], batch: list[dict], results: dict[str, dict]
) -> None:
    """One client: single invoices (with and without reasons), then batches of 1,000."""
    with httpx.Client(timeout=120, headers={"X-API-Key": KEY}) as client:
        for key, extra in (("single", {}), ("single_no_reasons", {"with_reasons": False})):
            times: dict[str, list[float]] = {name: [] for name in urls}
            for body in single[:SEQUENTIAL_REQUESTS]:
                for name, url in urls.items():
                    times[name].append(timed_post(client, url, {"invoices": [body], **extra}))
            for name in urls:
                for stat, value in percentiles(times[name]).items():
                    results[name][f"{key}_{stat}"] = value
        for key, extra in (
            ("batch_1000_ms", {"with_reasons": False}),
            ("batch_1000_reasons_ms", {}),
        ):
            times = {name: [] for name in urls}
            for _ in range(BATCH_REPEATS):
                for name, url in urls.items():
                    times[name].append(timed_post(client, url, {"invoices": batch, **extra}))
            for name in urls:
                results[name][key] = float(np.median(times[name]) * 1000)


def measure(
    urls: dict[str, str], single: list[dict], batch: list[dict], concurrency_only: bool = False
) -> dict[str, dict]:
    """Every figure for every server, interleaving the servers request by request."""
    headers = {"X-API-Key": KEY}
    results: dict[str, dict] = {name: {} for name in urls}
    with httpx.Client(timeout=120, headers=headers) as client:
        for body in single[:30]:  # warm up both
            for url in urls.values():
                client.post(url, json={"invoices": [body]}).raise_for_status()
    if not concurrency_only:
        sequential(urls, single, batch, results)

    def worker(url: str, client_number: int, seconds: float) -> tuple[int, list[float]]:
        offset = client_number * 17  # clients start at different invoices
        latencies = []
        with httpx.Client(timeout=120, headers=headers) as client:
            stop = time.monotonic() + seconds
            while time.monotonic() < stop:
                body = single[(offset + len(latencies)) % len(single)]
                latencies.append(timed_post(client, url, {"invoices": [body]}))
        return len(latencies), latencies

    results_under_load = load(urls, worker)
    for name in urls:
        results[name].update(results_under_load[name])
    return results


def load(urls: dict[str, str], worker) -> dict[str, dict]:
    """Requests per second and p99 with N concurrent clients, the servers alternating in
    LOAD_ROUNDS short rounds (the load of a shared machine drifts within seconds)."""
    results: dict[str, dict] = {name: {} for name in urls}
    for clients in CONCURRENCY:
        counts = dict.fromkeys(urls, 0)
        latencies: dict[str, list[float]] = {name: [] for name in urls}
        for _ in range(LOAD_ROUNDS):
            for name, url in urls.items():
                seconds = LOAD_SECONDS / LOAD_ROUNDS
                with ThreadPoolExecutor(clients) as pool:
                    done = list(pool.map(partial(worker, url, seconds=seconds), range(clients)))
                counts[name] += sum(count for count, _ in done)
                latencies[name] += [x for _, values in done for x in values]
        for name in urls:
            results[name][f"rps_{clients}_clients"] = counts[name] / LOAD_SECONDS
            results[name][f"p99_ms_{clients}_clients"] = percentiles(latencies[name])["p99_ms"]
    return results


def prepare(target: int, workdir: Path, bundle: bool = False) -> tuple[dict[str, str], list[dict]]:
    """Train a scorer without MLflow tracking, save it and a snapshot; return env and invoices.
    With `bundle`, the portfolio bundle too, as `payrisk snapshot` pairs them (the review pages
    need it; the service then plans each customer's other open invoices as well)."""
    from payrisk.core.config import TrainConfig
    from payrisk.data.generator import customers_for_invoices, generate_history
    from payrisk.data.receivables import default_as_of
    from payrisk.features.definitions import invoice_features
    from payrisk.features.history import build_history
    from payrisk.features.snapshot import save_history
    from payrisk.models.labels import snapshot_queries
    from payrisk.models.scorer import PayriskModel
    from payrisk.models.training import Examples, fit_scorer, split_windows, window_examples
    from payrisk.policy.planning import open_invoice_queries

    config = TrainConfig()
    dataset = generate_history(customers_for_invoices(target, 3.0), 3.0, seed=0)
    as_of = default_as_of(dataset)
    history = build_history(dataset, as_of, config.targets, config.features)
    queries = snapshot_queries(dataset.invoices, as_of, config.snapshots)
    everything = Examples(queries, invoice_features(history, queries), pd.DataFrame())
    train_window, _ = split_windows(as_of, config)
    scorer = fit_scorer(window_examples(everything, dataset.invoices, train_window, config), config)
    mlflow.pyfunc.save_model(str(workdir / "model"), python_model=PayriskModel(scorer))
    if bundle:
        write_pair(scorer, dataset, history, as_of, workdir)
    else:
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


def write_pair(scorer, dataset, history, as_of: pd.Timestamp, workdir: Path) -> None:
    """The snapshot and its portfolio bundle in `workdir`, with the metadata `payrisk snapshot`
    writes (the served model's fingerprint, one snapshot_id)."""
    import uuid

    from payrisk.data.receivables import recovered_share_of_defaults
    from payrisk.features.snapshot import model_fingerprint, write_history
    from payrisk.policy.config import load_dunning_config, recovery_rate, with_recovery_rate
    from payrisk.policy.portfolio import build_bundle, write_bundle
    from payrisk.scaleout.dask import score_open_invoices
    from pipelines.scoring import EXPLAIN_TOP

    measured = recovered_share_of_defaults(dataset, as_of, scorer.targets.default_after_days)
    policy = with_recovery_rate(load_dunning_config(), measured)
    _, portfolio = score_open_invoices(scorer, dataset, as_of, policy, EXPLAIN_TOP)
    metadata = {
        "model_version": str(workdir / "model"),  # the service's version of a model URI
        "model_fingerprint": model_fingerprint(scorer.metadata),
        "recovery_rate": recovery_rate(policy),
        "snapshot_id": uuid.uuid4().hex,
    }
    folder = workdir / "portfolio"
    folder.mkdir(parents=True, exist_ok=True)
    levels = scorer.targets.payment_quantiles
    write_bundle(build_bundle(dataset, portfolio, as_of, policy, levels), folder, metadata)
    write_history(history.compact(), workdir / "snapshot.npz", metadata)


def prepared(
    target: int, workdir: Path, reuse: Path | None, bundle: bool = False
) -> tuple[dict[str, str], list[dict]]:
    """`prepare` in `workdir`, or (with `reuse`) once into that directory and then read from it:
    on a busy machine a 100k-invoice training takes minutes, the same for every run of the day.
    The directory holds the model, the snapshot and the invoices of one history size."""
    if reuse is None:
        return prepare(target, workdir, bundle)
    reuse = reuse / (f"{target}-with-bundle" if bundle else f"{target}")
    manifest = reuse / "prepared.json"
    if not manifest.exists():
        reuse.mkdir(parents=True, exist_ok=True)
        env, invoices = prepare(target, reuse, bundle)
        (reuse / "invoices.json").write_text(json.dumps(invoices))
        manifest.write_text(json.dumps(env))
    env = json.loads(manifest.read_text())
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    env["BENTOML_HOME"] = str(workdir / "bentoml")
    return env, json.loads((reuse / "invoices.json").read_text())


def print_table(results: dict[str, dict], target: int) -> None:
    print(f"service over HTTP, history of {target:,} invoices, servers measured interleaved")
    print(
        f"{'server':<14} {'1 inv p50':>9} {'p99':>7} {'no reasons p50':>14} {'1000 inv':>9} "
        f"{'+reasons':>9} " + " ".join(f"{f'req/s x{c}':>10}" for c in CONCURRENCY)
    )
    for name, f in results.items():
        print(
            f"{name:<14} {f['single_p50_ms']:>9.1f} {f['single_p99_ms']:>7.1f} "
            f"{f['single_no_reasons_p50_ms']:>14.1f} {f['batch_1000_ms']:>9.0f} "
            f"{f['batch_1000_reasons_ms']:>9.0f} "
            + " ".join(f"{f[f'rps_{c}_clients']:>10.0f}" for c in CONCURRENCY)
        )
    ratio = results["payrisk"]["single_p50_ms"] / results["bare BentoML"]["single_p50_ms"]
    plain = (
        results["payrisk"]["single_no_reasons_p50_ms"]
        / results["bare BentoML"]["single_no_reasons_p50_ms"]
    )
    print(f"payrisk single-invoice p50 / bare p50 = {ratio:.1f}x ({plain:.1f}x without reasons)")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("invoices", type=int, nargs="?", default=100_000, help="history size")
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[DEFAULT_WORKERS],
        help="server worker processes (both servers alike); the first gives the full table, "
        "the others the concurrency figures only",
    )
    parser.add_argument(
        "--reuse", type=Path, default=None, help="keep the trained model here between runs"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    target = args.invoices
    layouts: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="payrisk-bench-") as tmp:
        workdir = Path(tmp)
        env, invoices = prepared(target, workdir, args.reuse)
        env["PAYRISK_API_KEYS"] = KEY
        # Connections are not spread evenly over workers: with 2, one may hold 20 of the 32
        # clients, over a per-worker limit of 32 / 2. The benchmark measures throughput, so the
        # limit is the clients' count in every worker (both servers alike).
        env["PAYRISK_MAX_CONCURRENCY"] = str(max(CONCURRENCY))
        for number, workers in enumerate(args.workers):
            env["PAYRISK_WORKERS"] = str(workers)
            with ExitStack() as stack:
                urls = {
                    name: stack.enter_context(
                        running_service(
                            service, env, workdir / f"{name.replace(' ', '_')}-{workers}.log"
                        )
                    )
                    + "/v1/score"
                    for name, service in SERVERS.items()
                }
                if number == 0:
                    results = measure(urls, invoices, invoices)
                    layouts[workers] = results
                else:
                    layouts[workers] = measure(urls, invoices, invoices, concurrency_only=True)
    print_table(results, target)
    print_layouts(layouts)
    ratio = results["payrisk"]["single_p50_ms"] / results["bare BentoML"]["single_p50_ms"]
    return {
        "history_invoices": target,
        "workers": args.workers[0],
        "servers": results,
        "single_p50_ratio": ratio,
        "layouts": {str(k): v for k, v in layouts.items()},
    }


def print_layouts(layouts: dict[int, dict]) -> None:
    """payrisk's requests per second against the bare endpoint's, per worker count."""
    for workers, results in layouts.items():
        payrisk, bare = results["payrisk"], results["bare BentoML"]
        print(
            f"{workers} worker(s): "
            + "; ".join(
                f"{c} clients payrisk {payrisk[f'rps_{c}_clients']:.0f} req/s vs bare "
                f"{bare[f'rps_{c}_clients']:.0f} "
                f"({payrisk[f'rps_{c}_clients'] / bare[f'rps_{c}_clients']:.0%}), "
                f"p99 {payrisk[f'p99_ms_{c}_clients']:.0f} ms vs {bare[f'p99_ms_{c}_clients']:.0f}"
                for c in CONCURRENCY
            )
        )


if __name__ == "__main__":
    main()
