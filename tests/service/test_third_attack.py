"""The third attack, replayed on a real `payrisk serve` (issue 26): review pages that stalled the
event loop, a snapshot and bundle whose contents were only partly checked, a snapshot built by
another model, forged log lines. Each test failed on the service before the fix."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from payrisk.serving.auth import COOKIE
from payrisk.serving.process import ServerStartError, free_port, running_server
from tests.conftest import AUTH, VALID_INVOICE
from tests.service.test_attacks import sign_in

pytestmark = pytest.mark.slow  # starts processes, clusters or browsers: make test-fast skips it

MAX_CONCURRENCY = 8
PAGE_USERS = 4
LOAD_S = 6.0


def payrisk_command(port: int) -> list[str]:
    """`payrisk serve` exactly as a user runs it: the console script of this venv."""
    return [str(Path(sys.executable).with_name("payrisk")), "serve", "--port", str(port)]


@pytest.fixture(scope="module")
def third(trained, snapshot_file, tmp_path_factory) -> Iterator[tuple[str, Path, Path]]:
    """A real `payrisk serve` on its own copy of the snapshot and bundle; yields (base URL,
    snapshot path, log file)."""
    folder = tmp_path_factory.mktemp("third")
    snapshot = folder / "customer_history.npz"
    shutil.copy2(snapshot_file, snapshot)
    shutil.copytree(snapshot_file.with_name("portfolio"), folder / "portfolio")
    env = {
        **trained.env,
        "PAYRISK_SNAPSHOT": str(snapshot),
        "BENTOML_HOME": str(folder / "bentoml"),
        "PAYRISK_MAX_CONCURRENCY": str(MAX_CONCURRENCY),
    }
    port = free_port()
    log = folder / "server.log"
    try:
        with running_server(payrisk_command(port), port, env, log) as (base, _):
            yield base, snapshot, log
    except ServerStartError as error:
        pytest.fail(str(error))


def timed(call: Callable[[], httpx.Response]) -> float:
    """Milliseconds one call took (its answer must be a 200)."""
    started = time.perf_counter()
    response = call()
    assert response.status_code == 200, response.text[:200]
    return (time.perf_counter() - started) * 1000


def test_review_pages_neither_stall_the_probes_nor_starve_keyed_clients(third):
    """Before: the /ui handlers ran scoring, pandas and templates on the event loop: while four
    signed-in clients looped over the by-customer portfolio and the credit-review form, /livez
    and a one-invoice /v1/score waited for every page in turn (issue 26: 2 -> 244 ms, 21 -> 601
    ms median). Load bounded: 4 page users, at most 6 s and 40 pages each."""
    base, _, _ = third
    cookie = {COOKIE: sign_in(base)}
    one = {"invoices": [VALID_INVOICE]}
    with (
        httpx.Client(base_url=base, timeout=30) as probe,
        httpx.Client(base_url=base, headers=AUTH, timeout=30) as keyed,
    ):
        for _ in range(3):  # warm
            keyed.post("/v1/score", json=one)
        quiet_live = [timed(lambda: probe.get("/livez")) for _ in range(20)]
        quiet_score = [timed(lambda: keyed.post("/v1/score", json=one)) for _ in range(10)]
        stop = threading.Event()
        pages: list[int] = []

        def page_user(n: int) -> None:
            with httpx.Client(
                base_url=base, cookies=cookie, headers={"Origin": base}, timeout=60
            ) as browser:
                for _ in range(40):
                    if stop.is_set():
                        return
                    if n % 2:
                        answer = browser.get("/ui/?view=customers&sort=due_date")
                    else:
                        answer = browser.post(
                            "/ui/credit-review",
                            data={"customer_id": "C000001", "requested_amount": "20000",
                                  "terms_days": "45"},
                        )  # fmt: skip
                    pages.append(answer.status_code)

        busy_live: list[float] = []
        busy_score: list[float] = []
        with ThreadPoolExecutor(PAGE_USERS) as pool:
            users = [pool.submit(page_user, n) for n in range(PAGE_USERS)]
            time.sleep(1.0)
            deadline = time.monotonic() + LOAD_S
            while time.monotonic() < deadline and not all(u.done() for u in users):
                busy_live.append(timed(lambda: probe.get("/livez")))
                busy_score.append(timed(lambda: keyed.post("/v1/score", json=one)))
                time.sleep(0.05)
            stop.set()
            for user in users:
                user.result()
    figures = {
        "livez quiet": statistics.median(quiet_live),
        "livez busy": statistics.median(busy_live),
        "score quiet": statistics.median(quiet_score),
        "score busy": statistics.median(busy_score),
    }
    print(json.dumps({k: round(v, 1) for k, v in figures.items()}))
    assert pages.count(200) >= 8, sorted(set(pages))
    assert set(pages) <= {200, 429}, sorted(set(pages))
    assert figures["livez busy"] < 50, figures
    assert figures["score busy"] < 3 * figures["score quiet"] + 60, figures


def logged(log: Path, *lines: str, seconds: float = 15.0) -> str:
    """The server's log once it holds every one of `lines` (or `seconds` have passed)."""
    deadline = time.monotonic() + seconds
    text = log.read_text(errors="replace")
    while not all(line in text for line in lines) and time.monotonic() < deadline:
        time.sleep(0.2)
        text = log.read_text(errors="replace")
    return text


