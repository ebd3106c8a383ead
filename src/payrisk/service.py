"""The payrisk HTTP service (BentoML): what dunning systems and collection tools call.

An entry point, like the CLI: it reads the settings once (`payrisk.core.settings`), builds the
catalog (`pipelines.catalog`) and wires HTTP to `payrisk.serving.engine.ScoringEngine`. Start it
with `payrisk serve` (or `bentoml serve payrisk.service:PayriskService`). It loads the champion
scorer from the MLflow registry (or PAYRISK_MODEL_URI; or the local copy under models/ when the
registry is unreachable) and the customer-history snapshot written by `payrisk snapshot`
(PAYRISK_SNAPSHOT), which it reloads when the file changes. Every path but the health probes needs
an API key (`payrisk.serving.auth`); bodies are size- and time-limited and validated before
BentoML parses them (`payrisk.serving.guard`); only then does a request take one of the worker's
PAYRISK_MAX_CONCURRENCY slots (`payrisk.serving.limits`, in place of BentoML's own limit, which
counted requests before their key was checked).
"""

from __future__ import annotations

import gc
import logging
import os

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import bentoml
from pydantic import BaseModel
from starlette.responses import JSONResponse

from payrisk.core.settings import load_settings
from payrisk.features.snapshot import model_fingerprint
from payrisk.policy.portfolio import BundleHolder
from payrisk.records.store import CreditDesk, RecordError, SchemaVersionError
from payrisk.serving import desk, logs
from payrisk.serving.auth import (
    ANONYMOUS,
    AUTHOR,
    PAGES_ROOT,
    ApiKeyMiddleware,
    check_configuration,
)
from payrisk.serving.docs import DocsPageMiddleware
from payrisk.serving.engine import ScoringEngine, SnapshotHolder, usable_with
from payrisk.serving.errors import RefusedRequestError, http_status
from payrisk.serving.guard import RequestGuardMiddleware
from payrisk.serving.limits import ConcurrencyLimitMiddleware
from payrisk.serving.openapi import OpenApiMiddleware, served_spec
from payrisk.serving.process import in_server_worker, stop_with_parent
from payrisk.serving.schemas import (
    CreditDecisionRequest,
    CreditDecisionResponse,
    CreditHistoryRequest,
    CreditHistoryResponse,
    CreditReviewRequest,
    CreditReviewResponse,
    CustomerProfile,
    CustomerRequest,
    NoteRecord,
    NoteRequest,
    ProvisionsRequest,
    ProvisionsResponse,
    ScoreResponse,
    Status,
    WorklistRequest,
    WorklistResponse,
    score_request_model,
)
from payrisk.web import pages
from payrisk.web.app import create_app
from pipelines.catalog import Catalog

# Read once per server process, when BentoML imports this module.
SETTINGS = load_settings()
CATALOG = Catalog(SETTINGS)
# BentoML builds uvicorn's configuration after importing this module, and uvicorn reads its
# trusted proxies from here (default: loopback, so any local process could forge X-Forwarded-For
# and with it the address the wrong-key limit counts): only PAYRISK_TRUSTED_PROXIES, else nobody.
os.environ["FORWARDED_ALLOW_IPS"] = SETTINGS.forwarded_allow_ips
if in_server_worker():
    stop_with_parent()  # the server's arbiter gone (even by SIGKILL), this worker goes too
ScoreRequest = score_request_model(SETTINGS.max_batch)
# The one route table: BentoML's input specs and the request guard both read it.
REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "/v1/score": ScoreRequest,
    "/v1/customer": CustomerRequest,
    "/v1/credit-review": CreditReviewRequest,
    "/v1/worklist": WorklistRequest,
    "/v1/credit-decision": CreditDecisionRequest,
    "/v1/credit-history": CreditHistoryRequest,
    "/v1/customer-note": NoteRequest,
    "/v1/provisions": ProvisionsRequest,
}
NO_INPUT = frozenset({"/v1/status"})


