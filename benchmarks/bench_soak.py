"""Soak test: concurrent clients on the real `bentoml serve` payrisk for minutes.

Run: python -m benchmarks.bench_soak [--minutes 3] [--clients 8] [--invoices 100000] [--window 30]
       [--slow-bodies 40] [--duplicate-headers 1] [--page-users 4 --baseline-minutes 3]

Each client (a thread with its own HTTP connection) loops over a mix close to production: mostly
single-invoice scores, some batches of 50 without reasons, customer profiles, credit reviews, and
a few bad requests (which must get their 4xx, not a 5xx). Reported per time window: requests,
errors (anything but the expected status), p50 / p95 / p99 latency; and the resident memory of
the server's processes (the bentoml process group) at start, per window and at the end, so that
a leak shows as a steady climb.

Attackers run beside the clients all along (issue 19): `--slow-bodies` connections, more than the
worker's 32 request slots, each announcing a 4,000-byte body to the sign-in form or (with the key)
to /v1/score and sending it one byte every 2 s, reconnecting whenever the server cuts it off; and
`--duplicate-headers` threads sending /v1/score with two Content-Type headers. The clients' error
count must stay zero; the attackers' answers are tallied apart (408 and 400 expected).

`--page-users` (issue 26) adds signed-in browsers looping over the heaviest review pages (the
by-customer portfolio sorted by due date, a customer page, the credit-review form) and, now and
then, issue 26's forged-log path without a key; their answers are tallied apart (200, or 429 when
the pages' own budget is full). With `--baseline-minutes`, the same server first runs the keyed
clients alone that long, and the summary gives the keyed clients' p99 with the page users over
the p99 without them (issue 26's target: at most 2).
"""

from __future__ import annotations

import argparse
import re
import select
import socket
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from benchmarks.bench_service import prepared
from payrisk.serving.process import running_service

KEY = "soak-benchmark-key-0123456789"


def _parent(pid: str) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])  # state ppid ...


