"""The second attack, replayed on a real `payrisk serve` (issue 19): slow bodies, duplicated
framing headers, forged X-Forwarded-For, CR/LF in a redirect, cross-site forms, replayed
session cookies, saturation, the documentation page. Each test failed on the service before the
fix; each now shows the defence at the HTTP layer, over real sockets."""

from __future__ import annotations

import re
import select
import socket
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from payrisk.serving.auth import COOKIE
from payrisk.serving.process import ServerStartError, free_port, running_server
from tests.conftest import API_KEY, AUTH, VALID_INVOICE

pytestmark = pytest.mark.slow  # starts processes, clusters or browsers: make test-fast skips it

SECRET = "Jeanne.Martin@example.org"
MAX_CONCURRENCY = 4
BODY_TIMEOUT_S = 12
MAX_FAILURES = 5
PROXY = "127.0.0.3"  # the one trusted reverse proxy
OUTSIDER = "127.0.0.2"  # any other local process


def payrisk_command(port: int) -> list[str]:
    """`payrisk serve` exactly as a user runs it: the console script of this venv."""
    return [str(Path(sys.executable).with_name("payrisk")), "serve", "--port", str(port)]


@pytest.fixture(scope="module")
def hardened(trained, snapshot_file, tmp_path_factory) -> Iterator[tuple[str, int, Path]]:
    """A real `payrisk serve` with a small concurrency budget, a body time limit, a low
    wrong-key limit and one trusted proxy; yields (base URL, port, log file)."""
    folder = tmp_path_factory.mktemp("attacked")
    env = {
        **trained.env,
        "BENTOML_HOME": str(folder / "bentoml"),
        "PAYRISK_MAX_CONCURRENCY": str(MAX_CONCURRENCY),
        "PAYRISK_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "PAYRISK_AUTH_MAX_FAILURES": str(MAX_FAILURES),
        "PAYRISK_TRUSTED_PROXIES": PROXY,
    }
    port = free_port()
    log = folder / "server.log"
    try:
        with running_server(payrisk_command(port), port, env, log) as (base, _):
            yield base, port, log
    except ServerStartError as error:
        pytest.fail(str(error))


class SlowBody:
    """A connection that announces a body, then sends it one byte at a time."""

    def __init__(self, port: int, path: str, media: str, headers: dict[str, str] | None = None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            f"Content-Type: {media}",
            "Content-Length: 4000",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b"a")
        self.open = True

    def trickle(self) -> None:
        """One more byte, unless the server has answered (then its answer must stay readable:
        writing to a closed connection would reset it)."""
        if not self.open:
            return
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (ValueError, OSError):  # closed meanwhile by `status`
            self.open = False
            return
        if readable:  # an answer (or the end of the connection) is waiting
            self.open = False
            return
        try:
            self.sock.sendall(b"a")
        except OSError:
            self.open = False

    def status(self, timeout: float) -> int | None:
        """The status line the server answered with (None if it never answered)."""
        self.sock.settimeout(timeout)
        self.open = False  # the trickle stops here
        try:
            head = self.sock.recv(200)
        except OSError:
            return None
        finally:
            self.sock.close()
        found = re.match(rb"HTTP/1\.1 (\d{3})", head)
        return int(found.group(1)) if found else None