def test_no_request_forges_a_log_line_or_logs_a_customer_id(third, bundle):
    """Before: a decoded path wrote a standalone forged line (`%0a` in it), and every customer
    page's access line held the customer's id."""
    base, _, log = third
    forged = "2026-12-07T17:40:00+0000 [WARNING] FORGED2"
    path = "/nothere%0a2026-12-07T17:40:00+0000%20%5BWARNING%5D%20FORGED2%0a"
    assert httpx.get(f"{base}{path}", timeout=30).status_code == 401
    assert httpx.get(f"{base}/other%e2%80%a8FORGED3", timeout=30).status_code == 401
    customer = bundle.invoices.iloc[0]["customer_id"]
    page = httpx.get(f"{base}/ui/customers/{customer}", headers=AUTH, timeout=30)
    assert page.status_code == 200
    text = logged(log, "FORGED2", "FORGED3", "/ui/customers/")
    assert "FORGED2" in text and "/ui/customers/" in text  # logged, on its own line
    for line in text.splitlines():
        assert not line.startswith(forged), line
        if "FORGED" in line:
            assert "path=/nothere" in line or "path=/other" in line, line
    assert "\u2028" not in text
    assert customer not in text


_stamp = iter(range(2_000_000_000, 2_100_000_000, 1000))


def put(path: Path, data: bytes) -> None:
    """Replace a file as `payrisk snapshot` does (a new file renamed over it), with a new
    modification time whatever the clock's resolution."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    moment = next(_stamp)
    os.utime(tmp, (moment, moment))
    os.replace(tmp, path)


@pytest.fixture
def pair(third) -> Iterator[tuple[httpx.Client, Path, dict[str, bytes]]]:
    """A keyed client, the served snapshot, and the good pair's files (put back afterwards)."""
    base, snapshot, _ = third
    folder = snapshot.with_name("portfolio")
    good = {p.name: p.read_bytes() for p in [snapshot, *sorted(folder.iterdir())]}
    with httpx.Client(base_url=base, headers=AUTH, timeout=60) as client:
        assert client.post("/v1/status").json()["snapshot_problem"] is None
        yield client, snapshot, good
        for name, data in good.items():
            put(snapshot if name == snapshot.name else folder / name, data)
        assert client.post("/v1/status").json()["snapshot_problem"] is None


def with_header_metadata(data: bytes, tmp: Path, **fields) -> bytes:
    """The snapshot file `data` with its header's metadata fields changed."""
    from tests.service.test_snapshot import rewrite

    path = tmp / "changed.npz"
    path.write_bytes(data)

    def change(arrays) -> None:
        import numpy as np

        header = json.loads(str(arrays["header"]))
        header["metadata"].update(fields)
        arrays["header"] = np.asarray(json.dumps(header))

    rewrite(path, change)
    return path.read_bytes()


def answers_everything(client: httpx.Client, cookie: dict[str, str]) -> dict[str, int]:
    """The status of every kind of answer (API and pages) the pair feeds."""
    review = {"customer_id": "C000001", "requested_amount": 5000.0, "terms_days": 30}
    return {
        "score": client.post("/v1/score", json={"invoices": [VALID_INVOICE]}).status_code,
        "credit-review": client.post("/v1/credit-review", json=review).status_code,
        "worklist": client.post("/v1/worklist", json={}).status_code,
        "customer": client.post("/v1/customer", json={"customer_id": "C000001"}).status_code,
        "portfolio page": client.get("/ui/?view=customers", cookies=cookie).status_code,
        "readyz": client.get("/readyz").status_code,
    }


FINE = {
    "score": 200, "credit-review": 200, "worklist": 200, "customer": 200, "portfolio page": 200,
    "readyz": 200,
}  # fmt: skip


