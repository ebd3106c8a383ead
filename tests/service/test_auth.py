"""API keys: no key, no data; health probes open; browsers sign in once; keys never logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from payrisk.core.config import ConfigError
from payrisk.core.settings import load_settings
from payrisk.serving.auth import (
    COOKIE,
    ApiKeyMiddleware,
    ApiKeys,
    AuthConfigError,
    FailureThrottle,
    check_configuration,
    configured_keys,
    generate_key,
)
from payrisk.web.pages import login_page
from tests.conftest import API_KEY, AUTH


def keys_from(environ: dict[str, str]) -> ApiKeys | None:
    return configured_keys(load_settings(environ))


PROTECTED = [
    ("POST", "/v1/score"),
    ("POST", "/v1/customer"),
    ("POST", "/v1/credit-review"),
    ("POST", "/v1/status"),
    ("POST", "/v1/worklist"),
    ("POST", "/v1/credit-decision"),
    ("POST", "/v1/credit-history"),
    ("POST", "/v1/customer-note"),
    ("POST", "/v1/provisions"),
    ("GET", "/docs"),
    ("GET", "/docs.json"),
    ("GET", "/metrics"),
    ("GET", "/"),
]


@contextmanager
def anonymous(client) -> Iterator:
    """The shared test client without its key header and cookies, for one block."""
    saved = client.headers.pop("X-API-Key")
    client.cookies.clear()
    try:
        yield client
    finally:
        client.cookies.clear()
        client.headers["X-API-Key"] = saved


def test_the_protected_list_names_every_route_of_the_api(client):
    """A new endpoint cannot be left out of the check above: every /v1 route the OpenAPI spec
    declares is in PROTECTED."""
    paths = client.get("/docs.json").json()["paths"]
    api = {path for path in paths if path.startswith("/v1/")}
    assert "/v1/worklist" in api
    assert api <= {path for _, path in PROTECTED}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_endpoint_needs_a_key(client, method, path):
    with anonymous(client):
        response = client.request(method, path, json={})
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "X-API-Key" in response.json()["error"]
        wrong = client.request(method, path, json={}, headers={"X-API-Key": "x" * 40})
        assert wrong.status_code == 401
        assert "invalid" in wrong.json()["error"]


def test_a_key_opens_the_api_as_header_or_bearer_token(client):
    with anonymous(client):
        assert client.post("/v1/status", headers=AUTH).status_code == 200
        bearer = client.post("/v1/status", headers={"Authorization": f"Bearer {API_KEY}"})
        assert bearer.status_code == 200 and bearer.json()["ready"] is True
        basic = client.post("/v1/status", headers={"Authorization": f"Basic {API_KEY}"})
        assert basic.status_code == 401


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/healthz"])
def test_health_probes_need_no_key(client, path):
    with anonymous(client):
        assert client.get(path).status_code == 200


def test_browsers_sign_in_and_get_a_strict_http_only_cookie(client):
    with anonymous(client):
        page = client.get("/ui/customers/C1?x=1", follow_redirects=False)
        assert page.status_code == 303
        login_url = page.headers["location"]
        assert login_url.startswith("/ui/login?next=")
        form = client.get(login_url)
        assert form.status_code == 200 and 'type="password"' in form.text
        refused = client.post(
            "/ui/login",
            data={"api_key": "not-the-key", "next": "/ui/"},
            headers={"Accept-Language": "en"},
        )
        assert refused.status_code == 401 and "not valid" in refused.text
        in_french = client.post(
            "/ui/login",
            data={"api_key": "not-the-key", "next": "/ui/"},
            headers={"Accept-Language": "fr-FR,fr;q=0.9"},
        )
        assert in_french.status_code == 401 and "pas valide" in in_french.text
        assert "not valid" not in in_french.text
        assert COOKIE not in client.cookies

        signed_in = client.post(
            "/ui/login", data={"api_key": API_KEY, "next": "/ui/model"}, follow_redirects=False
        )
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/ui/model"
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert API_KEY not in cookie
        model_page = client.get("/ui/model")
        assert model_page.status_code == 200
        assert 'href="/ui/logout">' in model_page.text  # "Se déconnecter" / "Sign out"
        assert client.post("/v1/status").status_code == 200  # same cookie for /docs and the API

        signed_out = client.get("/ui/logout", follow_redirects=False)
        assert signed_out.status_code == 303 and "Max-Age=0" in signed_out.headers["set-cookie"]
        assert COOKIE not in client.cookies
        assert client.get("/ui/model", follow_redirects=False).status_code == 303
        client.post("/ui/login", data={"api_key": API_KEY, "next": "/ui/"})

        tampered = client.cookies[COOKIE][:-2] + "xx"
        client.cookies.clear()
        client.cookies.set(COOKIE, tampered)
        assert client.post("/v1/status").status_code == 401


def test_the_sign_in_page_speaks_the_browsers_language(client):
    """Before any session the reader's language is in its Accept-Language (the policy's
    language, French as shipped, only when it names none we speak)."""
    with anonymous(client):
        for header, title, button in (
            ("en-GB,en;q=0.9", "Sign in", "Sign in"),
            ("fr-FR,fr;q=0.9,en;q=0.5", "Connexion", "Se connecter"),
            ("de-DE", "Connexion", "Se connecter"),
        ):
            page = client.get("/ui/login", headers={"Accept-Language": header})
            assert page.status_code == 200
            assert f"<title>{title}" in page.text and button in page.text, header
        wrong = client.post(
            "/ui/login", data={"api_key": "nope"}, headers={"Accept-Language": "en"}
        )
        assert wrong.status_code == 401 and "Sign in" in wrong.text


def test_pages_opened_with_a_key_header_offer_no_sign_out(client):
    page = client.get("/ui/model")
    assert page.status_code == 200 and 'href="/ui/logout"' not in page.text


def test_login_never_redirects_to_another_site(client):
    with anonymous(client):
        for target in ("https://evil.example/", "//evil.example/ui", "/v1/status"):
            response = client.post(
                "/ui/login", data={"api_key": API_KEY, "next": target}, follow_redirects=False
            )
            assert response.headers["location"] == "/ui/"


def test_keys_are_kept_as_digests_and_checked_in_full(tmp_path):
    key = generate_key()
    assert len(key) >= 40 and generate_key() != key
    keys = ApiKeys.from_keys([key, "another-key-of-enough-length"])
    assert key.encode() not in b"".join(keys.digests)
    assert keys.match(key) is not None
    for near in (key[:-1], key + "x", key.upper(), "", None, "x" * 10_000):
        assert keys.match(near) is None
    token = keys.session_token(keys.match(key))
    assert keys.session_valid(token)
    assert not keys.session_valid(token, now=10**12)  # expired
    assert not ApiKeys.from_keys(["someone-elses-key-1234"]).session_valid(token)


def test_keys_come_from_the_environment_or_a_file(tmp_path):
    key_file = tmp_path / "keys"
    file_key = generate_key()
    key_file.write_text(f"# demo key\n{file_key}\n\n")
    keys = keys_from({"PAYRISK_API_KEYS": f" {API_KEY} , ", "PAYRISK_API_KEYS_FILE": str(key_file)})
    assert keys.match(API_KEY) and keys.match(file_key)
    assert keys_from({"PAYRISK_AUTH": "disabled"}) is None
    with pytest.raises(AuthConfigError, match="no API key configured"):
        keys_from({})
    with pytest.raises(AuthConfigError, match="shorter"):
        keys_from({"PAYRISK_API_KEYS": "short"})
    with pytest.raises(AuthConfigError, match="cannot read"):
        keys_from({"PAYRISK_API_KEYS_FILE": str(tmp_path / "missing")})


def test_the_service_refuses_to_start_without_a_key():
    """The service's key middleware is built from its settings; without a key it cannot be."""
    with pytest.raises(AuthConfigError, match="PAYRISK_AUTH=disabled"):
        ApiKeyMiddleware(_ok, settings=load_settings({}), login_page=login_page)