def open_desk(catalog: Catalog) -> CreditDesk | None:
    """The credit desk's record, migrated; None (the desk's endpoints answer 503, scoring goes
    on) when its database cannot be used. The URL is never logged."""
    try:
        return CreditDesk.open(catalog.database_url)
    except (SchemaVersionError, RecordError) as error:
        logging.getLogger("payrisk.records").error("credit desk record unavailable: %s", error)
        return None


def build_engine(catalog: Catalog) -> ScoringEngine:
    loaded = catalog.load_scorer()
    return ScoringEngine(
        scorer=loaded.scorer,
        model_version=loaded.version,
        model_source=loaded.source,
        model_problem=loaded.problem,
        snapshot=SnapshotHolder(
            catalog.snapshot_path,
            check=usable_with(loaded.scorer, catalog.dunning_config),
            model_version=loaded.version,
            model_fingerprint=model_fingerprint(loaded.scorer.metadata),
        ),
        dunning=catalog.dunning_config,
        bundle=BundleHolder(catalog.portfolio_dir()),
        max_age_days=catalog.settings.snapshot_max_age_days,
        clock=catalog.settings.today,
    )


# No `max_concurrency` here: BentoML would count requests before their key and body are checked
# (see payrisk.serving.limits); the limit is PAYRISK_MAX_CONCURRENCY, applied below.
@bentoml.service(name="payrisk", traffic={"timeout": 60}, workers=SETTINGS.workers)
class PayriskService:
    def __init__(self) -> None:
        # BentoML has set up this worker's logging by now: no request can forge a log line,
        # and the access log drops customer ids from page paths.
        logs.install()
        check_configuration(SETTINGS)  # no key, no explicit PAYRISK_AUTH=disabled: refuse
        self.engine = build_engine(CATALOG)
        self.desk = open_desk(CATALOG)
        if self.engine.scorer is not None:
            self.engine.scorer.warm_up()
        # What lives as long as the service (the model, the snapshot, the built tables) leaves
        # the collector's generations: each full collection walked all of it, about 150 ms every
        # few batches of 1,000 invoices, which made the slowest answers twice as slow.
        gc.freeze()

    def __is_ready__(self) -> bool:
        return self.engine.status().ready

    def _answer(self, call, request):
        """A refusal is a JSON object {"error": ...} (BentoML's own would be a one-item list,
        logged with a traceback)."""
        try:
            return call(request)
        except RefusedRequestError as error:
            return JSONResponse({"error": str(error)}, status_code=http_status(error))

    def _answer_in(self, ctx: bentoml.Context, call, request):
        """`_answer` for an API with a context: BentoML sets such an answer's status from the
        context, so a refusal's status goes there too."""
        answer = self._answer(call, request)
        if isinstance(answer, JSONResponse):
            ctx.response.status_code = answer.status_code
        return answer

    @bentoml.api(
        route="/v1/score", input_spec=REQUEST_MODELS["/v1/score"], output_spec=ScoreResponse
    )
    def score(self, **request) -> ScoreResponse:
        """Score a batch of open invoices: probabilities, payment date, dunning action, reasons."""
        return self._answer(self.engine.score, ScoreRequest(**request))

    @bentoml.api(
        route="/v1/customer", input_spec=REQUEST_MODELS["/v1/customer"], output_spec=CustomerProfile
    )
    def customer(self, **request) -> CustomerProfile:
        """A customer's payment record and open balance, as known at the snapshot."""
        return self._answer(self.engine.profile, CustomerRequest(**request))

    @bentoml.api(
        route="/v1/credit-review",
        input_spec=REQUEST_MODELS["/v1/credit-review"],
        output_spec=CreditReviewResponse,
    )
    def credit_review(self, **request) -> CreditReviewResponse:
        """Before granting credit: predicted behaviour, reasons and a recommendation."""
        return self._answer(self.engine.credit_review, CreditReviewRequest(**request))

    @bentoml.api(
        route="/v1/worklist",
        input_spec=REQUEST_MODELS["/v1/worklist"],
        output_spec=WorklistResponse,
    )
    def worklist(self, **request) -> WorklistResponse:
        """The collectors' worklist: actions due by a day, by priority, one per contact."""
        return self._answer(self.engine.worklist, WorklistRequest(**request))

    @bentoml.api(
        route="/v1/credit-decision",
        input_spec=REQUEST_MODELS["/v1/credit-decision"],
        output_spec=CreditDecisionResponse,
    )
    def credit_decision(self, ctx: bentoml.Context, **request) -> CreditDecisionResponse:
        """Record a credit manager's decision on a credit review (the key's name as author)."""
        author = ctx.request.scope.get(AUTHOR, ANONYMOUS)
        return self._answer_in(
            ctx,
            lambda r: desk.record_decision(self.engine, self.desk, r, author),
            CreditDecisionRequest(**request),
        )

    @bentoml.api(
        route="/v1/credit-history",
        input_spec=REQUEST_MODELS["/v1/credit-history"],
        output_spec=CreditHistoryResponse,
    )
    def credit_history(self, **request) -> CreditHistoryResponse:
        """A customer's credit decisions, limit history and notes, newest first."""
        return self._answer(
            lambda r: desk.credit_history(self.desk, r), CreditHistoryRequest(**request)
        )

    @bentoml.api(
        route="/v1/customer-note",
        input_spec=REQUEST_MODELS["/v1/customer-note"],
        output_spec=NoteRecord,
    )
    def customer_note(self, ctx: bentoml.Context, **request) -> NoteRecord:
        """Add a note to a customer's record (the key's name as author)."""
        author = ctx.request.scope.get(AUTHOR, ANONYMOUS)
        return self._answer_in(
            ctx, lambda r: desk.add_note(self.desk, r, author), NoteRequest(**request)
        )

    @bentoml.api(
        route="/v1/provisions",
        input_spec=REQUEST_MODELS["/v1/provisions"],
        output_spec=ProvisionsResponse,
    )
    def provisions(self, **request) -> ProvisionsResponse:
        """Provisions for doubtful receivables at the snapshot's date, per invoice and in total."""
        return self._answer(lambda r: desk.provisions(self.engine, r), ProvisionsRequest(**request))

    @bentoml.api(route="/v1/status", output_spec=Status)
    def status(self) -> Status:
        """Model version, where it came from, and the snapshot in use."""
        return self.engine.status()


