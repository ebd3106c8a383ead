"""The review pages as a Starlette app, mounted at /ui of the BentoML service (one process).

Routes only parse the request, fetch data (the portfolio bundle, the engine's answers, the model
card) and hand it to `payrisk.web.pages`; the engine is looked up per request so the app can be
built before the service instance exists. /static/style.css serves the pages' one stylesheet (the
auth middleware lets it through without a session: the sign-in page uses it too).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import parse_qs

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from payrisk.policy.portfolio import BundleMissingError, PortfolioBundle
from payrisk.serving.auth import PAGE_SECURITY_HEADERS
from payrisk.serving.engine import ScoringEngine
from payrisk.serving.errors import RefusedRequestError
from payrisk.serving.schemas import CreditReviewRequest, CustomerRequest
from payrisk.web import pages
from payrisk.web.bundle import InvoiceQuery, query_invoices

CHALLENGER_TTL_S = 60.0
HEADERS = PAGE_SECURITY_HEADERS
# The stylesheet holds no data; its URL carries a digest of its content (pages.stylesheet_version),
# so a day's caching never shows a stale one after an upgrade.
STYLESHEET_HEADERS = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}


def create_app(
    engine: Callable[[], ScoringEngine], challenger: Callable[[dict], dict | None]
) -> Starlette:
    """`engine()` gives the service's scoring engine (and the portfolio bundle it holds),
    `challenger(card)` the registry's challenger beside the champion's model card."""
    challenger_cache: dict[str, tuple[float, dict | None]] = {}

    def bundle() -> PortfolioBundle:
        holder = engine().bundle
        if holder is None:
            raise BundleMissingError("no portfolio bundle configured")
        return holder.get()

    def base(request: Request) -> str:
        return request.scope.get("root_path", "").rstrip("/")

    def layout(request: Request, as_of: str = "–") -> pages.Layout:
        return pages.Layout(
            base=base(request),
            as_of=as_of,
            model_version=engine().model_version,
            signed_in=bool(request.scope.get("payrisk.session")),  # set by payrisk.serving.auth
        )

    def html(document: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(document, status_code=status, headers=HEADERS)

    def unavailable(request: Request, error: Exception) -> HTMLResponse:
        return html(
            pages.message_page("Not ready", "Not ready yet", str(error), layout(request)), 503
        )

    async def stylesheet(request: Request) -> Response:
        return Response(pages.stylesheet(), media_type="text/css", headers=STYLESHEET_HEADERS)

    async def portfolio(request: Request) -> HTMLResponse:
        try:
            data = bundle()
        except BundleMissingError as error:
            return unavailable(request, error)
        query = InvoiceQuery.from_params(dict(request.query_params))
        page = query_invoices(data.invoices, query)
        return html(
            pages.portfolio_page(data, page, query, layout(request, data.kpis.get("as_of", "–")))
        )

    async def customer(request: Request) -> HTMLResponse:
        customer_id = request.path_params["customer_id"]
        try:
            data = bundle()
        except BundleMissingError as error:
            return unavailable(request, error)
        known = (data.customers["customer_id"] == customer_id).any() or (
            data.payments["customer_id"] == customer_id
        ).any()
        if not known:
            message = (
                f"No customer {customer_id!r} in the portfolio as of {data.kpis.get('as_of')}."
            )
            page = pages.message_page("Not found", "Customer not found", message, layout(request))
            return html(page, 404)
        scoring = engine()
        profile, problem = None, None
        try:
            profile = scoring.profile(CustomerRequest(customer_id=customer_id))
        except (RefusedRequestError, ValidationError) as error:
            problem = str(error)
        form = {"requested_amount": "", "terms_days": "30"}
        review, error_text, status = None, None, 200
        if request.method == "POST":
            raw = parse_qs((await request.body()).decode("utf-8", "replace"))
            form = {key: (raw.get(key) or [""])[0][:32] for key in form}
            try:
                review = scoring.credit_review(
                    CreditReviewRequest(
                        customer_id=customer_id,
                        requested_amount=form["requested_amount"],
                        terms_days=form["terms_days"],
                    )
                )
            except ValidationError as error:
                error_text = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()
                )
                status = 422
            except RefusedRequestError as error:
                error_text, status = str(error), 422
        page = pages.customer_page(
            data,
            customer_id,
            profile,
            problem,
            review,
            form,
            error_text,
            layout(request, data.kpis.get("as_of", "–")),
        )
        return html(page, status)

    async def model(request: Request) -> HTMLResponse:
        scoring = engine()
        card = scoring.scorer.metadata
        stamp, summary = challenger_cache.get("value", (0.0, None))
        if time.monotonic() - stamp > CHALLENGER_TTL_S:
            summary = challenger(card)
            challenger_cache["value"] = (time.monotonic(), summary)
        page = pages.model_page(
            card,
            scoring.model_version,
            scoring.model_source,
            summary,
            layout(request, str(card.get("as_of", "–"))),
        )
        return html(page)

    return Starlette(
        routes=[
            Route("/", portfolio, methods=["GET"]),
            Route("/model", model, methods=["GET"]),
            Route("/customers/{customer_id:path}", customer, methods=["GET", "POST"]),
            Route("/static/style.css", stylesheet, methods=["GET"]),
        ]
    )
