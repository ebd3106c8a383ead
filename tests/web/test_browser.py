"""The review pages in headless Chromium against a real `bentoml serve` (one process, /ui).

Needs Debian's chromium at /usr/bin/chromium, which `make test` installs. Every page is opened by a
browser asking for French and by one asking for English, at 1366 px wide; screenshots of each go to
test-artifacts/screenshots/<page>-<language>.png for review.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import API_KEY

pytestmark = pytest.mark.slow  # starts processes, clusters or browsers: make test-fast skips it

CHROMIUM = Path(os.environ.get("PAYRISK_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: run `make test` (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


HEADER_BLUE = "rgb(13, 42, 71)"  # header.top in style.css: proof the stylesheet was applied


@pytest.fixture
def csp_violations() -> list[str]:
    """Console messages in which Chromium says the page's CSP blocked something (inline styles)."""
    return []


def watch_csp(page, violations: list[str]) -> None:
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )


def header_colour(page) -> str:
    return page.locator("header.top").evaluate("e => getComputedStyle(e).backgroundColor")


def sign_in(context, server: str, violations: list[str]):
    """A signed-in page: the review pages need the API key once, at /ui/login."""
    signed_in = context.new_page()
    watch_csp(signed_in, violations)
    signed_in.goto(f"{server}/ui/")
    signed_in.wait_for_url("**/ui/login?next=*")
    signed_in.locator("#api-key").fill(API_KEY)
    signed_in.locator("form button[type=submit]").click()
    signed_in.wait_for_url(f"{server}/ui/")
    return signed_in


