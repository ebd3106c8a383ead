"""How fast the synthetic history generator is, and how much memory it needs.

Run: python benchmarks/bench_generate.py [n_invoices ...]   (default: 100k and 1M invoices)

Each size runs in a fresh process so that its peak resident memory is its own, not the maximum of
everything run before it.
"""

from __future__ import annotations

import multiprocessing
import resource
import sys
import time
from dataclasses import dataclass

from payrisk.data.generator import customers_for_invoices, generate_history

DEFAULT_SIZES = (100_000, 1_000_000)
YEARS = 3.0
SEED = 0


@dataclass(frozen=True)
class Timing:
    target_invoices: int
    customers: int
    invoices: int
    payments: int
    reminders: int
    seconds: float
    peak_rss_mb: float

    @property
    def invoices_per_second(self) -> float:
        return self.invoices / self.seconds


def time_generation(target_invoices: int, years: float = YEARS, seed: int = SEED) -> Timing:
    """Generate about `target_invoices` invoices once; wall time and this process's peak RSS."""
    customers = customers_for_invoices(target_invoices, years)
    started = time.perf_counter()
    dataset = generate_history(customers, years, seed)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return Timing(
        target_invoices=target_invoices,
        customers=customers,
        invoices=len(dataset.invoices),
        payments=len(dataset.payments),
        reminders=len(dataset.reminders),
        seconds=seconds,
        peak_rss_mb=peak_kib / 1024,
    )


def main(argv: list[str] | None = None) -> list[Timing]:
    sizes = [int(a) for a in (sys.argv[1:] if argv is None else argv)] or list(DEFAULT_SIZES)
    context = multiprocessing.get_context("spawn")
    timings = []
    print(
        f"{'target':>10} {'customers':>9} {'invoices':>10} {'payments':>10} {'reminders':>10}"
        f" {'seconds':>8} {'invoices/s':>11} {'peak RSS MB':>11}"
    )
    for size in sizes:
        with context.Pool(1) as pool:
            timing = pool.apply(time_generation, (size,))
        timings.append(timing)
        print(
            f"{timing.target_invoices:>10,} {timing.customers:>9,} {timing.invoices:>10,}"
            f" {timing.payments:>10,} {timing.reminders:>10,} {timing.seconds:>8.2f}"
            f" {timing.invoices_per_second:>11,.0f} {timing.peak_rss_mb:>11,.0f}",
            flush=True,
        )
    return timings


if __name__ == "__main__":
    main()
