"""The credit desk in headless Chromium (French and English): a review, the decision recorded
through the form (its CSRF token sent by the browser), a note, the timeline, the exports;
screenshots to test-artifacts/screenshots/desk-<language>.png."""

from __future__ import annotations

import pytest

from tests.web.test_browser import (  # noqa: F401  (fixtures)
    WORDS,
    ask_review,
    browser,
    csp_violations,
    language,
    no_horizontal_scroll,
    page,
    shoot,
)

pytestmark = pytest.mark.slow

DESK = {
    "fr": {"recorded": "Enregistré.", "decline": "Refuser", "note": "Appelé le DAF",
           "kind": "Décision"},
    "en": {"recorded": "Recorded.", "decline": "Decline", "note": "Called the CFO",
           "kind": "Decision"},
}  # fmt: skip


def test_a_decision_and_a_note_recorded_from_the_page(server, page, csp_violations):  # noqa: F811
    lang = language(page)
    words, desk = WORDS[lang], DESK[lang]
    customer = {"fr": "C000008", "en": "C000009"}[lang]
    page.goto(f"{server}/ui/customers/{customer}")
    ask_review(page, words, "8000", "30")
    form = page.locator("#decision-form")
    assert form.is_visible()
    form.locator("#decision").select_option("decline")
    form.locator("#override_reason").fill("=cmd|' /C calc'!A0 test override")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**recorded=1*")
    assert desk["recorded"] in page.locator("#desk-h + p").text_content()
    page.locator("#note").fill(desk["note"])
    page.locator("#note-form button[type=submit]").click()
    page.wait_for_url("**recorded=1*")
    timeline = page.locator("#desk-timeline")
    text = timeline.text_content()
    assert desk["note"] in text and desk["kind"] in text and desk["decline"] in text
    no_horizontal_scroll(page)
    page.locator("#desk-h").scroll_into_view_if_needed()
    shoot(page, "desk")
    export = page.request.get(f"{server}/ui/desk/export.csv?customer_id={customer}")
    assert export.status == 200
    assert "'=cmd|' /C calc'!A0 test override" in export.text()
    for path in ("/ui/desk/provisions.csv", "/ui/desk/monthly.csv"):
        assert page.request.get(f"{server}{path}").status == 200
    assert not csp_violations