async def _ok(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def test_disabled_auth_lets_everything_through_and_says_so(caplog):
    from starlette.testclient import TestClient

    disabled = load_settings({"PAYRISK_AUTH": "disabled"})
    with caplog.at_level(logging.INFO, logger="payrisk.auth"):
        assert check_configuration(disabled) is None
    assert "DISABLED" in caplog.text
    open_app = TestClient(ApiKeyMiddleware(_ok, settings=disabled, login_page=login_page))
    assert open_app.get("/v1/status").status_code == 200


def test_keys_never_reach_the_log(caplog):
    from starlette.testclient import TestClient

    key = generate_key()
    with caplog.at_level(logging.DEBUG):
        check_configuration(load_settings({"PAYRISK_API_KEYS": key}))
        guarded = TestClient(
            ApiKeyMiddleware(_ok, keys=ApiKeys.from_keys([key]), login_page=login_page)
        )
        assert guarded.get("/v1/x", headers={"X-API-Key": key}).status_code == 200
        assert guarded.get("/v1/x", headers={"X-API-Key": key + "z"}).status_code == 401
        guarded.post("/ui/login", data={"api_key": key + "y"})
    assert key not in caplog.text


@pytest.mark.slow  # a real `bentoml serve`
def test_real_server_needs_the_key_and_never_logs_it(server, server_log):
    wrong = "wrong-key-" + generate_key()
    assert httpx.get(f"{server}/livez", timeout=30).status_code == 200
    assert httpx.post(f"{server}/v1/status", timeout=30).status_code == 401
    assert (
        httpx.post(f"{server}/v1/status", headers={"X-API-Key": wrong}, timeout=30).status_code
        == 401
    )
    assert httpx.post(f"{server}/v1/status", headers=AUTH, timeout=30).status_code == 200
    bearer = {"Authorization": f"Bearer {API_KEY}"}
    assert httpx.get(f"{server}/docs.json", headers=bearer, timeout=30).status_code == 200
    text = server_log.read_text(errors="replace")
    assert "/v1/status" in text  # the access log is there to be read
    assert API_KEY not in text and wrong not in text


def test_only_a_get_for_a_static_file_passes_without_a_key():
    """The sign-in page's stylesheet is public; no other method or path under /ui becomes so."""
    import asyncio

    guarded = ApiKeyMiddleware(_ok, keys=ApiKeys.from_keys([generate_key()]), login_page=login_page)

    async def status(method: str, path: str) -> int:
        sent = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b""}

        async def send(message) -> None:
            sent.append(message)

        scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
        await guarded(scope, receive, send)
        return sent[0]["status"]

    assert asyncio.run(status("GET", "/ui/static/style.css")) == 200
    for method, path in [
        ("POST", "/ui/static/style.css"),
        ("HEAD", "/ui/static/style.css"),
        ("GET", "/ui/static"),
        ("GET", "/ui/staticx/style.css"),
        ("GET", "/ui/static/../model"),
        ("GET", "/ui/static/..\\model"),
        ("GET", "/ui/model"),
    ]:
        assert asyncio.run(status(method, path)) == 303, (method, path)


