"""The service's concurrency budget: how many requests a worker works on at once.

It replaces BentoML's own limit (`traffic.max_concurrency`), which sits in front of every user
middleware: there, a request took a slot before its API key was checked or its body read, so 34
clients trickling a sign-in form one byte every few seconds held all 32 slots for a minute and
keyed clients got 429. Here the limit is the innermost middleware: by the time a request takes a
slot it has a valid key and its whole body (or it is a page or the docs, which read none), so only
work that is ready to run is counted.

Over the limit a request gets 429 with `Retry-After: 1`, and `/readyz` answers 503 while every slot
is taken, so that a load balancer sends traffic elsewhere instead of into refusals.

The review pages (/ui) have a budget of their own (`page_budget`) and never take an API slot: a
few browsers looping over heavy pages wait for the pages' thread (`payrisk.web.app`) or get 429,
while keyed API clients keep every one of their slots.
"""

from __future__ import annotations

import logging

from payrisk.serving.asgi import ASGIApp, Receive, Scope, Send, send_json

log = logging.getLogger("payrisk.service")

READINESS_PATH = "/readyz"
# Probes and metrics never wait for a slot (as in BentoML): they say how the worker is doing.
UNCOUNTED_PATHS = frozenset({"/livez", "/healthz", "/metrics", READINESS_PATH})
RETRY_AFTER_S = 1
PAGES_PREFIX = "/ui"
STATIC_PREFIX = "/ui/static/"


class Activity:
    """How many API requests this worker process is working on (all limit middlewares of the
    process): the review pages give way to them (`payrisk.web.app`)."""

    api_in_progress = 0


ACTIVITY = Activity()


def page_budget(max_concurrency: int) -> int:
    """How many page requests a worker holds at once (rendering or waiting for the pages'
    thread): a quarter of the API's, at least 2."""
    return max(2, max_concurrency // 4)


def _is_page(path: str) -> bool:
    return (path == PAGES_PREFIX or path.startswith(PAGES_PREFIX + "/")) and not path.startswith(
        STATIC_PREFIX
    )


class ConcurrencyLimitMiddleware:
    """At most `max_concurrency` requests in progress in this worker; 429 beyond."""

    def __init__(self, app: ASGIApp, max_concurrency: int, max_pages: int | None = None) -> None:
        self.app = app
        self.max_concurrency = max_concurrency
        self.max_pages = page_budget(max_concurrency) if max_pages is None else max_pages
        self.in_progress = 0  # one event loop per worker: a plain counter is race-free
        self.pages_in_progress = 0

    @property
    def saturated(self) -> bool:
        return self.in_progress >= self.max_concurrency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        retry = [(b"retry-after", str(RETRY_AFTER_S).encode())]
        if path in UNCOUNTED_PATHS:
            if path == READINESS_PATH and self.saturated:
                await send_json(
                    send,
                    503,
                    {"error": f"saturated: {self.in_progress} requests in progress "
                     f"(limit {self.max_concurrency})"},
                    retry,
                )  # fmt: skip
                return
            await self.app(scope, receive, send)
            return
        if _is_page(path):
            await self._page(scope, receive, send, retry)
            return
        if self.saturated:
            log.warning("refused %s: %d requests in progress", path, self.in_progress)
            await send_json(
                send,
                429,
                {"error": f"too many requests in progress; retry in {RETRY_AFTER_S} s"},
                retry,
            )
            return
        self.in_progress += 1
        ACTIVITY.api_in_progress += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress -= 1
            ACTIVITY.api_in_progress -= 1

    async def _page(self, scope: Scope, receive: Receive, send: Send, retry: list) -> None:
        """A review page, counted against the pages' budget only."""
        if self.pages_in_progress >= self.max_pages:
            log.warning("refused a page: %d pages in progress", self.pages_in_progress)
            await send_json(
                send,
                429,
                {"error": f"too many pages in progress; retry in {RETRY_AFTER_S} s"},
                retry,
            )
            return
        self.pages_in_progress += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.pages_in_progress -= 1