@pytest.mark.parametrize("rate", ["0.5", [0.5], 1.5, None], ids=["text", "list", "over 1", "null"])
def test_a_snapshot_header_field_of_the_wrong_type_is_refused_and_the_pair_kept(
    pair, third, tmp_path, rate
):
    """Before: `metadata.recovery_rate` "0.5" or [0.5] was accepted, /readyz said 200, then
    every /v1/score and /v1/credit-review answered 500 (TypeError in with_recovery_rate)."""
    client, snapshot, good = pair
    cookie = {COOKIE: sign_in(third[0])}
    before = client.post("/v1/score", json={"invoices": [VALID_INVOICE]}).json()
    put(snapshot, with_header_metadata(good[snapshot.name], tmp_path, recovery_rate=rate))
    status = client.post("/v1/status").json()
    if rate is None:  # null is allowed: nothing measured
        assert status["snapshot_problem"] is None
        return
    assert "metadata.recovery_rate" in status["snapshot_problem"], status
    assert "still serving" in status["snapshot_problem"]
    assert answers_everything(client, cookie) == FINE
    after = client.post("/v1/score", json={"invoices": [VALID_INVOICE]}).json()
    assert after["invoices"][0]["expected_loss"] == before["invoices"][0]["expected_loss"]


def kpis_with(good: dict[str, bytes], **fields) -> bytes:
    return json.dumps({**json.loads(good["kpis.json"]), **fields}).encode()


def invoices_without(good: dict[str, bytes], tmp: Path, column: str) -> bytes:
    import pandas as pd

    (tmp / "in.parquet").write_bytes(good["invoices.parquet"])
    table = pd.read_parquet(tmp / "in.parquet").drop(columns=[column])
    table.to_parquet(tmp / "out.parquet", index=False)
    return (tmp / "out.parquet").read_bytes()


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ("as_of garbage", "kpis.json field as_of"),
        ("as_of a list", "kpis.json field as_of"),
        ("no priority_rank", "invoices.parquet lacks the column priority_rank"),
        ("open_amount a text", "kpis.json field open_amount"),
    ],
)
def test_a_bundle_that_breaks_its_schema_is_refused_and_the_pair_kept(
    pair, third, tmp_path, case, problem
):
    """Before: kpis.json with "as_of": "garbage" or [], or invoices.parquet without
    priority_rank, made /v1/score, /v1/worklist and /ui answer 500 while status said ready."""
    client, snapshot, good = pair
    folder = snapshot.with_name("portfolio")
    cookie = {COOKIE: sign_in(third[0])}
    before = client.post("/v1/worklist", json={}).json()
    if case == "as_of garbage":
        put(folder / "kpis.json", kpis_with(good, as_of="garbage"))
    elif case == "as_of a list":
        put(folder / "kpis.json", kpis_with(good, as_of=[]))
    elif case == "open_amount a text":
        put(folder / "kpis.json", kpis_with(good, open_amount="12"))
    else:
        put(folder / "invoices.parquet", invoices_without(good, tmp_path, "priority_rank"))
    status = client.post("/v1/status").json()
    assert status["ready"] is True
    assert problem in (status["snapshot_problem"] or ""), status
    assert answers_everything(client, cookie) == FINE
    assert client.post("/v1/worklist", json={}).json() == before


def test_a_new_pair_whose_snapshot_is_refused_keeps_the_old_pair_whole(pair, third, tmp_path):
    """A new snapshot refused (a bad header field) with a good bundle beside it: the pages,
    the worklist and the scores all stay on the old pair (before: the bundle alone moved)."""
    client, snapshot, good = pair
    folder = snapshot.with_name("portfolio")
    cookie = {COOKIE: sign_in(third[0])}
    new_id = "f" * 32
    before = client.post("/v1/worklist", json={}).json()
    put(folder / "kpis.json", kpis_with(good, snapshot_id=new_id, open_invoices=1))
    put(
        snapshot,
        with_header_metadata(good[snapshot.name], tmp_path, snapshot_id=new_id, recovery_rate="x"),
    )
    status = client.post("/v1/status").json()
    assert "metadata.recovery_rate" in status["snapshot_problem"]
    assert answers_everything(client, cookie) == FINE
    assert client.post("/v1/worklist", json={}).json() == before


def test_a_snapshot_built_by_another_model_is_refused(pair, tmp_path):
    """Before: a snapshot written by `payrisk snapshot --model-uri <other model>` (or with a new
    champion, under a service still running the old one) was served: its worklist and pages
    disagreed with /v1/score on 268 of 979 invoices, under one model version."""
    client, snapshot, good = pair
    status = client.post("/v1/status").json()
    served = status["model_version"]
    before = client.post("/v1/worklist", json={}).json()
    other = with_header_metadata(
        good[snapshot.name], tmp_path, model_version="99", model_fingerprint="0" * 32
    )
    put(snapshot, other)
    status = client.post("/v1/status").json()
    assert "not by the served model" in status["snapshot_problem"], status
    scored = client.post("/v1/score", json={"invoices": [VALID_INVOICE]}).json()
    worklist = client.post("/v1/worklist", json={}).json()
    assert scored["model_version"] == worklist["model_version"] == served
    assert worklist == before
