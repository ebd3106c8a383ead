"""`make bench`: every benchmark, its figures as JSON and as README-ready markdown.

Run: python -m benchmarks.run [--sizes 100000 1000000] [--service-size 100000] [--no-service]
     [--no-pipeline] [--simulate-customers 2000 ...] [--no-simulate] [--scaleout] [--soak]
     [--soak-minutes 3] [--soak-page-users 4] [--out reports/bench]

Writes OUT/bench-<UTC time>.json (every figure, the machine, the command) and OUT/bench-<UTC>.md
(the tables), and prints the markdown. The scale-out and soak benchmarks are optional steps that
run only when asked for and when their modules exist.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.measure import machine

TARGETS = {
    "features": ("features", "1M invoices under 30 s"),
    "train (3 models)": ("train", "under 5 minutes"),
    "score + plan open portfolio": ("score", "1M open invoices under 60 s"),
}
PEAK_TARGET_GB = 6.0


def optional(module: str) -> Any | None:
    """An optional benchmark module, or None while it does not exist yet."""
    if importlib.util.find_spec(module) is None:
        return None
    return importlib.import_module(module)


def slope(small: dict, large: dict, step: str) -> float | None:
    """How cost grows from the smaller to the larger size: log(time ratio) / log(size ratio).

    1.0 is linear; figures under a few seconds are dominated by fixed costs and read low.
    """
    from benchmarks.measure import growth

    a = {s["step"]: s for s in small["steps"]}.get(step)
    b = {s["step"]: s for s in large["steps"]}.get(step)
    if not a or not b:
        return None
    return growth(a["seconds"], b["seconds"], small["invoices"], large["invoices"])


def pipeline_markdown(results: list[dict]) -> str:
    sizes = sorted(results, key=lambda r: r["invoices"])
    header = "| step | " + " | ".join(f"{r['invoices']:,} invoices" for r in sizes)
    header += " | slope |" if len(sizes) > 1 else " |"
    lines = [header, "|---" * (len(sizes) + 1 + (len(sizes) > 1)) + "|"]
    steps = [s["step"] for s in sizes[0]["steps"] if s["step"] != "online engine (in process)"]
    for step in steps:
        cells = []
        for r in sizes:
            s = {x["step"]: x for x in r["steps"]}.get(step)
            cells.append(f"{s['seconds']:.1f} s, {s['peak_gb']:.2f} GB" if s else "not run")
        row = f"| {step} | " + " | ".join(cells)
        if len(sizes) > 1:
            k = slope(sizes[0], sizes[-1], step)
            row += f" | {k:.2f}" if k is not None else " | "
        lines.append(row + " |")
    lines.append("")
    lines.append(
        "| online engine, in process | " + " | ".join(f"{r['invoices']:,}" for r in sizes) + " |"
    )
    lines.append("|---" * (len(sizes) + 1) + "|")
    for key, label in (
        ("single_p50_ms", "one invoice p50 (with reasons)"),
        ("single_p99_ms", "one invoice p99 (with reasons)"),
        ("single_no_reasons_p50_ms", "one invoice p50, no reasons"),
        ("batch_1000_ms", "1,000 invoices, no reasons"),
        ("batch_1000_reasons_ms", "1,000 invoices, with reasons"),
    ):
        lines.append(
            f"| {label} | " + " | ".join(f"{r['online'][key]:.1f} ms" for r in sizes) + " |"
        )
    lines.append("")
    for r in sizes:
        lines.append(
            f"- {r['invoices']:,} invoices ({r['customers']:,} customers,"
            f" {r['payments']:,} payments,"
            f" {r['reminders']:,} reminders): {r['snapshots']:,} training snapshots,"
            f" {r['open_invoices']:,} open invoices in the history, open portfolio of"
            f" {r['portfolio_open_invoices']:,} open invoices over {r['portfolio_customers']:,}"
            " customers."
            + (
                " Models not fitted at this size (`--train-max`): scored with the smaller"
                " size's scorer."
                if r.get("scorer_trained_on_a_smaller_history")
                else ""
            )
        )
    largest = sizes[-1]
    own = {s["step"]: s for s in largest["steps"]}
    verdicts = []
    for step, (_, target) in TARGETS.items():
        if step in own:
            verdicts.append(f"{step} {own[step]['seconds']:.1f} s (target {target})")
    peak = max(s["peak_gb"] for s in largest["steps"])
    verdicts.append(f"peak of any step {peak:.2f} GB (target under {PEAK_TARGET_GB:g} GB)")
    lines.append(f"- At {largest['invoices']:,} invoices: " + "; ".join(verdicts) + ".")
    return "\n".join(lines)


def service_markdown(service: dict) -> str:
    servers = service["servers"]
    counts = sorted(
        int(k.split("_")[1]) for k in next(iter(servers.values())) if k.startswith("rps_")
    )
    lines = [
        "| server | one invoice p50 | p99 | p50 without reasons | 1,000 invoices | with reasons | "
        + " | ".join(f"req/s, {c} clients" for c in counts)
        + " |",
        "|---" * (6 + len(counts)) + "|",
    ]
    for name, f in servers.items():
        lines.append(
            f"| {name} | {f['single_p50_ms']:.1f} ms | {f['single_p99_ms']:.1f} ms | "
            f"{f['single_no_reasons_p50_ms']:.1f} ms | {f['batch_1000_ms']:.0f} ms | "
            f"{f['batch_1000_reasons_ms']:.0f} ms | "
            + " | ".join(f"{f[f'rps_{c}_clients']:.0f}" for c in counts)
            + " |"
        )
    payrisk, bare = servers["payrisk"], servers["bare BentoML"]
    lines.append("")
    lines.append(
        f"payrisk single-invoice p50 / bare p50: {service['single_p50_ratio']:.1f}x with reasons, "
        f"{payrisk['single_no_reasons_p50_ms'] / bare['single_no_reasons_p50_ms']:.1f}x without "
        f"(history of {service['history_invoices']:,} invoices; target 2x)."
    )
    lines.append("")
    lines.append(
        "| workers (both servers) | "
        + " | ".join(f"{c} clients: payrisk / bare req/s | p99 payrisk / bare" for c in counts)
        + " |"
    )
    lines.append("|---" * (1 + 2 * len(counts)) + "|")
    for workers, layout in service.get("layouts", {"1": servers}).items():
        p, b = layout["payrisk"], layout["bare BentoML"]
        cells = []
        for c in counts:
            rps, bare_rps = p[f"rps_{c}_clients"], b[f"rps_{c}_clients"]
            cells.append(f"{rps:.0f} / {bare_rps:.0f} = **{rps / bare_rps:.0%}**")
            cells.append(f"{p[f'p99_ms_{c}_clients']:.0f} / {b[f'p99_ms_{c}_clients']:.0f} ms")
        lines.append(f"| {workers} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Target: payrisk at least 70% of the bare endpoint's req/s at 8 and 32 clients.")
    return "\n".join(lines)


def reasons_markdown(reasons: dict) -> str:
    lines = [
        "| 1,000 invoices in process (one thread unless said) | CPU | wall |",
        "|---|---|---|",
    ]
    for key, label in (
        ("before", "with reasons, LightGBM pred_contrib (before issue 18)"),
        ("now", "with reasons, payrisk.models.treeshap"),
        ("no_reasons", "without reasons"),
        ("service_threads", "with reasons, as the service runs it (its kernels on every core)"),
    ):
        lines.append(
            f"| {label} | {reasons[key]['cpu_ms']:.0f} ms | {reasons[key]['wall_ms']:.0f} ms |"
        )
    lines.append("")
    lines.append("Target: 1,000 invoices with reasons under 150 ms in process.")
    return "\n".join(lines)


# Issue 18's targets, judged on one run's figures.
THROUGHPUT_SHARE, THROUGHPUT_CLIENTS = 0.70, (8, 32)
REASONS_MS = 150.0
TRAIN_SECONDS, TRAIN_GB, TRAIN_INVOICES = 90.0, 4.0, 900_000
SOAK_MINUTES, SOAK_GROWTH_PCT = 30.0, 2.0
LINEAR_GROWTH = 1.10  # a growth exponent up to this reads as linear (fixed costs, noise)


def targets_markdown(results: dict) -> str:
    """Each target of issue 18 beside what this run measured, and whether it was reached; a
    part the run skipped is said to be not measured."""

    def row(target: str, measured: str | None, met: bool | None) -> str:
        verdict = "not measured" if met is None else ("met" if met else "**missed**")
        return f"| {target} | {measured or 'not in this run'} | {verdict} |"

    lines = ["| target (issue 18) | this run | |", "|---|---|---|"]
    service = results.get("service")
    measured, met = None, None
    if service:
        cells, shares = [], []
        for workers, layout in service.get("layouts", {"1": service["servers"]}).items():
            p, b = layout["payrisk"], layout["bare BentoML"]
            share = [p[f"rps_{c}_clients"] / b[f"rps_{c}_clients"] for c in THROUGHPUT_CLIENTS]
            shares.append(min(share))
            cells.append(
                f"{workers} worker(s): {share[0]:.0%} at {THROUGHPUT_CLIENTS[0]} clients, "
                f"{share[1]:.0%} at {THROUGHPUT_CLIENTS[1]}, p99 at {THROUGHPUT_CLIENTS[1]} "
                f"{p[f'p99_ms_{THROUGHPUT_CLIENTS[1]}_clients']:.0f} ms"
            )
        measured, met = "; ".join(cells), max(shares) >= THROUGHPUT_SHARE
    lines.append(row("req/s at 8 and 32 clients at least 70% of bare BentoML's", measured, met))
    reasons = results.get("reasons")
    measured, met = None, None
    if reasons:
        wall = reasons["service_threads"]["wall_ms"]
        measured = (
            f"{wall:.0f} ms wall as the service runs it; {reasons['now']['cpu_ms']:.0f} ms of "
            f"CPU on one thread; {reasons['no_reasons']['cpu_ms']:.0f} ms without reasons"
        )
        met = wall < REASONS_MS
    lines.append(row("1,000 invoices with reasons under 150 ms in process", measured, met))
    measured, met = None, None
    large = [r for r in results.get("pipeline", []) if r["invoices"] >= TRAIN_INVOICES]
    if large:
        steps = {s["step"]: s for s in max(large, key=lambda r: r["invoices"])["steps"]}
        train = steps.get("train (3 models)")
        if train:
            measured = (
                f"{train['seconds']:.0f} s, peak {train['peak_gb']:.2f} GB "
                f"({large[-1]['invoices']:,} invoices)"
            )
            met = train["seconds"] < TRAIN_SECONDS and train["peak_gb"] < TRAIN_GB
    lines.append(row("training on a million invoices under 90 s, peak under 4 GB", measured, met))
    simulated = sorted(results.get("simulate", []), key=lambda r: r["customers"])
    measured, met = None, None
    if simulated:
        from benchmarks.bench_simulate import TARGET_CUSTOMERS, TARGET_SECONDS
        from benchmarks.measure import growth

        cells = [
            f"{r['customers']:,} customers {r['seconds']:.0f} s wall, {r['cpu_seconds']:.0f} s "
            f"CPU, {r['peak_gb']:.2f} GB"
            for r in simulated
        ]
        small = [r for r in simulated if r["customers"] == TARGET_CUSTOMERS]
        met = bool(small) and small[0]["seconds"] < TARGET_SECONDS
        if len(simulated) > 1:
            first, last = simulated[0], simulated[-1]
            exponent = growth(
                first["cpu_seconds"], last["cpu_seconds"], first["customers"], last["customers"]
            )
            cells.append(f"CPU grows as size^{exponent:.2f}")
            met = met and exponent <= LINEAR_GROWTH
        measured = "; ".join(cells)
    target = "`payrisk simulate` 2,000 customers x 3 years under 2 minutes; 50,000 reported, linear"
    lines.append(row(target, measured, met))
    soak = results.get("soak")
    measured, met = None, None
    if soak:
        minutes = soak["minutes"]
        growth_pct = soak["late_growth_pct"]
        measured = (
            f"{minutes:.0f} minutes, {soak['requests']:,} requests, {soak['errors']} errors, "
            f"p99 {soak['p99_ms']:.0f} ms, memory "
            + ("not sampled" if growth_pct is None else f"{growth_pct:+.1f}%")
            + f" over the last {soak['late_growth_minutes'] or 0:.0f} minutes"
        )
        met = (
            minutes >= SOAK_MINUTES
            and soak["errors"] == 0
            and growth_pct is not None
            and growth_pct < SOAK_GROWTH_PCT
        )
    lines.append(row("30-minute soak: no errors, memory growth under 2%", measured, met))
    return "\n".join(lines)


def soak_markdown(soak: dict) -> str:
    """The soak's totals (its windows are in the JSON and printed by bench_soak)."""
    growth = soak["late_growth_pct"]
    attacks = ", ".join(f"{v:,} x {k}" for k, v in sorted(soak["attacker_answers"].items()))
    return "\n".join(
        [
            "| minutes | requests | errors | requests/s | p50 | p95 | p99 | attackers' answers "
            "| server memory (RSS) | growth over the last minutes |",
            "|---" * 10 + "|",
            f"| {soak['minutes']:.0f} | {soak['requests']:,} | {soak['errors']} | "
            f"{soak['requests_per_s']:.0f} | {soak['p50_ms']:.1f} ms | {soak['p95_ms']:.1f} ms | "
            f"{soak['p99_ms']:.1f} ms | {attacks or 'none'} | {soak['rss_start_mb']:.0f} MB at "
            f"start, {soak['rss_end_mb']:.0f} at the end | "
            + ("not sampled" if growth is None else f"{growth:+.1f}%")
            + f" over {soak['late_growth_minutes'] or 0:.0f} minutes |",
        ]
    )


