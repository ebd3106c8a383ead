"""The request path's limits as units: the concurrency budget, the body time limit, framing
headers (the real server replays each in tests/service/test_attacks.py)."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from payrisk.serving.asgi import BodyTimeoutError, BodyTooLargeError, read_body
from payrisk.serving.guard import RequestGuardMiddleware, repeated_framing_header
from payrisk.serving.limits import ConcurrencyLimitMiddleware


class Probe:
    """An ASGI app that holds every request until released; counts what reached it."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.reached = 0

    async def __call__(self, scope, receive, send) -> None:
        self.reached += 1
        if scope["path"] not in ("/readyz", "/livez"):
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


async def call(app, path: str, method: str = "GET", headers=(), chunks=()) -> dict:
    """Run one request through `app`; the response start message (status, headers)."""
    sent: list[dict] = []
    pending = [*chunks]

    async def receive() -> dict:
        if not pending:
            await asyncio.sleep(3600)  # a client that never sends the rest
        delay, body = pending.pop(0)
        await asyncio.sleep(delay)
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": list(headers)}
    await app(scope, receive, send)
    return sent[0]


def test_over_the_budget_a_request_gets_429_with_retry_after_and_readiness_503():
    async def scenario() -> None:
        probe = Probe()
        limited = ConcurrencyLimitMiddleware(probe, max_concurrency=2)
        held = [asyncio.create_task(call(limited, "/v1/score", "POST")) for _ in range(2)]
        await asyncio.sleep(0.01)
        assert limited.saturated
        refused = await call(limited, "/v1/score", "POST")
        assert refused["status"] == 429 and (b"retry-after", b"1") in refused["headers"]
        ready = await call(limited, "/readyz")
        assert ready["status"] == 503 and (b"retry-after", b"1") in ready["headers"]
        assert (await call(limited, "/livez"))["status"] == 200  # liveness never counted
        probe.release.set()
        assert [(await task)["status"] for task in held] == [200, 200]
        assert not limited.saturated and limited.in_progress == 0
        assert (await call(limited, "/readyz"))["status"] == 200
        assert probe.reached == 4  # the two held, /livez, then /readyz once free

    asyncio.run(scenario())


def test_pages_have_a_budget_of_their_own_and_never_take_an_api_slot():
    """Before (issue 26): page requests counted against the API's slots, so a few browsers on
    heavy pages could fill them and keyed API clients got 429."""

    async def scenario() -> None:
        probe = Probe()
        limited = ConcurrencyLimitMiddleware(probe, max_concurrency=2, max_pages=2)
        pages = [asyncio.create_task(call(limited, "/ui/customers/C1")) for _ in range(2)]
        await asyncio.sleep(0.01)
        assert not limited.saturated and limited.in_progress == 0
        busy = await call(limited, "/ui/")
        assert busy["status"] == 429 and (b"retry-after", b"1") in busy["headers"]
        assert (await call(limited, "/readyz"))["status"] == 200
        api = [asyncio.create_task(call(limited, "/v1/score", "POST")) for _ in range(2)]
        await asyncio.sleep(0.01)
        assert limited.in_progress == 2  # both admitted beside the pages
        probe.release.set()
        assert [(await t)["status"] for t in pages + api] == [200] * 4
        assert limited.pages_in_progress == 0 and limited.in_progress == 0

    asyncio.run(scenario())


def test_a_failing_request_gives_its_slot_back():
    async def broken(scope, receive, send) -> None:
        raise RuntimeError("boom")

    async def scenario() -> None:
        limited = ConcurrencyLimitMiddleware(broken, max_concurrency=1)
        for _ in range(3):
            with pytest.raises(RuntimeError):
                await call(limited, "/v1/score", "POST")
        assert limited.in_progress == 0

    asyncio.run(scenario())


