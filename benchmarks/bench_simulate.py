"""`payrisk simulate` at several world sizes: wall time, CPU time and peak memory, and its phases.

Run: python -m benchmarks.bench_simulate [customers ...] [--years 3] [--seed 1]
     (default: 2,000 customers x 3 years, the issue's target: under 2 minutes)

Each size runs in a fresh spawned process (its memory figures are its own) through
`pipelines.simulation.simulate_world`, the whole of `payrisk simulate` but MLflow: generate the
world and play its history under the logged policy, train the scorer and the channel-effect
models on it, play the five policies over the following 182 days of invoices (followed up 150
days). CPU time is reported beside wall time because the development box is shared: wall time
moves with the other work on it, CPU time much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from typing import Any

from benchmarks import measure

DEFAULT_CUSTOMERS = (2_000,)
YEARS = 3.0
PERIOD_DAYS = 182
FOLLOW_UP_DAYS = 150
TARGET_SECONDS = 120.0  # issue 18: 2,000 customers x 3 years under 2 minutes
TARGET_CUSTOMERS = 2_000


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_size(customers: int, years: float, seed: int) -> dict[str, Any]:
    """One `payrisk simulate` run (no MLflow) in this process: its figures."""
    from payrisk.data.generator import DEFAULT_END_DATE, generate_world
    from pipelines.catalog import Catalog
    from pipelines.simulation import simulate_world

    catalog = Catalog()
    load = os.getloadavg()[0]
    cpu = _cpu_seconds()

    def work() -> dict:
        world = generate_world(customers, years, seed, DEFAULT_END_DATE, future_days=PERIOD_DAYS)
        return simulate_world(world, catalog.train_config, catalog.dunning_config, FOLLOW_UP_DAYS)

    report, figures = measure.measure("simulate", work)
    return {
        "customers": customers,
        "years": years,
        "seed": seed,
        "history_invoices": report["history"]["invoices"],
        "history_reminders": report["history"]["reminders"],
        "period_invoices": report["period"]["invoices"],
        "seconds": round(figures.seconds, 1),
        "cpu_seconds": round(_cpu_seconds() - cpu, 1),
        "peak_gb": round(figures.peak_gb, 2),
        "peak_is_own": figures.peak_is_own,
        "phases": report["timings"],
        "load_average_at_start": round(load, 2),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "learned_gap_closed": report["learned_gap_closed"],
        "policies": report["policies"],
    }


def growth(small: dict, large: dict, key: str) -> float | None:
    """How `key` grows with the history's invoices from the smaller to the larger world."""
    return measure.growth(
        small[key], large[key], small["history_invoices"], large["history_invoices"]
    )


def markdown(results: list[dict]) -> str:
    """The README table: one row per size, then the growth from the smallest to each size."""
    sizes = sorted(results, key=lambda r: r["customers"])
    lines = [
        "| customers x years | history invoices | period invoices | wall | CPU | generate / train"
        " / play (wall) | peak memory | load at start |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sizes:
        p = r["phases"]
        lines.append(
            f"| {r['customers']:,} x {r['years']:g} | {r['history_invoices']:,} | "
            f"{r['period_invoices']:,} | {r['seconds']:.0f} s | {r['cpu_seconds']:.0f} s | "
            f"{p['generate_seconds']:.0f} / {p['train_seconds']:.0f} / {p['play_seconds']:.0f} s"
            f" | {r['peak_gb']:.2f} GB | {r['load_average_at_start']:.1f} |"
        )
    if len(sizes) > 1:
        first = sizes[0]
        lines.append("")
        for r in sizes[1:]:
            cpu, wall = growth(first, r, "cpu_seconds"), growth(first, r, "seconds")
            memory = growth(first, r, "peak_gb")
            lines.append(
                f"- {first['customers']:,} to {r['customers']:,} customers: CPU grows as "
                f"size^{cpu:.2f}, wall as size^{wall:.2f}, peak memory as size^{memory:.2f} "
                "(1.00: linear)."
            )
    target = [r for r in sizes if r["customers"] == TARGET_CUSTOMERS and r["years"] == YEARS]
    if target:
        r = target[0]
        verdict = "met" if r["seconds"] < TARGET_SECONDS else "not met"
        lines.append(
            f"- {TARGET_CUSTOMERS:,} customers x {YEARS:g} years: {r['seconds']:.0f} s wall, "
            f"{r['cpu_seconds']:.0f} s CPU (target under {TARGET_SECONDS:.0f} s: {verdict})."
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("customers", type=int, nargs="*", default=list(DEFAULT_CUSTOMERS))
    parser.add_argument("--years", type=float, default=YEARS)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    results = []
    for customers in sorted(args.customers):
        started = time.perf_counter()
        figures = measure.in_fresh_process(run_size, customers, args.years, args.seed)
        results.append(figures)
        print(
            f"  simulate {customers:,} customers x {args.years:g} years: "
            f"{figures['seconds']:.0f} s wall ({time.perf_counter() - started:.0f} s with the "
            f"process), {figures['cpu_seconds']:.0f} s CPU, peak {figures['peak_gb']:.2f} GB, "
            f"phases {figures['phases']}",
            flush=True,
        )
    print(markdown(results))
    return results


if __name__ == "__main__":
    main()
