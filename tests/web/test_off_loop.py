"""No review page does its work on the event loop (issue 26, High 1): the loop also answers the
health probes and the API, so one slow page stalled them all. Each blocking step a page takes
(the bundle, pandas queries, the engine, the registry, the templates) records whether it ran on
a thread with a running event loop; none may."""

from __future__ import annotations

import asyncio
import functools

import pytest

from payrisk.serving.engine import ScoringEngine
from payrisk.web import app as web_app
from payrisk.web import pages

EN = {"Accept-Language": "en"}


@pytest.fixture
def on_the_loop(monkeypatch) -> list[str]:
    """The names of the blocking steps that ran on the event loop's thread."""
    found: list[str] = []

    def watched(name: str, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            try:
                asyncio.get_running_loop()
                found.append(name)
            except RuntimeError:  # no loop in this thread: a worker thread
                pass
            return function(*args, **kwargs)

        return wrapper

    for name in ("portfolio_page", "customer_page", "credit_page", "model_page"):
        monkeypatch.setattr(pages, name, watched(name, getattr(pages, name)))
    for name in ("query_customers", "query_invoices"):
        monkeypatch.setattr(web_app, name, watched(name, getattr(web_app, name)))
    for name in ("profile", "credit_review", "portfolio"):
        monkeypatch.setattr(ScoringEngine, name, watched(name, getattr(ScoringEngine, name)))
    return found


def test_no_page_works_on_the_event_loop(client, bundle, on_the_loop):
    customer = bundle.invoices.iloc[0]["customer_id"]
    review = {"requested_amount": "25000", "terms_days": "45"}
    answers = [
        client.get("/ui/?view=customers&sort=due_date", headers=EN),
        client.get("/ui/", headers=EN),
        client.get(f"/ui/customers/{customer}", headers=EN),
        client.post(f"/ui/customers/{customer}", data=review, headers=EN),
        client.post("/ui/credit-review", data={**review, "customer_id": "P-1"}, headers=EN),
        client.get("/ui/model", headers=EN),
    ]
    assert [a.status_code for a in answers] == [200] * len(answers)
    assert on_the_loop == []


def test_pages_give_way_to_the_api(client, monkeypatch):
    """Pages and the API share one interpreter lock: while API requests are in progress, a
    page that took t seconds keeps the next one waiting t x 3 (pages at most a quarter of the
    time); with the API idle, pages run back to back."""
    import time

    from payrisk.serving.limits import ACTIVITY

    model_page = pages.model_page

    def slow(*args, **kwargs):
        time.sleep(0.2)
        return model_page(*args, **kwargs)

    monkeypatch.setattr(pages, "model_page", slow)

    def two_pages() -> float:
        """Seconds the second of two pages in a row took."""
        assert client.get("/ui/model", headers=EN).status_code == 200
        started = time.monotonic()
        assert client.get("/ui/model", headers=EN).status_code == 200
        return time.monotonic() - started

    assert two_pages() < 0.7  # the API idle: no pause
    monkeypatch.setattr(ACTIVITY, "api_in_progress", 1)
    assert two_pages() > 0.75  # paused 3 x 0.2 s or more, then 0.2 s of its own
