"""The review pages as a Starlette app, mounted at /ui of the BentoML service (one process).

Routes only parse the request, fetch data (the portfolio bundle, the engine's answers, the model
card) and hand it to `payrisk.web.pages`; the engine is looked up per request so the app can be
built before the service instance exists. /static/style.css serves the pages' one stylesheet (the
auth middleware lets it through without a session: the sign-in page uses it too).

Language: `?lang=fr|en` (remembered in a cookie), else the browser's Accept-Language, else the
policy's `language`.
"""

from __future__ import annotations

import functools
import hmac
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import parse_qs

import anyio.to_thread
import pandas as pd
from anyio import CapacityLimiter
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from payrisk.core.i18n import LANGUAGES, negotiate
from payrisk.data.terms import lawful_terms_days
from payrisk.policy.portfolio import BundleMissingError, PortfolioBundle
from payrisk.records.overrides import override_report
from payrisk.records.store import CreditDesk, DatabaseUnavailableError, RecordError
from payrisk.serving import desk as desk_api
from payrisk.serving.auth import AUTHOR, CSRF, PAGE_SECURITY_HEADERS
from payrisk.serving.engine import ScoringEngine
from payrisk.serving.errors import RefusedRequestError, http_status
from payrisk.serving.limits import ACTIVITY
from payrisk.serving.schemas import (
    CreditDecisionRequest,
    CreditReviewRequest,
    CustomerRequest,
    NoteRequest,
)
from payrisk.web import exports, pages
from payrisk.web.bundle import InvoiceQuery, query_customers, query_invoices
from payrisk.web.i18n import Words

CHALLENGER_TTL_S = 60.0
HEADERS = PAGE_SECURITY_HEADERS
LANGUAGE_COOKIE = "payrisk_lang"
# The stylesheet holds no data; its URL carries a digest of its content (pages.stylesheet_version),
# so a day's caching never shows a stale one after an upgrade.
STYLESHEET_HEADERS = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
# Pages render in threads of their own, never on the event loop (which also answers the probes
# and the API): one at a time, so that on a small machine the API's own thread (BentoML runs
# sync APIs on one) keeps a core. How many pages may wait for it is `limits.MAX_PAGES`.
PAGE_THREADS = 1
# While API requests are in progress, pages take at most this share of the time: after a page
# that took t seconds the next one waits t x (1 - share) / share. Threads share one interpreter
# lock, so a page rendering all the time halved the API's throughput and doubled its latency.
PAGE_SHARE = 0.25
T = TypeVar("T")


