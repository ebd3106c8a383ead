"""API keys for the HTTP service and the review pages: who may read a company's receivables.

Keys come from PAYRISK_API_KEYS (comma-separated) and/or PAYRISK_API_KEYS_FILE (one key per line,
`#` comments). Only their SHA-256 digests are kept in memory, a presented key is compared with
`hmac.compare_digest` against every digest (constant time, no early exit), and no key, digest or
presented value is ever logged. The service refuses to start without a key unless
PAYRISK_AUTH=disabled is set explicitly.

A key may carry a name after it (`KEY alice`, in the file or the variable): what the credit desk
records as the author of a decision or a note; a key without one is recorded by its id
(`key_id`: a digest of its digest, which says nothing of the key). Requests carry the author in
their scope (`AUTHOR`), and page sessions a CSRF token (`CSRF`) that the pages' forms must send
back.

A caller sends the key as `X-API-Key: KEY` or `Authorization: Bearer KEY`. Keys are printable
ASCII (a header carries nothing else), so a key that could never match is refused at start.
Browsers log in once at /ui/login and get a signed session cookie (HttpOnly, SameSite=Strict)
derived from the key, so revoking a key also ends its sessions; "Sign out" revokes that session
on the server too (a copied cookie stops working). A form sent to /ui from another site (its
Origin, or else its Referer, names another host) is refused: SameSite already keeps the cookie
off such requests, this also covers the sign-in form and older browsers. Health probes stay open
for orchestrators, and GET on the review pages' static files (/ui/static/: the stylesheet, no
data) for the sign-in page. The sign-in page itself is rendered by payrisk.web and handed in
(`login_page=`): serving sits below web.

Guessing is slowed down: a client (by address) that presents more than PAYRISK_AUTH_MAX_FAILURES
wrong keys (default 30) within a minute gets 429 for the rest of that minute, valid key or not,
so a guess inside the lock-out teaches it nothing. Behind a reverse proxy every client shares the
proxy's address unless the proxy is listed in PAYRISK_TRUSTED_PROXIES (then its X-Forwarded-For
names the client); X-Forwarded-For from anyone else is ignored, so a forged one neither escapes
the limit nor locks out somebody else. Each worker process counts on its own.

The sign-in form is read here, before the concurrency limit: at most MAX_LOGIN_BODY bytes within
PAYRISK_BODY_TIMEOUT_S seconds, so trickled sign-in forms cannot starve the API.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from payrisk.core.settings import DEFAULT_BODY_TIMEOUT_S, Settings
from payrisk.serving.asgi import (
    CLOSE,
    ASGIApp,
    BodyTimeoutError,
    BodyTooLargeError,
    Receive,
    Scope,
    Send,
    read_body,
    send_json,
)

log = logging.getLogger("payrisk.auth")

ENV_KEYS = "PAYRISK_API_KEYS"
ENV_KEYS_FILE = "PAYRISK_API_KEYS_FILE"
ENV_AUTH = "PAYRISK_AUTH"
DEFAULT_MAX_FAILURES = 30
FAILURE_WINDOW_SECONDS = 60.0
MAX_TRACKED_CLIENTS = 10_000
EXEMPT_PATHS = frozenset({"/livez", "/readyz", "/healthz"})
PAGES_ROOT = "/ui"  # the review pages (payrisk.web), mounted here by the service
PAGES_HOME = f"{PAGES_ROOT}/"
LOGIN_PATH = f"{PAGES_ROOT}/login"
LOGOUT_PATH = f"{PAGES_ROOT}/logout"
# GET only: the sign-in page needs its stylesheet before a session.
STATIC_PREFIX = f"{PAGES_ROOT}/static/"
COOKIE = "payrisk_session"
SESSION_SECONDS = 12 * 3600
MIN_KEY_LENGTH = 16
MAX_KEY_LENGTH = 512
MAX_LOGIN_BODY = 4096
MAX_REVOKED_SESSIONS = 100_000
# What a header can carry and a person can type: printable ASCII, no space.
KEY_PATTERN = re.compile(r"^[\x21-\x7e]+$")
# A redirect target after sign-in: a local path, already percent-encoded (printable ASCII only).
NEXT_PATTERN = re.compile(r"^/ui(/[\x21-\x7e]*)?$")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A key's name: what a person would sign with (no space, nothing a log or a page must escape).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
AUTHOR = "payrisk.author"  # scope key: who sends this request (a key's name or id)
CSRF = "payrisk.csrf"  # scope key: the CSRF token of this page session
ANONYMOUS = "anonymous"  # the author when authentication is disabled
# Every HTML page payrisk serves (sign-in here, the review pages in payrisk.web): never cached,
# no script, no third-party resource, no framing.
PAGE_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
PAGE_HEADERS = [(k.lower().encode(), v.encode()) for k, v in PAGE_SECURITY_HEADERS.items()]


LoginProblem = tuple[str, dict[str, object]]
"""Why the sign-in form is shown again: a code of LOGIN_PROBLEMS and its values (the web layer
words it in the reader's language)."""
LOGIN_PROBLEMS = ("invalid_key", "too_large", "too_slow", "throttled", "cross_site")
LoginPage = Callable[[str, LoginProblem | None, str | None], str]
"""Renders the sign-in form: (where to go after signing in, the problem or None, the request's
Accept-Language or None) -> HTML."""


class AuthConfigError(RuntimeError):
    """No usable key configured: the service must not start open by accident."""


def generate_key() -> str:
    """A fresh random key (256 bits, URL-safe), as `payrisk keygen` prints it."""
    return secrets.token_urlsafe(32)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def key_id(digest: bytes) -> str:
    """A key's id for records and pages: 32 bits of a digest of its digest (tells keys apart,
    says nothing usable of the key)."""
    return "key-" + hashlib.sha256(b"payrisk-key-id:" + digest).hexdigest()[:8]


def _split_name(entry: str) -> tuple[str, str | None]:
    """`KEY` or `KEY NAME`: the key and its name. Anything else after a space is not a name:
    the whole entry is taken as the key, which the checks below refuse."""
    key, _, name = entry.strip().partition(" ")
    name = name.strip()
    if name and NAME_PATTERN.match(name):
        return key, name
    return (entry.strip(), None) if name else (key, None)


@dataclass(frozen=True)
class ApiKeys:
    """The SHA-256 digests of the accepted keys; never the keys themselves."""

    digests: tuple[bytes, ...]
    names: dict[bytes, str] = field(default_factory=dict)  # digest -> the key's name

    def author(self, digest: bytes) -> str:
        """Who a key is, for the record: its name, else its id."""
        return self.names.get(digest) or key_id(digest)

    @classmethod
    def from_keys(cls, keys: list[str]) -> ApiKeys:
        pairs = [_split_name(key) for key in keys if key.strip()]
        named = {_digest(key): name for key, name in pairs if name}
        cleaned = [key for key, _ in pairs]
        short = [key for key in cleaned if len(key) < MIN_KEY_LENGTH]
        if short:
            raise AuthConfigError(
                f"{len(short)} API key(s) shorter than {MIN_KEY_LENGTH} characters; "
                "generate keys with `payrisk keygen`"
            )
        unusable = [
            key for key in cleaned if not KEY_PATTERN.match(key) or len(key) > MAX_KEY_LENGTH
        ]
        if unusable:
            raise AuthConfigError(
                f"{len(unusable)} API key(s) with characters other than printable ASCII or "
                f"longer than {MAX_KEY_LENGTH}: an HTTP header cannot carry them, so they could "
                "never match; generate keys with `payrisk keygen` (a name may follow a key "
                "after one space: letters, digits or . _ @ -, at most 64)"
            )
        return cls(tuple(dict.fromkeys(_digest(key) for key in cleaned)), named)

    def match(self, presented: str | None) -> bytes | None:
        """The digest of the stored key equal to `presented`, compared in constant time."""
        if not presented or len(presented) > MAX_KEY_LENGTH:
            return None
        candidate = _digest(presented)
        found = None
        for digest in self.digests:  # no early exit: the time does not say which key matched
            if hmac.compare_digest(candidate, digest):
                found = digest
        return found

    # Sessions: "expiry.nonce.signature", the signature an HMAC of expiry and nonce under the
    # key's digest; the nonce tells two sessions of one key apart, so one can be revoked alone.
    def session_token(self, digest: bytes, now: float | None = None) -> str:
        expiry = str(int((now or time.time()) + SESSION_SECONDS))
        nonce = secrets.token_urlsafe(12)
        return f"{expiry}.{nonce}.{_sign(digest, f'{expiry}:{nonce}')}"

    def session_valid(self, token: str | None, now: float | None = None) -> bool:
        return self.session_digest(token, now) is not None

    def session_digest(self, token: str | None, now: float | None = None) -> bytes | None:
        """The digest of the key that signed a valid, unexpired session token, else None."""
        if not token or len(token) > 200 or token.count(".") != 2:
            return None
        expiry, nonce, signature = token.split(".")
        if not expiry.isdigit() or int(expiry) < (now or time.time()):
            return None
        found = None
        for digest in self.digests:  # no early exit, as in `match`
            if hmac.compare_digest(_sign(digest, f"{expiry}:{nonce}"), signature):
                found = digest
        return found

    @staticmethod
    def csrf_token(digest: bytes, session: str) -> str:
        """The token a page session's forms carry: bound to the session, unguessable without
        the key."""
        return _sign(digest, f"csrf:{session}")


@dataclass
class RevokedSessions:
    """Sessions signed out before their expiry, until they expire; memory bounded.

    Per worker process, like the wrong-key limit: with several workers, a signed-out cookie
    replayed to another worker still opens it until it expires.
    """

    max_entries: int = MAX_REVOKED_SESSIONS
    expiry_of: dict[str, int] = field(default_factory=dict)  # token -> its expiry (epoch s)

    def revoke(self, token: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        for old in [t for t, expiry in self.expiry_of.items() if expiry < now]:
            del self.expiry_of[old]
        self.expiry_of[token] = int(token.partition(".")[0])
        while len(self.expiry_of) > self.max_entries:  # the oldest revocations go first
            del self.expiry_of[next(iter(self.expiry_of))]

    def __contains__(self, token: str) -> bool:
        return token in self.expiry_of


@dataclass
class FailureThrottle:
    """Wrong keys per client address in a sliding window; memory bounded to `max_clients`."""

    limit: int = DEFAULT_MAX_FAILURES
    window_seconds: float = FAILURE_WINDOW_SECONDS
    max_clients: int = MAX_TRACKED_CLIENTS
    failures: dict[str, list[float]] = field(default_factory=dict)

    def retry_after(self, client: str, now: float | None = None) -> int:
        """Seconds `client` must wait before its next attempt; 0 when it may try now."""
        if self.limit <= 0 or client not in self.failures:
            return 0
        now = time.monotonic() if now is None else now
        recent = [t for t in self.failures[client] if now - t < self.window_seconds]
        if not recent:
            del self.failures[client]
            return 0
        self.failures[client] = recent
        if len(recent) < self.limit:
            return 0
        return max(1, int(recent[-self.limit] + self.window_seconds - now + 0.999))

    def record_failure(self, client: str, now: float | None = None) -> None:
        if self.limit <= 0:
            return
        now = time.monotonic() if now is None else now
        times = self.failures.pop(client, [])  # re-inserted last: the dict stays oldest-first
        times.append(now)
        self.failures[client] = times[-self.limit :]
        while len(self.failures) > self.max_clients:
            del self.failures[next(iter(self.failures))]


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _sign(digest: bytes, expiry: str) -> str:
    mac = hmac.new(digest, f"payrisk-session:{expiry}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def read_key_file(path: Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise AuthConfigError(f"{ENV_KEYS_FILE}: cannot read {path}: {error.strerror}") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def configured_keys(settings: Settings) -> ApiKeys | None:
    """The configured keys; None if PAYRISK_AUTH=disabled. Raises if no key is configured."""
    if settings.auth == "disabled":
        return None
    given = settings.api_keys.get_secret_value() if settings.api_keys else ""
    keys = [key for key in given.split(",") if key.strip()]
    if settings.api_keys_file is not None:
        keys += read_key_file(settings.api_keys_file)
    if not keys:
        raise AuthConfigError(
            f"no API key configured: set {ENV_KEYS} (comma-separated) or {ENV_KEYS_FILE} "
            f"(one key per line; `payrisk keygen` makes one), or {ENV_AUTH}=disabled to run "
            "without authentication"
        )
    return ApiKeys.from_keys(keys)


def check_configuration(settings: Settings) -> ApiKeys | None:
    """Called at service start: refuse to start without keys, say when auth is off (no key)."""
    keys = configured_keys(settings)
    if keys is None:
        log.warning("authentication DISABLED (%s=disabled): every endpoint is open", ENV_AUTH)
    else:
        log.info("API key authentication on: %d key(s) configured", len(keys.digests))
    return keys


def _headers(scope: Scope) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


def _cookie(header: str | None, name: str) -> str | None:
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def presented_key(headers: dict[str, str]) -> str | None:
    if "x-api-key" in headers:
        return headers["x-api-key"].strip()
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return token.strip()
    return None


async def _send_html(send: Send, status: int, page: str, extra: list | None = None) -> None:
    body = page.encode()
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *PAGE_HEADERS,
    ]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str, extra: list | None = None) -> None:
    headers = [(b"location", location.encode()), (b"content-length", b"0"), *PAGE_HEADERS]
    await send({"type": "http.response.start", "status": 303, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": b""})


def _is_static_file(scope: Scope) -> bool:
    """A GET for a file under /ui/static/: public, and never a way round to another path."""
    path = scope.get("path", "")
    return (
        scope["type"] == "http"
        and scope.get("method") == "GET"
        and path.startswith(STATIC_PREFIX)
        and ".." not in path
        and "\\" not in path
    )


def _on_pages(path: str) -> bool:
    return path == PAGES_ROOT or path.startswith(PAGES_HOME)


def _safe_next(value: str | None) -> str:
    """Only local review pages, percent-encoded: no open redirect to another site, and nothing
    (CR, LF, spaces, non-ASCII) that could break or split the Location header."""
    if value and NEXT_PATTERN.match(value) and "//" not in value and "\\" not in value:
        return value
    return PAGES_HOME


def _same_site(headers: dict[str, str]) -> bool:
    """False when the request says it comes from a page of another host: its Origin (or, lacking
    one, its Referer) names a different host than the one it was sent to. Browsers send an Origin
    with every form POST; a client that sends neither (curl, a script) is not a browser that a
    third-party page could drive."""
    source = headers.get("origin") or headers.get("referer")
    if source is None:
        return True
    parts = urlsplit(source.strip())
    host = headers.get("host", "").strip().lower()
    return parts.scheme in ("http", "https") and bool(host) and parts.netloc.lower() == host


class ApiKeyMiddleware:
    """Pure ASGI: lets a request through only with a valid key or session cookie."""

    def __init__(
        self,
        app: ASGIApp,
        settings: Settings | None = None,
        keys: ApiKeys | None = None,
        throttle: FailureThrottle | None = None,
        *,
        login_page: LoginPage,
        body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
    ) -> None:
        """Keys, the wrong-key limit and the body time limit from `settings` (the service's), or
        given directly."""
        self.app = app
        self.login_page = login_page
        self.body_timeout_s = body_timeout_s
        if settings is not None:
            keys = configured_keys(settings)
            throttle = throttle or FailureThrottle(limit=settings.auth_max_failures)
            self.body_timeout_s = settings.body_timeout_s
        self.keys = keys
        self.throttle = throttle or FailureThrottle()
        self.revoked = RevokedSessions()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.keys is None:
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path in EXEMPT_PATHS or _is_static_file(scope):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        if scope["type"] == "http" and path == LOGOUT_PATH:
            token = _cookie(headers.get("cookie"), COOKIE)
            if token and self.keys.session_valid(token):
                self.revoked.revoke(token)
            expired = f"{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
            await _redirect(send, LOGIN_PATH, [(b"set-cookie", expired.encode())])
            return
        key = presented_key(headers)
        if (
            scope["type"] == "http"
            and scope.get("method") not in SAFE_METHODS
            and key is None
            and _on_pages(path)
            and not _same_site(headers)
        ):
            await self._cross_site(scope, send)
            return
        if scope["type"] == "http" and (key is not None or path == LOGIN_PATH):
            wait = self.throttle.retry_after(_client(scope))
            if wait:
                await self._throttled(scope, send, wait)
                return
        if scope["type"] == "http" and path == LOGIN_PATH:
            await self._login(scope, receive, send)
            return
        if key is not None:
            digest = self.keys.match(key)
            if digest is not None:
                scope[AUTHOR] = self.keys.author(digest)
                await self.app(scope, receive, send)
                return
            self.throttle.record_failure(_client(scope))
            await self._refuse(scope, send, "invalid API key")
            return
        token = _cookie(headers.get("cookie"), COOKIE)
        digest = self.keys.session_digest(token)
        if digest is not None and token not in self.revoked:
            scope["payrisk.session"] = True  # the pages offer "Sign out" to cookie users
            scope[AUTHOR] = self.keys.author(digest)
            scope[CSRF] = self.keys.csrf_token(digest, token)
            await self.app(scope, receive, send)
            return
        await self._refuse(scope, send, "missing API key")

    async def _throttled(self, scope: Scope, send: Send, wait: int) -> None:
        log.warning("too many wrong API keys from one client: refused for %d s", wait)
        retry = [(b"retry-after", str(wait).encode())]
        message = f"too many wrong API keys from this address; retry in {wait} s"
        if scope.get("path") == LOGIN_PATH:
            await _send_html(
                send,
                429,
                self._login_page(scope, PAGES_HOME, ("throttled", {"wait": wait})),
                retry,
            )
            return
        await send_json(send, 429, {"error": message}, retry)

    async def _cross_site(self, scope: Scope, send: Send) -> None:
        log.warning("refused %s: form sent from another site", scope.get("path", ""))
        if scope.get("path") == LOGIN_PATH:
            page = self._login_page(scope, PAGES_HOME, ("cross_site", {}))
            await _send_html(send, 403, page, CLOSE)
            return
        await send_json(send, 403, {"error": "cross-site request refused"}, CLOSE)

    async def _refuse(self, scope: Scope, send: Send, reason: str) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        if _on_pages(path):
            # Percent-encoded, so that `next` is plain ASCII whatever the path holds.
            query = quote(scope.get("query_string", b"").decode("latin-1"), safe="=&%+;")
            target = quote(path) + (f"?{query}" if query else "")
            await _redirect(send, f"{LOGIN_PATH}?next={quote(target, safe='')}")
            return
        await send_json(
            send,
            401,
            {"error": f"{reason}: send it as 'X-API-Key: <key>' or 'Authorization: Bearer <key>'"},
            [(b"www-authenticate", b'Bearer realm="payrisk"')],
        )

    def _login_page(self, scope: Scope, next_path: str, problem: LoginProblem | None) -> str:
        """The sign-in form in the reader's language (its browser's Accept-Language)."""
        return self.login_page(next_path, problem, _headers(scope).get("accept-language"))

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.keys is not None
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if scope.get("method") != "POST":
            next_path = _safe_next((query.get("next") or [""])[0])
            await _send_html(send, 200, self._login_page(scope, next_path, None))
            return
        try:
            body = await read_body(scope, receive, MAX_LOGIN_BODY, self.body_timeout_s)
        except BodyTooLargeError:
            await _send_html(
                send, 413, self._login_page(scope, PAGES_HOME, ("too_large", {})), CLOSE
            )
            return
        except BodyTimeoutError:
            log.warning("sign-in form not received within %g s", self.body_timeout_s)
            page = self._login_page(scope, PAGES_HOME, ("too_slow", {}))
            await _send_html(send, 408, page, CLOSE)
            return
        form = parse_qs(body.decode("utf-8", "replace"))
        next_path = _safe_next((form.get("next") or [""])[0])
        digest = self.keys.match((form.get("api_key") or [""])[0].strip())
        if digest is None:
            self.throttle.record_failure(_client(scope))
            await _send_html(send, 401, self._login_page(scope, next_path, ("invalid_key", {})))
            return
        cookie = (
            f"{COOKIE}={self.keys.session_token(digest)}; Path=/; Max-Age={SESSION_SECONDS}; "
            "HttpOnly; SameSite=Strict"
        )
        if scope.get("scheme") == "https":
            cookie += "; Secure"
        await _redirect(send, next_path, [(b"set-cookie", cookie.encode())])
