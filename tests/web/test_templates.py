"""One house: every review page comes from a template file and uses the one stylesheet.

The pages' CSP is `style-src 'self'`, so an inline <style> or a style= attribute (in the SVG
charts too) would be dropped by the browser: these tests find one before a credit manager does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from payrisk.serving.auth import LOGIN_PROBLEMS
from payrisk.web import pages
from tests.service.test_auth import anonymous

WEB = Path(pages.__file__).parent
ROOT = WEB.parents[2]
STYLESHEET_URL = f"/ui/static/style.css?v={pages.stylesheet_version()}"
LINK = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
ATTACK = '"><script>alert(1)</script>'


def stylesheet_links(html: str) -> list[str]:
    links = LINK.findall(html)
    assert all('rel="stylesheet"' in link for link in links), links
    return [re.search(r'href="([^"]+)"', link).group(1) for link in links]


@pytest.fixture(scope="module")
def every_page(client, bundle) -> dict:
    """One response per template: portfolio, customer (with a review), model, message, login."""
    customer = bundle.invoices.iloc[0]["customer_id"]
    responses = {
        "portfolio": client.get("/ui/"),
        "customer": client.post(
            f"/ui/customers/{customer}", data={"requested_amount": "20000", "terms_days": "30"}
        ),
        "model": client.get("/ui/model"),
        "message": client.get("/ui/customers/nobody-of-that-name"),
    }
    with anonymous(client):
        responses["login"] = client.get("/ui/login?next=/ui/model")
        responses["login refused"] = client.post("/ui/login", data={"api_key": "not-the-key"})
    return responses


def test_every_page_links_the_one_stylesheet_and_has_no_inline_style(every_page):
    for name, response in every_page.items():
        assert response.status_code in (200, 401, 404), name
        html = response.text
        assert stylesheet_links(html) == [STYLESHEET_URL], name
        assert not INLINE_STYLE.search(html), (name, INLINE_STYLE.search(html))
        policy = response.headers["content-security-policy"]
        assert "style-src 'self'" in policy and "unsafe-inline" not in policy, name
    assert every_page["customer"].text.count("<svg") == 1  # the charts are checked too
    assert every_page["model"].text.count("<svg") >= 2
    assert 'id="verdict"' in every_page["customer"].text


def test_the_sign_in_page_is_the_house_page(every_page):
    login = every_page["login"].text
    assert '<header class="top"><span class="brand">payrisk</span>' in login
    assert 'action="/ui/login"' in login and 'value="/ui/model"' in login
    assert "<nav" not in login and "as of" not in login  # nothing to show before signing in
    assert 'class="notice" role="alert"' in every_page["login refused"].text


def test_the_stylesheet_is_served_without_a_session(client):
    with anonymous(client):
        response = client.get(STYLESHEET_URL, follow_redirects=False)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "max-age=" in response.headers["cache-control"]
    assert response.text == (WEB / "static" / "style.css").read_text(encoding="utf-8")
    assert "url(" not in response.text and "@import" not in response.text  # no further requests


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ui/"),
        ("GET", "/ui/model"),
        ("GET", "/ui/customers/C000001"),
        ("GET", "/ui/static"),
        ("GET", "/ui/staticfile.css"),
        ("POST", "/ui/static/style.css"),
    ],
)
def test_the_rest_of_ui_still_needs_a_session(client, method, path):
    with anonymous(client):
        response = client.request(method, path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/ui/login?next=")


def test_template_variables_are_escaped():
    layout = pages.Layout(as_of=ATTACK, model_version=ATTACK)
    message = pages.message_page(ATTACK, ATTACK, ATTACK, layout)
    assert "<script" not in message and message.count("&lt;script&gt;") == 5
    login = pages.login_page(ATTACK, ("throttled", {"wait": ATTACK}))
    assert "<script" not in login and login.count("&lt;script&gt;") == 2
    assert pages.ENV.autoescape is True


def test_template_files_neither_style_inline_nor_skip_escaping():
    templates = sorted((WEB / "templates").glob("*.html"))
    assert {t.name for t in templates} >= {
        "base.html", "portfolio.html", "customer.html", "model.html", "message.html", "login.html",
        "report.html",
    }  # fmt: skip
    for template in templates:
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"\|\s*safe\b|autoescape\s+false", text), template.name
        assert not re.search(r"\sstyle\s*=", text), template.name
        if template.name != "base.html":  # only the report's inline copy of the stylesheet
            assert "<style" not in text, template.name


@pytest.mark.parametrize("problem", LOGIN_PROBLEMS)
def test_every_sign_in_problem_is_said_in_the_readers_language(problem):
    said = {
        language: pages.login_page("/ui/", (problem, {"wait": 42}), language)
        for language in ("en", "fr")
    }
    assert 'id="login-error"' in said["en"] and 'id="login-error"' in said["fr"]
    message = {k: re.search(r'id="login-error">([^<]+)<', v).group(1) for k, v in said.items()}
    assert message["en"] != message["fr"]
    if problem == "throttled":
        assert "42 s" in message["en"] and "42 s" in message["fr"]