@contextmanager
def trickling(connections: list[SlowBody], every_s: float) -> Iterator[None]:
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            for connection in connections:
                connection.trickle()

    worker = threading.Thread(target=loop, daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join()


def invoices(count: int) -> list[dict]:
    return [{**VALID_INVOICE, "invoice_id": f"T-{n}"} for n in range(count)]


def test_slow_bodies_do_not_starve_keyed_clients(hardened):
    """40 sign-in forms and 10 keyed scores trickled a byte a second (10 times the worker's
    concurrency budget): keyed requests still answer at once, readiness stays green, and every
    trickled body is cut off with 408 after the body time limit."""
    base, port, _ = hardened
    form = "application/x-www-form-urlencoded"
    attackers = [SlowBody(port, "/ui/login", form) for _ in range(40)]
    attackers += [SlowBody(port, "/v1/score", "application/json", AUTH) for _ in range(10)]
    started = time.monotonic()
    with trickling(attackers, every_s=1.0):
        time.sleep(1.0)  # every slow body is in the server
        with httpx.Client(base_url=base, headers=AUTH, timeout=BODY_TIMEOUT_S / 3) as keyed:
            for _ in range(3):
                assert keyed.post("/v1/status").status_code == 200
                scored = keyed.post("/v1/score", json={"invoices": [VALID_INVOICE]})
                assert scored.status_code == 200, scored.text
            assert keyed.get("/readyz").status_code == 200
        assert time.monotonic() - started < BODY_TIMEOUT_S, "checked while the bodies trickled"
        statuses = [attacker.status(timeout=BODY_TIMEOUT_S + 20) for attacker in attackers]
    assert statuses == [408] * len(attackers)


def test_over_the_budget_clients_get_429_with_retry_after_and_readiness_says_saturated(hardened):
    base, _, _ = hardened
    # With reasons, the largest batch: the admitted requests keep the budget full for a while.
    batch = {"invoices": invoices(1000)}
    readiness: list[int] = []
    with httpx.Client(base_url=base, headers=AUTH, timeout=120) as http:

        def send() -> httpx.Response:
            return http.post("/v1/score", json=batch)

        with ThreadPoolExecutor(4 * MAX_CONCURRENCY) as pool, httpx.Client() as probe:
            answers = [pool.submit(send) for _ in range(4 * MAX_CONCURRENCY)]
            while not all(answer.done() for answer in answers):
                readiness.append(probe.get(f"{base}/readyz", timeout=30).status_code)
                time.sleep(0.01)
        responses = [answer.result() for answer in answers]
    statuses = sorted({r.status_code for r in responses})
    assert statuses == [200, 429], statuses
    refused = [r for r in responses if r.status_code == 429]
    assert all(r.headers.get("retry-after") == "1" for r in refused)
    assert all("too many requests" in r.json()["error"] for r in refused)
    assert 503 in readiness and readiness[-1] in (200, 503)
    assert httpx.get(f"{base}/readyz", timeout=30).status_code == 200  # green again once idle


@pytest.mark.parametrize(
    "first", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"]
)
def test_a_duplicated_content_type_is_refused_without_echo(hardened, first):
    base, _, log = hardened
    body = ('{"invoices": [{"invoice_id": "' + SECRET + '", "customer_id": "x"}]}').encode()
    response = httpx.post(
        f"{base}/v1/score",
        content=body,
        headers=[
            ("X-API-Key", API_KEY),
            ("Content-Type", first),
            ("Content-Type", "application/json"),
        ],
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert "content-type header sent more than once" in response.json()["error"]
    assert SECRET not in response.text
    text = log.read_text(errors="replace")
    assert SECRET not in text and "Traceback" not in text


def test_forwarded_for_counts_only_from_the_trusted_proxy(hardened):
    base, _, log = hardened
    outsider = httpx.Client(
        base_url=base, transport=httpx.HTTPTransport(local_address=OUTSIDER), timeout=30
    )
    proxy = httpx.Client(
        base_url=base, transport=httpx.HTTPTransport(local_address=PROXY), timeout=30
    )
    with outsider, proxy:
        # Rotating forged addresses from an untrusted peer: all counted on its real address.
        for n in range(MAX_FAILURES):
            forged = {
                "X-API-Key": f"wrong-key-{n:02d}-0123456789",
                "X-Forwarded-For": f"10.9.{n}.1",
            }
            assert outsider.post("/v1/status", headers=forged).status_code == 401
        locked = outsider.post("/v1/status", headers={**AUTH, "X-Forwarded-For": "10.9.9.9"})
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        # ... and blaming another address (here: the keyed clients' own) locks nobody else out.
        assert httpx.post(f"{base}/v1/status", headers=AUTH, timeout=30).status_code == 200

        # Behind the trusted proxy each client is counted by its forwarded address.
        guesser = {"X-Forwarded-For": "198.51.100.7"}
        for n in range(MAX_FAILURES):
            wrong = {**guesser, "X-API-Key": f"wrong-key-{n:02d}-0123456789"}
            assert proxy.post("/v1/status", headers=wrong).status_code == 401
        assert proxy.post("/v1/status", headers={**AUTH, **guesser}).status_code == 429
        other = {**AUTH, "X-Forwarded-For": "198.51.100.8"}
        assert proxy.post("/v1/status", headers=other).status_code == 200
    text = logged(log, f"{OUTSIDER}:", "198.51.100.8:")
    assert f"{OUTSIDER}:" in text and "198.51.100.8:" in text  # the access log's client
    assert "10.9." not in text  # forged addresses never recorded


def logged(log: Path, *lines: str, seconds: float = 15.0) -> str:
    """The server's log once it holds every one of `lines` (or `seconds` have passed): the
    worker process writes its access log a moment after it answers."""
    deadline = time.monotonic() + seconds
    text = log.read_text(errors="replace")
    while not all(line in text for line in lines) and time.monotonic() < deadline:
        time.sleep(0.2)
        text = log.read_text(errors="replace")
    return text


def sign_in(base: str) -> str:
    """A session cookie from the sign-in form, sent as a browser sends it (with its Origin)."""
    response = httpx.post(
        f"{base}/ui/login",
        data={"api_key": API_KEY, "next": "/ui/"},
        headers={"Origin": base},
        timeout=30,
    )
    assert response.status_code == 303, response.text
    return response.cookies[COOKIE]


def test_a_signed_out_session_cookie_no_longer_opens_anything(hardened):
    base, _, _ = hardened
    cookie = {COOKIE: sign_in(base)}
    assert httpx.post(f"{base}/v1/status", cookies=cookie, timeout=30).status_code == 200
    other = {COOKIE: sign_in(base)}  # another browser, same key
    signed_out = httpx.get(f"{base}/ui/logout", cookies=cookie, timeout=30)
    assert signed_out.status_code == 303
    assert httpx.post(f"{base}/v1/status", cookies=cookie, timeout=30).status_code == 401
    page = httpx.get(f"{base}/ui/model", cookies=cookie, timeout=30)
    assert page.status_code == 303 and page.headers["location"].startswith("/ui/login")
    assert httpx.post(f"{base}/v1/status", cookies=other, timeout=30).status_code == 200


def test_forms_sent_from_another_site_are_refused(hardened):
    base, _, _ = hardened
    evil = "https://evil.example"
    login = httpx.post(
        f"{base}/ui/login",
        data={"api_key": API_KEY, "next": "/ui/"},
        headers={"Origin": evil},
        timeout=30,
    )
    assert login.status_code == 403 and COOKIE not in login.cookies
    cookie = {COOKIE: sign_in(base)}
    review = {"requested_amount": "5000", "terms_days": "30"}
    customer = f"{base}/ui/customers/{VALID_INVOICE['customer_id']}"
    for forged in ({"Origin": evil}, {"Referer": f"{evil}/page"}, {"Origin": "null"}):
        refused = httpx.post(customer, data=review, cookies=cookie, headers=forged, timeout=30)
        assert refused.status_code == 403, forged
    same_site = httpx.post(
        customer,
        data=review,
        cookies=cookie,
        headers={"Origin": base, "Accept-Language": "en"},
        timeout=30,
    )
    assert same_site.status_code == 200 and "Recommendation" in same_site.text


def test_cr_lf_in_the_sign_in_target_neither_splits_the_answer_nor_logs_a_traceback(hardened):
    base, _, log = hardened
    form = httpx.get(f"{base}/ui/login?next=/ui/%0d%0aSet-Cookie:%20evil=1", timeout=30)
    assert form.status_code == 200 and "evil" not in form.headers.get("set-cookie", "")
    signed_in = httpx.post(
        f"{base}/ui/login",
        data={"api_key": API_KEY, "next": "/ui/\r\nSet-Cookie: evil=1"},
        headers={"Origin": base},
        timeout=30,
    )
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/ui/"
    assert "evil" not in str(signed_in.headers)
    # A customer page reached before signing in comes back after it, encoded, in one piece.
    redirect = httpx.get(f"{base}/ui/customers/C 1\u00e9?q=a b", timeout=30)
    target = redirect.headers["location"]
    assert target.isascii() and " " not in target
    assert "Traceback" not in log.read_text(errors="replace")


def test_strict_types_and_the_docs_page(hardened):
    base, _, _ = hardened
    with httpx.Client(base_url=base, headers=AUTH, timeout=30) as http:
        review = {"customer_id": "C000001", "requested_amount": 5000.0}
        assert (
            http.post("/v1/credit-review", json={**review, "terms_days": True}).status_code == 400
        )
        stamped = {**VALID_INVOICE, "issue_date": "2026-10-01T00:00:00"}
        assert http.post("/v1/score", json={"invoices": [stamped]}).status_code == 400
        assert http.post("/v1/credit-review", json={**review, "terms_days": 45}).status_code == 200

        index = http.get("/", follow_redirects=False)
        assert index.status_code == 307 and index.headers["location"] == "/docs"
        docs = http.get("/docs")
        assert docs.status_code == 200
        policy = docs.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        page = docs.text + http.get("/docs/init.js").text
        assert "googletagmanager" not in page and "validatorUrl: null" in page
        assert not re.search(r"(src|href)=\"https?://", docs.text)
        assert http.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
        assert http.get("/docs.json").json()["paths"]["/v1/score"]
    assert httpx.get(f"{base}/docs", timeout=30).status_code == 401  # the key, as before