def machine_markdown(info: dict) -> str:
    return (
        f"Machine: {info['cpu']}, {info['cores']} cores ({info['usable_cores']} usable), "
        f"{info['memory_gb']} GB, {info['system']}, Python {info['python']}; load average "
        f"{', '.join(str(x) for x in info['load_average_at_start'])} at the start "
        "(the machine is shared, so figures move from run to run)."
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--service-size", type=int, default=100_000)
    parser.add_argument(
        "--train-max",
        type=int,
        default=None,
        help="fit the models only on histories up to this size; larger sizes score with the "
        "scorer of the largest trained one (for short runs on a busy machine)",
    )
    parser.add_argument("--no-pipeline", action="store_true", help="skip the batch steps")
    parser.add_argument("--no-service", action="store_true", help="skip the HTTP benchmark")
    parser.add_argument(
        "--simulate-customers",
        type=int,
        nargs="+",
        default=[2_000],
        help="world sizes of the `payrisk simulate` benchmark (customers x 3 years)",
    )
    parser.add_argument("--no-simulate", action="store_true", help="skip payrisk simulate")
    parser.add_argument("--scaleout", action="store_true", help="also run bench_scaleout")
    parser.add_argument("--soak", action="store_true", help="also run bench_soak")
    parser.add_argument("--soak-minutes", type=float, default=3.0)
    parser.add_argument(
        "--soak-page-users",
        type=int,
        default=0,
        help="signed-in page users in the soak, judged against a baseline soak as long without",
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, 2],
        help="server worker layouts measured (the first gives the full service table)",
    )
    parser.add_argument(
        "--reuse", type=Path, default=None, help="keep the service's trained model here"
    )
    parser.add_argument("--out", type=Path, default=Path("reports/bench"))
    args = parser.parse_args(argv)

    started = time.perf_counter()
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": ["python", "-m", "benchmarks.run", *(sys.argv[1:] if argv is None else argv)],
        "machine": machine(),
    }
    sections = [machine_markdown(results["machine"])]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = args.out / f"bench-{stamp}.json", args.out / f"bench-{stamp}.md"

    def save() -> None:  # after each part, so that a long run leaves what it has measured
        json_path.write_text(json.dumps(results, indent=2, default=str))
        md_path.write_text("\n\n".join(sections) + "\n")

    # One trained service model for the service, reasons and soak steps of this run.
    if args.reuse is None:
        args.reuse = Path(tempfile.mkdtemp(prefix="payrisk-bench-prepared-"))
    reuse = ["--reuse", str(args.reuse)]
    # The service first: it is the quickest part, and the slow 1M steps come last.
    if not args.no_service:
        from benchmarks import bench_reasons, bench_service

        results["service"] = bench_service.main(
            [str(args.service_size), "--workers", *map(str, args.workers), *reuse]
        )
        sections.append(service_markdown(results["service"]))
        results["reasons"] = bench_reasons.main(["--invoices", str(args.service_size), *reuse])
        sections.append(reasons_markdown(results["reasons"]))
        save()
    if not args.no_pipeline:
        from benchmarks import bench_pipeline  # generation is its first step

        results["pipeline"] = []
        limit = [] if args.train_max is None else ["--train-max", str(args.train_max)]
        for size in sorted(args.sizes):
            results["pipeline"] += bench_pipeline.main([str(size), *limit])
            save()
        sections.append(pipeline_markdown(results["pipeline"]))
        save()
    if not args.no_simulate:
        from benchmarks import bench_simulate

        results["simulate"] = bench_simulate.main([str(c) for c in args.simulate_customers])
        sections.append(bench_simulate.markdown(results["simulate"]))
        save()
    soak_pages = (
        ["--page-users", str(args.soak_page_users), "--baseline-minutes", str(args.soak_minutes)]
        if args.soak_page_users
        else []
    )
    for flag, module, extra in (
        ("scaleout", "benchmarks.bench_scaleout", []),
        (
            "soak",
            "benchmarks.bench_soak",
            ["--minutes", str(args.soak_minutes), *reuse, *soak_pages],
        ),
    ):
        if not getattr(args, flag):
            continue
        loaded = optional(module)
        if loaded is None:
            print(f"{module} is not there yet: skipped")
            continue
        results[flag] = loaded.main(extra)
        sections.append(
            soak_markdown(results[flag])
            if flag == "soak"
            else f"{flag}: see `{flag}` in {json_path.name} and the table printed above."
        )
        save()
    results["total_seconds"] = time.perf_counter() - started
    sections.append(targets_markdown(results))
    save()
    print()
    print("\n\n".join(sections))
    print(f"\n(total {results['total_seconds'] / 60:.1f} min; written to {json_path} and .md)")
    return results


if __name__ == "__main__":
    main()