@pytest.fixture(params=["fr-FR", "en-GB"], ids=["fr", "en"])
def page(request, browser, server, csp_violations):
    """A signed-in page in a browser that asks for French, or for English."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale=request.param)
    yield sign_in(context, server, csp_violations)
    context.close()


WORDS = {
    "fr": {"dso": "DSO prévu", "search": "Client ou facture", "apply": "Appliquer",
           "days_late": "Jours de retard par facture", "amount": "Montant demandé",
           "terms": "Délai (jours)", "review": "Analyser", "recommendation": "Recommandation",
           "calibration": "Calibration", "customer": "Client ou prospect",
           "prospect": "Prospect : aucun historique"},
    "en": {"dso": "DSO, predicted", "search": "Customer or invoice id", "apply": "Apply",
           "days_late": "Days late per settled invoice", "amount": "Requested amount",
           "terms": "Terms (days)", "review": "Review", "recommendation": "Recommendation:",
           "calibration": "Calibration", "customer": "Customer or prospect id",
           "prospect": "Prospect: no payment history"},
}  # fmt: skip


def language(page) -> str:
    return page.locator("html").get_attribute("lang")


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{language(page)}.png"), full_page=True)


def no_horizontal_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width} px wide"


def test_sign_in_page_wears_the_house_style(browser, server):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    anonymous = context.new_page()
    violations: list[str] = []
    watch_csp(anonymous, violations)
    anonymous.goto(f"{server}/ui/")
    anonymous.wait_for_url("**/ui/login?next=*")
    assert anonymous.locator("#api-key").is_visible()
    assert header_colour(anonymous) == HEADER_BLUE
    shoot(anonymous, "login")
    assert not violations
    context.close()


def test_the_main_reason_is_visible_at_1366_px_without_scrolling_sideways(page, server):
    page.goto(f"{server}/ui/")
    no_horizontal_scroll(page)
    header = page.locator("#invoices thead th.reason")
    box = header.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 1366
    first = page.locator("#invoices tbody tr").first.locator("td.reason")
    assert first.is_visible() and first.text_content().strip() not in ("", "–")
    reason_box = first.bounding_box()
    assert reason_box["x"] + reason_box["width"] <= 1366
    # Compact rows: a line, two when a reason wraps, never the 3-4 lines of before.
    heights = page.locator("#invoices tbody tr").evaluate_all(
        "rows => rows.map(r => r.getBoundingClientRect().height)"
    )
    line = page.locator("#invoices tbody td.num").first.evaluate(
        "e => parseFloat(getComputedStyle(e).lineHeight)"
    )
    assert max(heights) <= 2 * line + 12, (max(heights), line)


def test_portfolio_search_customer_and_credit_review(server, page, bundle, csp_violations):
    words = WORDS[language(page)]
    page.goto(f"{server}/ui/")
    assert page.get_by_text(words["dso"]).is_visible()
    assert header_colour(page) == HEADER_BLUE
    assert page.locator("#invoices tbody tr").count() == 50
    assert page.locator("svg[role=img]").count() == 2
    shoot(page, "portfolio")

    page.goto(f"{server}/ui/?view=customers")
    assert page.locator("#customers tbody tr").count() == 50
    no_horizontal_scroll(page)
    shoot(page, "customers")

    page.goto(f"{server}/ui/")
    customer = bundle.invoices.iloc[0]["customer_id"]
    page.get_by_label(words["search"]).fill(customer)
    page.get_by_role("button", name=words["apply"]).click()
    page.wait_for_url("**q=*")
    rows = page.locator("#invoices tbody tr")
    assert rows.count() == min(int((bundle.invoices["customer_id"] == customer).sum()), 50)
    rows.first.get_by_role("link", name=customer).click()

    page.wait_for_url(f"**/ui/customers/{customer}")
    chart = page.locator("svg[role=img]").first
    assert chart.is_visible() and chart.locator("circle").count() > 0
    assert words["days_late"] in chart.locator("title").first.text_content()
    no_horizontal_scroll(page)
    shoot(page, "customer")

    assert words["recommendation"] in ask_review(page, words, "20000", "30")
    shoot(page, "credit-review")
    assert not csp_violations


def ask_review(page, words: dict[str, str], amount: str, terms: str) -> str:
    """Fill the credit-review form's amount and terms, send it, and return the verdict's text."""
    page.get_by_label(words["amount"]).fill(amount)
    page.get_by_label(words["terms"]).fill(terms)
    page.get_by_role("button", name=words["review"]).click()
    verdict = page.locator("#verdict")
    verdict.wait_for()
    return verdict.text_content()


def test_a_prospect_gets_a_credit_review_in_the_browser(server, page, csp_violations):
    words = WORDS[language(page)]
    page.goto(f"{server}/ui/credit-review")
    page.get_by_label(words["customer"]).fill("NEW-PROSPECT-1")
    assert words["prospect"] in ask_review(page, words, "30000", "45")
    shoot(page, "prospect-review")
    assert not csp_violations


def test_model_page_draws_the_calibration_curve(server, page, csp_violations):
    page.goto(f"{server}/ui/model")
    curve = page.locator("svg[role=img]").filter(has=page.locator("polyline.curve")).first
    assert curve.is_visible()
    box = curve.bounding_box()
    assert box is not None and box["width"] > 200
    assert page.get_by_role("heading", name=WORDS[language(page)]["calibration"]).is_visible()
    shoot(page, "model")
    assert not csp_violations


def test_the_api_docs_render_offline_under_their_content_security_policy(browser, server):
    """Before: Swagger UI at / loaded Google Tag Manager and asked validator.swagger.io for a
    badge, with no Content-Security-Policy. Now /docs works with every other host unreachable."""
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    elsewhere: list[str] = []

    def local_only(route) -> None:
        if route.request.url.startswith(server):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", local_only)
    violations: list[str] = []
    page = sign_in(context, server, violations)  # the docs need the key too
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server}/")  # the old Swagger page's address leads to the new one
    page.wait_for_url(f"{server}/docs")
    page.locator(".opblock-summary-path").first.wait_for()
    paths = page.locator(".opblock-summary-path").all_text_contents()
    assert {"/v1/score", "/v1/customer", "/v1/credit-review", "/v1/status"} <= set(paths)
    shoot(page, "api-docs")
    assert not elsewhere, elsewhere
    assert not violations, violations
    assert not errors, errors
    context.close()