def group_rss_mb(port: int) -> float:
    """Resident memory of the server: the `bentoml serve` process listening on `port` and all
    its descendants (the arbiter's API workers)."""
    processes = [entry.name for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    parents: dict[int, int] = {}
    leader = None
    for pid in processes:
        try:
            parents[int(pid)] = _parent(pid)
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if b"serve" in command and b"--port" in command and str(port).encode() in command:
            leader = int(pid)
    if leader is None:
        return float("nan")
    family = {leader}
    grew = True
    while grew:
        children = {pid for pid, parent in parents.items() if parent in family} - family
        family |= children
        grew = bool(children)
    total_kb = 0
    for pid in family:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total_kb / 1024


@dataclass
class Window:
    started: float
    latencies: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    requests: int = 0


class Recorder:
    def __init__(self, seconds: float, last_window: int) -> None:
        """`last_window`: the index of the last full window; the tail joins it."""
        self.seconds = seconds
        self.last_window = last_window
        self.start = time.monotonic()
        self.windows: dict[int, Window] = {}
        self.lock = threading.Lock()

    def add(self, latency: float, problem: str | None) -> None:
        index = min(int((time.monotonic() - self.start) // self.seconds), self.last_window)
        with self.lock:
            window = self.windows.setdefault(index, Window(self.start + index * self.seconds))
            window.requests += 1
            window.latencies.append(latency)
            if problem:
                window.errors[problem] += 1


def requests_mix(invoices: list[dict]) -> list[tuple[str, dict | bytes, int]]:
    """(path, body, expected status) in the proportions the clients send them."""
    mix: list[tuple[str, dict | bytes, int]] = []
    for i, invoice in enumerate(invoices[:200]):
        mix.append(("/v1/score", {"invoices": [invoice]}, 200))
        if i % 10 == 0:
            batch = invoices[i : i + 50]
            mix.append(("/v1/score", {"invoices": batch, "with_reasons": False}, 200))
        if i % 10 == 3:
            mix.append(("/v1/customer", {"customer_id": invoice["customer_id"]}, 200))
        if i % 10 == 6:
            review = {"customer_id": invoice["customer_id"], "requested_amount": 5000.0}
            mix.append(("/v1/credit-review", review, 200))
        if i % 25 == 9:
            mix.append(("/v1/score", {"invoices": [{**invoice, "amount": -1}]}, 400))
            mix.append(("/v1/score", b'{"invoices": [', 400))
    return mix


def client_loop(base: str, mix: list, offset: int, stop: float, recorder: Recorder) -> None:
    with httpx.Client(base_url=base, headers={"X-API-Key": KEY}, timeout=60) as client:
        n = offset
        while time.monotonic() < stop:
            path, body, expected = mix[n % len(mix)]
            n += 1
            started = time.perf_counter()
            problem = None
            try:
                if isinstance(body, bytes):
                    response = client.post(
                        path, content=body, headers={"content-type": "application/json"}
                    )
                else:
                    response = client.post(path, json=body)
                if response.status_code != expected:
                    problem = f"{path} {response.status_code}"
            except httpx.HTTPError as error:
                problem = f"{path} {type(error).__name__}"
            recorder.add(time.perf_counter() - started, problem)


SLOW_BODY_BYTES = 4000
TRICKLE_EVERY_S = 2.0


def _slow_connection(port: int, n: int) -> socket.socket:
    """Alternately the sign-in form (no key) and /v1/score (with the key), body announced."""
    path, media, extra = (
        ("/ui/login", "application/x-www-form-urlencoded", "")
        if n % 2 == 0
        else ("/v1/score", "application/json", f"X-API-Key: {KEY}\r\n")
    )
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {media}\r\n{extra}"
        f"Content-Length: {SLOW_BODY_BYTES}\r\n\r\na".encode()
    )
    return sock


def slow_body_attack(port: int, connections: int, stop: float, tally: Counter) -> None:
    """Keep `connections` bodies trickling one byte every TRICKLE_EVERY_S; tally the answers."""
    open_ = [_slow_connection(port, n) for n in range(connections)]
    while time.monotonic() < stop:
        time.sleep(TRICKLE_EVERY_S)
        answered, _, _ = select.select(open_, [], [], 0)
        for n, sock in enumerate(open_):
            if sock in answered:
                try:
                    head = sock.recv(64)
                except OSError:
                    head = b""
                found = re.match(rb"HTTP/1\.1 (\d{3})", head)
                tally[f"slow body {found.group(1).decode() if found else 'closed'}"] += 1
                sock.close()
                open_[n] = _slow_connection(port, n)
                continue
            try:
                sock.sendall(b"a")
            except OSError:
                tally["slow body reset"] += 1
                sock.close()
                open_[n] = _slow_connection(port, n)
    for sock in open_:
        sock.close()


def duplicate_header_attack(base: str, invoice: dict, stop: float, tally: Counter) -> None:
    """/v1/score with the key and two Content-Type headers, ten times a second."""
    import json

    body = json.dumps({"invoices": [invoice]}).encode()
    headers = [
        ("X-API-Key", KEY),
        ("Content-Type", "text/plain"),
        ("Content-Type", "application/json"),
    ]
    with httpx.Client(base_url=base, timeout=60) as client:
        while time.monotonic() < stop:
            try:
                status = client.post("/v1/score", content=body, headers=headers).status_code
                tally[f"duplicate header {status}"] += 1
            except httpx.HTTPError as error:
                tally[f"duplicate header {type(error).__name__}"] += 1
            time.sleep(0.1)


FORGED_PATH = "/nothere%0a2026-12-07T17:40:00+0000%20%5BWARNING%5D%20FORGED%0a"


def page_user_loop(base: str, customers: list[str], offset: int, stop: float, tally: Counter):
    """A signed-in browser on the heaviest pages, and now and then a forged-log request."""
    with httpx.Client(base_url=base, headers={"Origin": base}, timeout=60) as browser:
        signed_in = browser.post("/ui/login", data={"api_key": KEY, "next": "/ui/"})
        tally[f"sign-in {signed_in.status_code}"] += 1
        n = offset
        while time.monotonic() < stop:
            customer = customers[n % len(customers)]
            try:
                if n % 3 == 0:
                    status = browser.get("/ui/?view=customers&sort=due_date").status_code
                elif n % 3 == 1:
                    status = browser.get(f"/ui/customers/{customer}").status_code
                else:
                    form = {"customer_id": customer, "requested_amount": "20000",
                            "terms_days": "45"}  # fmt: skip
                    status = browser.post("/ui/credit-review", data=form).status_code
                tally[f"page {status}"] += 1
                if n % 10 == 0:
                    forged = httpx.get(f"{base}{FORGED_PATH}", timeout=60).status_code
                    tally[f"forged log path {forged}"] += 1
            except httpx.HTTPError as error:
                tally[f"page {type(error).__name__}"] += 1
            n += 1


def soak(
    base: str,
    port: int,
    mix: list,
    minutes: float,
    clients: int,
    window: float,
    slow_bodies: int = 0,
    duplicate_headers: int = 0,
    page_users: int = 0,
) -> dict:
    recorder = Recorder(window, max(0, int(minutes * 60 // window) - 1))
    rss = [(0.0, group_rss_mb(port))]
    stop = time.monotonic() + minutes * 60
    sampling = threading.Event()
    attacks: Counter = Counter()
    attackers = []
    if slow_bodies:
        attackers.append(
            threading.Thread(
                target=slow_body_attack, args=(port, slow_bodies, stop, attacks), daemon=True
            )
        )
    invoice = next(body for path, body, _ in mix if path == "/v1/score" and isinstance(body, dict))
    for _ in range(duplicate_headers):
        attackers.append(
            threading.Thread(
                target=duplicate_header_attack,
                args=(base, invoice["invoices"][0], stop, attacks),
                daemon=True,
            )
        )
    customers = sorted(
        {body["customer_id"] for path, body, _ in mix if path == "/v1/customer"}  # type: ignore[index]
    )
    for k in range(page_users):
        attackers.append(
            threading.Thread(
                target=page_user_loop, args=(base, customers, k, stop, attacks), daemon=True
            )
        )
    for attacker in attackers:
        attacker.start()

    def sample_memory() -> None:
        while not sampling.wait(window):
            rss.append((time.monotonic() - recorder.start, group_rss_mb(port)))

    sampler = threading.Thread(target=sample_memory, daemon=True)
    sampler.start()
    with ThreadPoolExecutor(clients) as pool:
        for k in range(clients):
            pool.submit(client_loop, base, mix, k * 37, stop, recorder)
    sampling.set()
    sampler.join()
    for attacker in attackers:
        attacker.join()
    rss.append((time.monotonic() - recorder.start, group_rss_mb(port)))
    return {"windows": recorder.windows, "rss": rss, "window_s": window, "attacks": attacks}


def report(result: dict, clients: int) -> dict:
    rows = []
    total_errors: Counter = Counter()
    all_latencies: list[float] = []
    for index in sorted(result["windows"]):
        window = result["windows"][index]
        latencies = np.array(window.latencies) * 1000
        all_latencies.extend(window.latencies)
        total_errors.update(window.errors)
        rows.append(
            {
                "from_s": index * result["window_s"],
                "requests": window.requests,
                "errors": sum(window.errors.values()),
                "p50_ms": float(np.percentile(latencies, 50)),
                "p95_ms": float(np.percentile(latencies, 95)),
                "p99_ms": float(np.percentile(latencies, 99)),
            }
        )
    for row in rows:  # the server's memory at the end of each window (the nearest sample)
        end = row["from_s"] + result["window_s"]
        row["rss_mb"] = min(result["rss"], key=lambda sample: abs(sample[0] - end))[1]
    print(f"soak: {clients} concurrent clients, windows of {result['window_s']:.0f} s")
    print(
        f"{'from s':>7} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        f" {'RSS MB':>7}"
    )
    for row in rows:
        print(
            f"{row['from_s']:>7.0f} {row['requests']:>9} {row['errors']:>7} {row['p50_ms']:>8.1f} "
            f"{row['p95_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['rss_mb']:>7.0f}"
        )
    overall = np.array(all_latencies) * 1000
    duration = result["rss"][-1][0]
    summary = {
        "minutes": duration / 60,
        "requests": len(all_latencies),
        "errors": sum(total_errors.values()),
        "error_kinds": dict(total_errors),
        "requests_per_s": len(all_latencies) / duration if duration else 0.0,
        "p50_ms": float(np.percentile(overall, 50)),
        "p95_ms": float(np.percentile(overall, 95)),
        "p99_ms": float(np.percentile(overall, 99)),
        "rss_start_mb": result["rss"][0][1],
        "rss_after_first_window_mb": result["rss"][1][1] if len(result["rss"]) > 2 else None,
        "rss_end_mb": result["rss"][-1][1],
        "rss_max_mb": max(value for _, value in result["rss"]),
        "attacker_answers": dict(result.get("attacks", {})),
        "windows": rows,
        **late_growth(result["rss"]),
    }
    print(
        f"total {summary['requests']} requests ({summary['requests_per_s']:.1f}/s), "
        f"{summary['errors']} errors {summary['error_kinds'] or ''}; "
        f"p50 {summary['p50_ms']:.1f} ms, p95 {summary['p95_ms']:.1f} ms, "
        f"p99 {summary['p99_ms']:.1f} ms"
    )
    if summary["attacker_answers"]:
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(summary["attacker_answers"].items()))
        print(f"attackers' answers: {answers}")
    print(
        "server RSS (MB): start {:.0f}, after the first window {}, end {:.0f}, max {:.0f}".format(
            summary["rss_start_mb"],
            "–"
            if summary["rss_after_first_window_mb"] is None
            else f"{summary['rss_after_first_window_mb']:.0f}",
            summary["rss_end_mb"],
            summary["rss_max_mb"],
        )
    )
    if summary["late_growth_pct"] is not None:
        print(
            f"memory growth over the last {summary['late_growth_minutes']:.0f} minutes: "
            f"{summary['late_growth_pct']:+.1f}% (target under {GROWTH_TARGET_PCT:g}%)"
        )
    return summary


GROWTH_TARGET_PCT = 2.0
LATE_MINUTES = 20.0


def late_growth(rss: list[tuple[float, float]]) -> dict:
    """Memory growth over the last LATE_MINUTES (or the last two thirds of a shorter soak):
    warm-up is over by then, so growth there is what a leak would look like."""
    duration = rss[-1][0]
    if duration <= 0 or len(rss) < 3:
        return {"late_growth_pct": None, "late_growth_minutes": None}
    minutes = min(LATE_MINUTES, duration / 60 * 2 / 3)
    start = min(rss, key=lambda sample: abs(sample[0] - (duration - minutes * 60)))[1]
    return {
        "late_growth_pct": 100.0 * (rss[-1][1] - start) / start,
        "late_growth_minutes": minutes,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--invoices", type=int, default=100_000, help="size of the history")
    parser.add_argument("--window", type=float, default=30.0, help="seconds per report window")
    parser.add_argument(
        "--slow-bodies", type=int, default=40, help="trickled-body connections (0: none)"
    )
    parser.add_argument(
        "--duplicate-headers", type=int, default=1, help="threads sending two Content-Types"
    )
    parser.add_argument(
        "--page-users", type=int, default=0, help="signed-in browsers on the heaviest pages"
    )
    parser.add_argument(
        "--baseline-minutes",
        type=float,
        default=0.0,
        help="first soak the keyed clients alone this long (the p99 the page users are judged by)",
    )
    parser.add_argument(
        "--reuse", type=Path, default=None, help="keep the trained model here between runs"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="payrisk-soak-") as tmp:
        workdir = Path(tmp)
        # Page users need the portfolio bundle beside the snapshot (both runs then have it).
        env, invoices = prepared(args.invoices, workdir, args.reuse, bundle=args.page_users > 0)
        env["PAYRISK_API_KEYS"] = KEY
        with running_service("payrisk.service:PayriskService", env, workdir / "soak.log") as base:
            port = int(base.rsplit(":", 1)[1])
            mix = requests_mix(invoices)
            warm = httpx.Client(base_url=base, headers={"X-API-Key": KEY}, timeout=60)
            for path, body, _ in mix[:30]:  # warm up before the memory baseline
                if isinstance(body, dict):
                    warm.post(path, json=body)
            warm.close()
            baseline = None
            if args.baseline_minutes > 0:
                print("baseline: the keyed clients alone")
                baseline = report(
                    soak(base, port, mix, args.baseline_minutes, args.clients, args.window),
                    args.clients,
                )
            result = soak(
                base,
                port,
                mix,
                args.minutes,
                args.clients,
                args.window,
                args.slow_bodies,
                args.duplicate_headers,
                args.page_users,
            )
            alive = httpx.get(f"{base}/livez", timeout=10).status_code == 200
        summary = report(result, args.clients)
        summary["alive_at_end"] = alive
        summary["page_users"] = args.page_users
        if baseline is not None:
            summary["baseline"] = {k: v for k, v in baseline.items() if k != "windows"}
            summary["p99_over_baseline"] = summary["p99_ms"] / baseline["p99_ms"]
            print(
                f"keyed clients' p99: {summary['p99_ms']:.1f} ms with {args.page_users} page "
                f"users, {baseline['p99_ms']:.1f} ms without: x{summary['p99_over_baseline']:.2f} "
                "(target at most 2)"
            )
        print(f"server alive at the end: {alive}")
    return summary


if __name__ == "__main__":
    main()