def language_of(request: Request, default: str) -> tuple[str, bool]:
    """The page's language and whether the reader chose it just now (?lang=, to remember)."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked, True
    remembered = request.cookies.get(LANGUAGE_COOKIE)
    if remembered in LANGUAGES:
        return remembered, False
    return negotiate(request.headers.get("accept-language"), default), False  # type: ignore[arg-type]


def _first(raw: dict[str, list[str]], key: str, limit: int = 64) -> str:
    return (raw.get(key) or [""])[0][:limit]


def _number(value: str) -> str | None:
    """An optional numeric form field: None when left empty (pydantic parses the rest)."""
    return value.strip() or None


def known_customer(data: PortfolioBundle, customer_id: str) -> bool:
    """A customer of the portfolio (open invoices or a payment record): it has a page."""
    return bool(
        (data.customers["customer_id"] == customer_id).any()
        or (data.payments["customer_id"] == customer_id).any()
    )


def create_app(
    engine: Callable[[], ScoringEngine],
    challenger: Callable[[dict], dict | None],
    desk: Callable[[], CreditDesk | None] | None = None,
) -> Starlette:
    """`engine()` gives the service's scoring engine (and the portfolio bundle it holds),
    `challenger(card)` the registry's challenger beside the champion's model card, `desk()` the
    credit desk's record (None: the pages show no record)."""
    challenger_cache: dict[str, tuple[float, dict | None]] = {}
    lane = CapacityLimiter(PAGE_THREADS)  # pages in turn (the pause below included)
    threads = CapacityLimiter(PAGE_THREADS)
    pace = {"next": 0.0}  # monotonic time before which no page starts while the API works

    async def off_loop(render: Callable[..., T], *args: object) -> T:
        """Everything a page does (bundle reads, pandas, scoring, the registry, templates) in
        the pages' own thread: the event loop stays free for the probes and the API. While the
        API has work, pages keep to PAGE_SHARE of the time."""
        async with lane:
            wait = pace["next"] - time.monotonic()
            if wait > 0 and ACTIVITY.api_in_progress > 0:
                await anyio.sleep(wait)
            started = time.monotonic()
            try:
                return await anyio.to_thread.run_sync(
                    functools.partial(render, *args), limiter=threads
                )
            finally:
                spent = time.monotonic() - started
                pace["next"] = time.monotonic() + spent * (1 - PAGE_SHARE) / PAGE_SHARE

    def bundle() -> PortfolioBundle:
        """The bundle written with the snapshot the API answers from (one pair, one model)."""
        return engine().paired_bundle()

    def words(request: Request) -> Words:
        policy = engine().dunning
        language, _ = language_of(request, policy.language)
        return Words(language, policy.currencies.base)

    def layout(request: Request, as_of: str = "–") -> pages.Layout:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return pages.Layout(
            base=request.scope.get("root_path", "").rstrip("/"),
            as_of=as_of,
            model_version=engine().model_version,
            signed_in=bool(request.scope.get("payrisk.session")),  # set by payrisk.serving.auth
            words=words(request),
            here=here,
        )

    def html(request: Request, document: str, status: int = 200) -> HTMLResponse:
        response = HTMLResponse(document, status_code=status, headers=HEADERS)
        language, chosen = language_of(request, engine().dunning.language)
        if chosen:
            response.set_cookie(
                LANGUAGE_COOKIE,
                language,
                max_age=365 * 86400,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
        return response

    def unavailable(request: Request, error: Exception) -> HTMLResponse:
        frame = layout(request)
        w = frame.words
        page = pages.message_page(w.t("notready.title"), w.t("notready.heading"), str(error), frame)
        return html(request, page, 503)

    async def stylesheet(request: Request) -> Response:
        return Response(pages.stylesheet(), media_type="text/css", headers=STYLESHEET_HEADERS)

    def render_portfolio(request: Request) -> HTMLResponse:
        try:
            data = bundle()
        except BundleMissingError as error:
            return unavailable(request, error)
        query = InvoiceQuery.from_params(dict(request.query_params))
        if query.view == "customers":
            page = query_customers(data.invoices, data.customers, query)
        else:
            page = query_invoices(data.invoices, query)
        frame = layout(request, data.kpis.get("as_of", "–"))
        rules = engine().dunning.provisions
        return html(request, pages.portfolio_page(data, page, query, frame, rules))

    def review_of(
        request: Request, form: dict[str, str], raw: dict[str, list[str]], customer_id: str
    ):
        """The credit review a form asks for: (review, error text, status)."""
        form.update({key: (raw.get(key) or [""])[0][:64] for key in form})
        try:
            review = engine().credit_review(
                CreditReviewRequest(
                    customer_id=customer_id or form.get("customer_id", ""),
                    requested_amount=form["requested_amount"],
                    terms_days=form["terms_days"],
                    language=words(request).language,
                )
            )
        except ValidationError as error:
            text = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in error.errors(include_input=False, include_url=False)
            )
            return None, text, 422
        except RefusedRequestError as error:
            return None, str(error), 422
        return review, None, 200

    def can_write(request: Request) -> bool:
        """Someone is known (a session or a key): the record's forms are offered."""
        return AUTHOR in request.scope

    def desk_view(
        request: Request,
        customer_id: str,
        review: object | None,
        form: dict[str, str],
        notice: str | None = None,
        error: str | None = None,
    ) -> dict[str, object] | None:
        """The record's section for `customer_id` (None without a record configured)."""
        if desk is None or not customer_id:
            return None
        store, record = desk(), None
        if store is not None:
            try:
                record = store.customer(customer_id)
            except RecordError:
                record = None
        policy = engine().dunning
        as_of = engine().snapshot.as_of
        lawful = (
            lawful_terms_days(as_of, policy.legal_terms)
            if as_of is not None and policy.legal_terms.enabled
            else None
        )
        view = pages.DeskView(
            record=record,
            csrf=request.scope.get(CSRF, ""),
            can_write=can_write(request),
            notice=notice,
            error=error,
        )
        frame = layout(request)
        return pages.desk_context(view, customer_id, review, form, frame, lawful)

    def csrf_valid(request: Request, raw: dict[str, list[str]]) -> bool:
        """A page session's form must carry its CSRF token; a request with a key in a header
        (no ambient credential a third-party page could use) needs none."""
        if not request.scope.get("payrisk.session"):
            return True
        expected = request.scope.get(CSRF, "")
        given = _first(raw, "csrf", 200)
        return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())

    def render_customer(request: Request, raw: dict[str, list[str]] | None) -> HTMLResponse:
        customer_id = request.path_params["customer_id"]
        try:
            data = bundle()
        except BundleMissingError as error:
            return unavailable(request, error)
        if not known_customer(data, customer_id):
            frame = layout(request)
            w = frame.words
            message = w.t(
                "notfound.message", id=repr(customer_id), day=w.f.day(data.kpis.get("as_of"))
            )
            page = pages.message_page(
                w.t("notfound.title"), w.t("notfound.customer"), message, frame
            )
            return html(request, page, 404)
        profile, problem = None, None
        try:
            # As of the snapshot, as the rest of the page (its invoices, its case), not today.
            asked = CustomerRequest(customer_id=customer_id, as_of=data.as_of.date())
            profile = engine().profile(asked)
        except (RefusedRequestError, ValidationError) as error:
            problem = str(error)
        form = {"requested_amount": "", "terms_days": "30"}
        review, error_text, status = None, None, 200
        if raw is not None:
            review, error_text, status = review_of(request, form, raw, customer_id)
        page = pages.customer_page(
            data,
            customer_id,
            profile,
            problem,
            review,
            form,
            error_text,
            layout(request, data.kpis.get("as_of", "–")),
            desk_view(request, customer_id, review, form, *notice_of(request)),
            engine().dunning.provisions,
        )
        return html(request, page, status)

    def notice_of(request: Request) -> tuple[str | None, None]:
        """ "Recorded." after a write redirected here (?recorded=1)."""
        recorded = request.query_params.get("recorded") == "1"
        return (words(request).t("desk.recorded") if recorded else None), None

    def render_credit(request: Request, raw: dict[str, list[str]] | None) -> HTMLResponse:
        """A credit review for any id: a known customer, or a prospect without history."""
        form = {"customer_id": "", "requested_amount": "", "terms_days": "30"}
        review, error_text, status = None, None, 200
        if raw is not None:
            review, error_text, status = review_of(request, form, raw, "")
        else:  # after a write on a prospect: its record (?customer_id=)
            form["customer_id"] = request.query_params.get("customer_id", "")[:64]
        as_of = engine().snapshot.as_of
        frame = layout(request, as_of.isoformat() if as_of else "–")
        shown = form["customer_id"] if review is not None or raw is None else ""
        view = desk_view(request, shown, review, form, *notice_of(request))
        page = pages.credit_page(form, review, error_text, frame, view)
        return html(request, page, status)

    def back_to(request: Request, customer_id: str) -> str:
        """Where a write returns: the customer's page, or the credit review page for a prospect
        (its record there)."""
        base = request.scope.get("root_path", "").rstrip("/")
        language = words(request).language
        try:
            known = known_customer(bundle(), customer_id)
        except BundleMissingError:
            known = False
        if known:
            path = f"{base}/customers/{pages.url_segment(customer_id)}"
            return f"{path}?lang={language}&recorded=1#desk-h"
        return (
            f"{base}/credit-review?lang={language}&recorded=1"
            f"&customer_id={pages.url_segment(customer_id)}#desk-h"
        )

    def refused_write(
        request: Request, customer_id: str, raw: dict[str, list[str]], error: str, status: int
    ) -> HTMLResponse:
        """The credit review page again, with the request reviewed, the record and why the
        write was refused."""
        form = {"customer_id": customer_id, "requested_amount": "", "terms_days": "30"}
        review = None
        if _first(raw, "requested_amount"):
            review, _, _ = review_of(request, form, raw, customer_id)
        as_of = engine().snapshot.as_of
        frame = layout(request, as_of.isoformat() if as_of else "–")
        view = desk_view(request, customer_id, review, form, error=error)
        return html(request, pages.credit_page(form, review, None, frame, view), status)

    def write(request: Request, raw: dict[str, list[str]], kind: str) -> Response:
        """A decision or a note from a page's form: CSRF-checked, validated, recorded, then
        back to the page (303) or the form again with the reason it was refused."""
        customer_id = _first(raw, "customer_id")
        if not csrf_valid(request, raw):
            return refused_write(request, customer_id, raw, words(request).t("desk.csrf"), 403)
        if desk is None:
            return refused_write(
                request, customer_id, raw, words(request).t("desk.unavailable"), 503
            )
        author = request.scope.get(AUTHOR, "anonymous")
        try:
            if kind == "decision":
                conditions = [
                    line.strip()
                    for line in _first(raw, "conditions", 2200).splitlines()
                    if line.strip()
                ]
                desk_api.record_decision(
                    engine(),
                    desk(),
                    CreditDecisionRequest(
                        customer_id=customer_id,
                        requested_amount=_first(raw, "requested_amount"),
                        terms_days=_first(raw, "terms_days"),
                        decision=_first(raw, "decision"),
                        granted_amount=_number(_first(raw, "granted_amount")),
                        granted_terms_days=_number(_first(raw, "granted_terms_days")),
                        credit_limit=_number(_first(raw, "credit_limit")),
                        conditions=conditions,
                        override_reason=_first(raw, "override_reason", 2000).strip() or None,
                        shown_recommendation=_first(raw, "shown_recommendation") or None,
                        language=words(request).language,
                    ),
                    author,
                )
            else:
                desk_api.add_note(
                    desk(),
                    NoteRequest(customer_id=customer_id, text=_first(raw, "text", 2000)),
                    author,
                )
        except ValidationError as error:
            text = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in error.errors(include_input=False, include_url=False)
            )
            return refused_write(request, customer_id, raw, text, 422)
        except RefusedRequestError as error:
            return refused_write(request, customer_id, raw, str(error), http_status(error))
        return RedirectResponse(back_to(request, customer_id), 303, headers=HEADERS)

    def table_file(request: Request, name: str, rows: list[dict]) -> Response:
        """A table as CSV, or as XLSX with ?format=xlsx (same cells, formulas neutralised)."""
        xlsx = request.query_params.get("format") == "xlsx"
        body, media, filename = exports.download(exports.TABLES[name], rows, name, xlsx)
        disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
        return Response(body, media_type=media, headers={**HEADERS, **disposition})

    def render_export(request: Request) -> Response:
        """The record's decisions as CSV: one customer's (?customer_id=) or all."""
        store = desk() if desk is not None else None
        if store is None:
            return Response("credit desk record unavailable\n", 503, media_type="text/plain")
        customer_id = request.query_params.get("customer_id", "")[:64]
        try:
            rows = (
                store.customer(customer_id).decisions[::-1]
                if customer_id
                else store.all_decisions()
            )
        except RecordError as error:
            status = 503 if isinstance(error, DatabaseUnavailableError) else 422
            return Response(f"{error}\n", status, media_type="text/plain")
        return table_file(request, "credit-decisions", rows)

    def render_model(request: Request) -> HTMLResponse:
        scoring = engine()
        card = scoring.scorer.metadata
        stamp, summary = challenger_cache.get("value", (0.0, None))
        if time.monotonic() - stamp > CHALLENGER_TTL_S:
            summary = challenger(card)  # a registry call: never on the event loop
            challenger_cache["value"] = (time.monotonic(), summary)
        page = pages.model_page(
            card,
            scoring.model_version,
            scoring.model_source,
            summary,
            layout(request, str(card.get("as_of", "–"))),
        )
        return html(request, page)

    async def form_of(request: Request) -> dict[str, list[str]] | None:
        """A POSTed form's fields (the guard has already bounded its size and time), None for
        a GET."""
        if request.method != "POST":
            return None
        return parse_qs((await request.body()).decode("utf-8", "replace"))

    async def portfolio(request: Request) -> HTMLResponse:
        return await off_loop(render_portfolio, request)

    async def customer(request: Request) -> HTMLResponse:
        return await off_loop(render_customer, request, await form_of(request))

    async def credit(request: Request) -> HTMLResponse:
        return await off_loop(render_credit, request, await form_of(request))

    async def model(request: Request) -> HTMLResponse:
        return await off_loop(render_model, request)

    async def decision(request: Request) -> Response:
        return await off_loop(write, request, await form_of(request) or {}, "decision")

    async def note(request: Request) -> Response:
        return await off_loop(write, request, await form_of(request) or {}, "note")

    async def export(request: Request) -> Response:
        return await off_loop(render_export, request)

    def render_provisions(request: Request) -> Response:
        """Every doubtful invoice's provision as CSV: the figures the portfolio page sums."""
        try:
            data = bundle()
        except BundleMissingError as error:
            return Response(f"{error}\n", 503, media_type="text/plain")
        table = data.provisions(engine().dunning.provisions)
        return table_file(request, "provisions", table.to_dict("records"))

    async def provisions(request: Request) -> Response:
        return await off_loop(render_provisions, request)

    def render_desk(request: Request) -> HTMLResponse:
        """/ui/desk: the overrides report and the latest decisions."""
        store = desk() if desk is not None else None
        decisions, report = None, None
        if store is not None:
            try:
                decisions = store.all_decisions()
            except RecordError:
                decisions = None
        if decisions is not None:
            try:
                payments = bundle().payments
            except BundleMissingError:
                payments = pd.DataFrame(
                    columns=["customer_id", "settled_date", "days_late", "written_off"]
                )
            report = override_report(decisions, payments)
        as_of = engine().snapshot.as_of
        frame = layout(request, as_of.isoformat() if as_of else "–")
        return html(request, pages.desk_page(decisions, report, frame))

    async def desk_report(request: Request) -> HTMLResponse:
        return await off_loop(render_desk, request)

    def render_monthly(request: Request) -> Response:
        try:
            data = bundle()
        except BundleMissingError as error:
            return Response(f"{error}\n", 503, media_type="text/plain")
        return table_file(request, "monthly", data.kpis.get("monthly", []))

    async def monthly(request: Request) -> Response:
        return await off_loop(render_monthly, request)

    return Starlette(
        routes=[
            Route("/", portfolio, methods=["GET"]),
            Route("/model", model, methods=["GET"]),
            Route("/credit-review", credit, methods=["GET", "POST"]),
            Route("/desk", desk_report, methods=["GET"]),
            Route("/desk/decision", decision, methods=["POST"]),
            Route("/desk/note", note, methods=["POST"]),
            Route("/desk/export.csv", export, methods=["GET"]),
            Route("/desk/provisions.csv", provisions, methods=["GET"]),
            Route("/desk/monthly.csv", monthly, methods=["GET"]),
            Route("/customers/{customer_id:path}", customer, methods=["GET", "POST"]),
            Route("/static/style.css", stylesheet, methods=["GET"]),
        ]
    )