def test_wrong_keys_from_one_address_are_slowed_down_then_let_go():
    from starlette.testclient import TestClient

    key = generate_key()
    throttle = FailureThrottle(limit=3, window_seconds=60.0)
    guarded = TestClient(
        ApiKeyMiddleware(
            _ok, keys=ApiKeys.from_keys([key]), throttle=throttle, login_page=login_page
        )
    )
    for guess in range(3):
        assert guarded.get("/v1/x", headers={"X-API-Key": f"guess-{guess}"}).status_code == 401
    locked = guarded.get("/v1/x", headers={"X-API-Key": key})  # right key, but locked out
    assert locked.status_code == 429 and 0 < int(locked.headers["retry-after"]) <= 60
    assert "too many wrong API keys" in locked.json()["error"]
    login = guarded.post("/ui/login", data={"api_key": key}, headers={"Accept-Language": "en"})
    assert login.status_code == 429 and "Too many wrong API keys" in login.text
    assert guarded.get("/livez").status_code == 200  # probes are never throttled

    # Another address is not affected; the locked one is let go once the window has passed.
    assert throttle.retry_after("203.0.113.9") == 0
    later = max(throttle.failures["testclient"]) + 61
    assert throttle.retry_after("testclient", now=later) == 0
    assert "testclient" not in throttle.failures


def test_wrong_logins_count_too_and_memory_stays_bounded():
    from starlette.testclient import TestClient

    key = generate_key()
    throttle = FailureThrottle(limit=2, window_seconds=60.0, max_clients=3)
    guarded = TestClient(
        ApiKeyMiddleware(
            _ok, keys=ApiKeys.from_keys([key]), throttle=throttle, login_page=login_page
        )
    )
    for _ in range(2):
        assert guarded.post("/ui/login", data={"api_key": "nope"}).status_code == 401
    assert guarded.get("/v1/x", headers={"X-API-Key": key}).status_code == 429

    for n in range(10):
        throttle.record_failure(f"198.51.100.{n}", now=1.0)
    assert len(throttle.failures) == 3 and "198.51.100.9" in throttle.failures
    off = FailureThrottle(limit=0)
    for _ in range(100):
        off.record_failure("a")
    assert off.retry_after("a") == 0 and not off.failures