# Outermost first: no key, no access (health probes exempt); then framing headers, the body's size
# and time limits and validation, so that a malformed body never reaches BentoML's parser (whose
# error log would quote it); then our spec and the docs page; last the concurrency limit, so that
# only keyed requests with their whole body take a slot. The sign-in page comes from payrisk.web,
# in the house style (serving does not import web).
PayriskService.add_asgi_middleware(
    ApiKeyMiddleware,
    settings=SETTINGS,
    login_page=lambda next_path, problem, accept_language: pages.login_page(
        next_path, problem, accept_language, CATALOG.dunning_config.language
    ),
)
PayriskService.add_asgi_middleware(
    RequestGuardMiddleware,
    request_models=REQUEST_MODELS,
    no_input=NO_INPUT,
    max_body_bytes=SETTINGS.body_limit,
    max_batch=SETTINGS.max_batch,
    body_timeout_s=SETTINGS.body_timeout_s,
)
# Our spec at /docs.json (BentoML's, post-processed), and JSON for the router's 404 and 405.
PayriskService.add_asgi_middleware(
    OpenApiMiddleware,
    spec=lambda: served_spec(
        PayriskService.openapi_spec.asdict(), list(CATALOG.dunning_config.scenarios)
    ),
)
PayriskService.add_asgi_middleware(DocsPageMiddleware)
PayriskService.add_asgi_middleware(
    ConcurrencyLimitMiddleware, max_concurrency=SETTINGS.max_concurrency
)

# The credit managers' review pages (payrisk.web), served by this same process under /ui.
PayriskService.mount_asgi_app(
    create_app(
        lambda: bentoml.get_current_service().engine,
        CATALOG.challenger_summary,
        desk=lambda: bentoml.get_current_service().desk,
    ),
    path=PAGES_ROOT,
)