def test_a_body_must_arrive_whole_within_the_time_limit_and_size():
    async def read(chunks, limit=100, timeout_s=0.2, headers=()) -> bytes:
        queue = [*chunks]

        async def receive() -> dict:
            if not queue:
                await asyncio.sleep(3600)
            delay, body = queue.pop(0)
            await asyncio.sleep(delay)
            return {"type": "http.request", "body": body, "more_body": bool(queue)}

        return await read_body({"headers": list(headers)}, receive, limit, timeout_s)

    assert asyncio.run(read([(0, b"ab"), (0.05, b"cd")])) == b"abcd"
    # Each byte in time, but the whole body too late: a trickle is cut off all the same.
    with pytest.raises(BodyTimeoutError):
        asyncio.run(read([(0.05, b"a")] * 10))
    with pytest.raises(BodyTimeoutError):
        asyncio.run(read([(0, b"a"), (3600, b"b")]))  # the rest never comes
    with pytest.raises(BodyTooLargeError):
        asyncio.run(read([(0, b"x" * 101)]))
    with pytest.raises(BodyTooLargeError):
        asyncio.run(read([], headers=[(b"content-length", b"101")]))


class Body(BaseModel):
    n: int


def guard(app, timeout_s: float = 0.2) -> RequestGuardMiddleware:
    return RequestGuardMiddleware(
        app,
        request_models={"/v1/x": Body},
        no_input=frozenset(),
        max_body_bytes=1000,
        max_batch=10,
        body_timeout_s=timeout_s,
    )


def test_the_guard_answers_408_to_a_trickled_body_and_never_calls_the_app():
    async def scenario() -> None:
        probe = Probe()
        probe.release.set()
        json = [(b"content-type", b"application/json")]
        slow = await call(guard(probe), "/v1/x", "POST", json, [(0.1, b'{"n"'), (0.15, b":1}")])
        assert slow["status"] == 408 and (b"connection", b"close") in slow["headers"]
        fine = await call(guard(probe), "/v1/x", "POST", json, [(0, b'{"n":1}')])
        assert fine["status"] == 200 and probe.reached == 1
        strict = await call(guard(probe), "/v1/x", "POST", json, [(0, b'{"n":true}')])
        assert strict["status"] == 400 and probe.reached == 1

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("headers", "repeated"),
    [
        (
            [(b"content-type", b"text/plain"), (b"Content-Type", b"application/json")],
            "content-type",
        ),
        ([(b"content-length", b"2"), (b"content-length", b"2")], "content-length"),
        ([(b"transfer-encoding", b"chunked"), (b"content-length", b"2")], "content-length with"),
        ([(b"content-type", b"application/json"), (b"accept", b"a"), (b"accept", b"b")], None),
    ],
)
def test_framing_headers_sent_twice_make_a_request_ambiguous(headers, repeated):
    found = repeated_framing_header({"headers": headers})
    assert found == repeated or (repeated and found.startswith(repeated))

    async def scenario() -> int:
        probe = Probe()
        probe.release.set()
        return (await call(guard(probe), "/v1/x", "GET", headers))["status"]

    assert asyncio.run(scenario()) == (200 if repeated is None else 400)


class Items(BaseModel):
    """A body whose validation notes whether it ran on the event loop's thread."""

    items: list[int]

    @classmethod
    def model_validate_json(cls, data, **kwargs):
        try:
            asyncio.get_running_loop()
            ON_LOOP.append(True)
        except RuntimeError:
            ON_LOOP.append(False)
        return super().model_validate_json(data, **kwargs)


ON_LOOP: list[bool] = []


def test_a_large_body_is_validated_off_the_event_loop():
    """Before (issue 26): 1,000 invoices took some 40 ms to validate on the event loop, which
    the probes and every other client waited through."""
    ON_LOOP.clear()

    async def scenario() -> list[int]:
        probe = Probe()
        probe.release.set()
        app = RequestGuardMiddleware(
            probe,
            request_models={"/v1/x": Items},
            no_input=frozenset(),
            max_body_bytes=1 << 20,
            max_batch=10,
            body_timeout_s=5,
        )
        json = [(b"content-type", b"application/json")]
        small = b'{"items": [1, 2]}'
        large = b'{"items": [' + b", ".join([b"12345"] * 20_000) + b"]}"
        bad = large[:-2] + b', "x"]}'
        return [
            (await call(app, "/v1/x", "POST", json, [(0, body)]))["status"]
            for body in (small, large, bad)
        ]

    assert asyncio.run(scenario()) == [200, 200, 400]
    assert ON_LOOP == [True, False, False]  # the small one at once, the large ones in a thread