def test_the_failure_limit_comes_from_the_environment():
    def limit(environ: dict[str, str]) -> int:
        middleware = ApiKeyMiddleware(_ok, settings=load_settings(environ), login_page=login_page)
        return middleware.throttle.limit

    keyed = {"PAYRISK_API_KEYS": API_KEY}
    assert limit(keyed) == 30
    assert limit({**keyed, "PAYRISK_AUTH_MAX_FAILURES": "5"}) == 5
    assert limit({**keyed, "PAYRISK_AUTH_MAX_FAILURES": "0"}) == 0
    with pytest.raises(ConfigError, match="PAYRISK_AUTH_MAX_FAILURES"):
        load_settings({"PAYRISK_AUTH_MAX_FAILURES": "ten"})


@pytest.mark.parametrize(
    "key", ["clé-de-seize-caractères", "key with spaces inside 0123", "tab\tkey-0123456789abc"]
)
def test_a_key_a_header_cannot_carry_is_refused_at_start(key):
    """Before: a non-ASCII key was accepted at start and could never match a header."""
    with pytest.raises(AuthConfigError, match="printable ASCII"):
        keys_from({"PAYRISK_API_KEYS": key})


def test_payrisk_serve_refuses_a_key_a_header_cannot_carry():
    import os
    import subprocess
    import sys
    from pathlib import Path

    payrisk = Path(sys.executable).with_name("payrisk")
    environment = {**os.environ, "PAYRISK_API_KEYS": "clé-de-seize-caractères"}
    result = subprocess.run(  # a subprocess with a deadline: a server it starts cannot hang us
        [str(payrisk), "serve", "--port", "1"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "printable ASCII" in result.stderr


def guarded_client(key: str):
    from starlette.testclient import TestClient

    return TestClient(ApiKeyMiddleware(_ok, keys=ApiKeys.from_keys([key]), login_page=login_page))


def test_signing_out_revokes_that_session_only():
    from starlette.testclient import TestClient

    key = generate_key()
    server = ApiKeyMiddleware(_ok, keys=ApiKeys.from_keys([key]), login_page=login_page)
    browser, other, replay = TestClient(server), TestClient(server), TestClient(server)
    for client in (browser, other):
        signed_in = client.post("/ui/login", data={"api_key": key}, follow_redirects=False)
        assert signed_in.status_code == 303
    copied = browser.cookies[COOKIE]
    assert copied != other.cookies[COOKIE]
    replay.cookies.set(COOKIE, copied)
    assert replay.get("/v1/x").status_code == 200
    browser.get("/ui/logout", follow_redirects=False)
    assert replay.get("/v1/x").status_code == 401  # the copied cookie is dead
    assert other.get("/v1/x").status_code == 200  # the other browser's session is not


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/form.html"},
        {"Origin": "http://testserver.evil.example"},
    ],
)
def test_forms_from_another_site_are_refused(headers):
    key = generate_key()
    client = guarded_client(key)
    login = client.post("/ui/login", data={"api_key": key}, headers=headers)
    assert login.status_code == 403 and COOKIE not in client.cookies
    client.post("/ui/login", data={"api_key": key}, headers={"Origin": "http://testserver"})
    assert COOKIE in client.cookies
    assert client.post("/ui/customers/C1", data={"x": "1"}, headers=headers).status_code == 403
    same = client.post("/ui/customers/C1", data={"x": "1"}, headers={"Origin": "http://testserver"})
    assert same.status_code == 200
    # With the key in a header a request is not a browser's: no Origin check.
    keyed = client.post("/ui/customers/C1", headers={**headers, "X-API-Key": key})
    assert keyed.status_code == 200


@pytest.mark.parametrize(
    "target",
    ["/ui/\r\nSet-Cookie: x=1", "/ui/\nx", "/ui/caf\u00e9", "/ui/a b", "/uix", "/ui//evil.example"],
)
def test_the_sign_in_target_is_a_plain_local_path(target):
    key = generate_key()
    client = guarded_client(key)
    response = client.post(
        "/ui/login", data={"api_key": key, "next": target}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/ui/"
    kept = client.post(
        "/ui/login", data={"api_key": key, "next": "/ui/customers/caf%C3%A9?q=1"},
        follow_redirects=False,
    )  # fmt: skip
    assert kept.headers["location"] == "/ui/customers/caf%C3%A9?q=1"
