"""The payrisk HTTP service (BentoML): what dunning systems and collection tools call.

Start it with `payrisk serve` (or `bentoml serve payrisk.service:PayriskService`). It loads the
champion scorer from the MLflow registry (or PAYRISK_MODEL_URI; or the local copy under models/ when
the registry is unreachable) and the customer-history snapshot written by `payrisk snapshot`
(PAYRISK_SNAPSHOT), which it reloads when the file changes. Endpoints only translate HTTP to
`payrisk.serving.ScoringEngine`. Every path but the health probes needs an API key
(`payrisk.serving.auth`); bodies are size-limited and validated before BentoML parses them
(`payrisk.serving.guard`).
"""

from __future__ import annotations

import os

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from pathlib import Path

import bentoml
from starlette.responses import JSONResponse

from payrisk.core.config import load_dunning_config
from payrisk.serving.auth import ApiKeyMiddleware, check_configuration
from payrisk.serving.engine import RefusedRequestError, ScoringEngine, SnapshotHolder
from payrisk.serving.guard import RequestGuardMiddleware
from payrisk.serving.schemas import (
    CreditReviewRequest,
    CreditReviewResponse,
    CustomerProfile,
    CustomerRequest,
    ScoreRequest,
    ScoreResponse,
    Status,
)
from payrisk.web import pages
from payrisk.web.app import create_app


def snapshot_path() -> Path:
    from pipelines.tracking import models_dir

    return Path(
        os.environ.get("PAYRISK_SNAPSHOT", models_dir() / "snapshot" / "customer_history.npz")
    )


def build_engine() -> ScoringEngine:
    from pipelines.scoring import load_scorer

    loaded = load_scorer(os.environ.get("PAYRISK_MODEL_URI") or None)
    return ScoringEngine(
        scorer=loaded.scorer,
        model_version=loaded.version,
        model_source=loaded.source,
        snapshot=SnapshotHolder(snapshot_path()),
        dunning=load_dunning_config(os.environ.get("PAYRISK_DUNNING_CONFIG") or None),
    )


@bentoml.service(name="payrisk", traffic={"timeout": 60, "max_concurrency": 32})
class PayriskService:
    def __init__(self) -> None:
        check_configuration()  # no key and no explicit PAYRISK_AUTH=disabled: refuse to start
        self.engine = build_engine()

    def __is_ready__(self) -> bool:
        return self.engine.status().ready

    def _answer(self, call, request):
        """A refusal is a JSON object {"error": ...} (BentoML's own would be a one-item list,
        logged with a traceback)."""
        try:
            return call(request)
        except RefusedRequestError as error:
            return JSONResponse({"error": str(error)}, status_code=error.http_status)

    @bentoml.api(route="/v1/score", input_spec=ScoreRequest, output_spec=ScoreResponse)
    def score(self, **request) -> ScoreResponse:
        """Score a batch of open invoices: probabilities, payment date, dunning action, reasons."""
        return self._answer(self.engine.score, ScoreRequest(**request))

    @bentoml.api(route="/v1/customer", input_spec=CustomerRequest, output_spec=CustomerProfile)
    def customer(self, **request) -> CustomerProfile:
        """A customer's payment record and open balance, as known at the snapshot."""
        return self._answer(self.engine.profile, CustomerRequest(**request))

    @bentoml.api(
        route="/v1/credit-review", input_spec=CreditReviewRequest, output_spec=CreditReviewResponse
    )
    def credit_review(self, **request) -> CreditReviewResponse:
        """Before granting credit: predicted behaviour, reasons and a recommendation."""
        return self._answer(self.engine.credit_review, CreditReviewRequest(**request))

    @bentoml.api(route="/v1/status", output_spec=Status)
    def status(self) -> Status:
        """Model version, where it came from, and the snapshot in use."""
        return self.engine.status()


def _ui_bundle_dir() -> Path:
    from pipelines.scoring import portfolio_dir

    return portfolio_dir(snapshot_path())


# Outermost first: no key, no access (health probes exempt); then the body limit and validation,
# so that a malformed body never reaches BentoML's parser (whose error log would quote it). The
# sign-in page comes from payrisk.web, in the house style (serving does not import web).
PayriskService.add_asgi_middleware(ApiKeyMiddleware, login_page=pages.login_page)
PayriskService.add_asgi_middleware(RequestGuardMiddleware)

# The credit managers' review pages (payrisk.web), served by this same process under /ui.
PayriskService.mount_asgi_app(
    create_app(lambda: bentoml.get_current_service().engine, _ui_bundle_dir), path=pages.UI_BASE
)
