"""The credit desk over HTTP and the pages: record a decision on a credit review, read a
customer's record, add a note.

A decision is recorded against the review as the service computes it now (served model, loaded
snapshot): the caller says what it decided, never what the model said. If the caller says which
recommendation it was shown and the review now differs (a new model or snapshot since), the
decision is refused (409) so that nobody decides on a recommendation that is no longer the
model's. Terms beyond the legal maximum are never granted. Record errors name the field; database
failures say only that the record is unavailable.
"""

from __future__ import annotations

import pandas as pd

from payrisk.data.terms import lawful_terms_days
from payrisk.policy.credit import APPROVE_WITH_CONDITIONS, DECLINE
from payrisk.policy.portfolio import BundleMissingError
from payrisk.policy.provisions import recovery_of, total
from payrisk.records.store import (
    CreditDesk,
    DatabaseUnavailableError,
    DecisionEntry,
    RecordError,
)
from payrisk.serving.engine import ScoringEngine
from payrisk.serving.errors import (
    ConflictError,
    NoSnapshotError,
    RecordUnavailableError,
    RefusedRequestError,
)
from payrisk.serving.schemas import (
    CreditDecisionRecord,
    CreditDecisionRequest,
    CreditDecisionResponse,
    CreditHistoryRequest,
    CreditHistoryResponse,
    CreditReviewRequest,
    LimitRecord,
    NoteRecord,
    NoteRequest,
    ProvisionsRequest,
    ProvisionsResponse,
)


def _desk(desk: CreditDesk | None) -> CreditDesk:
    if desk is None:
        raise RecordUnavailableError("the credit desk's record is not available")
    return desk


def _refused(error: RecordError) -> RefusedRequestError:
    """The database failing: 503 (try again); the record refusing what was sent: 422."""
    if isinstance(error, DatabaseUnavailableError):
        return RecordUnavailableError(f"credit desk record: {error}")
    return RefusedRequestError(str(error))


def record_decision(
    engine: ScoringEngine,
    desk: CreditDesk | None,
    request: CreditDecisionRequest,
    author: str,
) -> CreditDecisionResponse:
    store = _desk(desk)
    review = engine.credit_review(
        CreditReviewRequest(
            customer_id=request.customer_id,
            requested_amount=request.requested_amount,
            terms_days=request.terms_days,
            language=request.language,
        )
    )
    if request.shown_recommendation and request.shown_recommendation != review.recommendation:
        raise ConflictError(
            f"shown_recommendation: the review now recommends {review.recommendation}, not "
            f"{request.shown_recommendation} (model v{review.model_version}, snapshot of "
            f"{review.snapshot_as_of}): review again before deciding"
        )
    approved = request.decision != DECLINE
    terms = request.granted_terms_days
    if terms is None and approved:
        terms = request.terms_days
    legal = engine.policy().legal_terms
    if approved and legal.enabled and terms is not None:
        lawful = lawful_terms_days(pd.Timestamp(review.as_of), legal)
        if terms > lawful:
            field = "granted_terms_days" if request.granted_terms_days is not None else "terms_days"
            raise RefusedRequestError(
                f"{field}: {terms} days exceed the legal maximum of {lawful} days "
                f"({legal.describe()}); grant lawful terms"
            )
    conditions = list(request.conditions)
    if request.decision == APPROVE_WITH_CONDITIONS and not conditions:
        conditions = list(review.conditions)
        if not conditions:
            raise RefusedRequestError(
                "conditions: an approval with conditions needs at least one condition"
            )
    granted = request.granted_amount
    if granted is None and approved:
        granted = request.requested_amount
    entry = DecisionEntry(
        customer_id=request.customer_id,
        author=author,
        requested_amount=request.requested_amount,
        terms_days=request.terms_days,
        recommendation=review.recommendation,
        late_probability=review.late_probability,
        default_probability=review.default_probability,
        exposure=review.exposure,
        max_approvable_amount=review.max_approvable_amount,
        model_version=review.model_version,
        snapshot_as_of=review.snapshot_as_of,
        snapshot_id=engine.snapshot.snapshot_id,
        decision=request.decision,
        granted_amount=granted,
        granted_terms_days=terms if approved else None,
        credit_limit=request.credit_limit,
        previous_limit=review.credit_limit,
        conditions=tuple(conditions) if request.decision == APPROVE_WITH_CONDITIONS else (),
        override_reason=request.override_reason,
    )
    try:
        saved = store.record_decision(entry)
    except RecordError as error:
        raise _refused(error) from None
    return CreditDecisionResponse(
        decision=CreditDecisionRecord(**saved), warnings=list(review.warnings)
    )


def credit_history(desk: CreditDesk | None, request: CreditHistoryRequest) -> CreditHistoryResponse:
    try:
        record = _desk(desk).customer(request.customer_id)
    except RecordError as error:
        raise _refused(error) from None
    return CreditHistoryResponse(
        customer_id=request.customer_id,
        current_limit=record.current_limit,
        decisions=[CreditDecisionRecord(**row) for row in record.decisions],
        limits=[LimitRecord(**row) for row in record.limits],
        notes=[NoteRecord(**row) for row in record.notes],
    )


def add_note(desk: CreditDesk | None, request: NoteRequest, author: str) -> NoteRecord:
    try:
        return NoteRecord(**_desk(desk).add_note(request.customer_id, author, request.text))
    except RecordError as error:
        raise _refused(error) from None


def provisions(engine: ScoringEngine, request: ProvisionsRequest) -> ProvisionsResponse:
    """Provisions of the doubtful invoices of the bundle the pages read (the same figures)."""
    engine.snapshot.refresh()
    try:
        bundle = engine.paired_bundle()
    except BundleMissingError as error:
        raise NoSnapshotError(str(error)) from None
    rules = engine.dunning.provisions
    table = bundle.provisions(rules)
    if request.customer_id is not None:
        table = table.loc[table["customer_id"] == request.customer_id]
    return ProvisionsResponse(
        as_of=bundle.as_of.date(),
        model_version=engine.model_version,
        currency=engine.dunning.currencies.base,
        doubtful_after_days=rules.doubtful_after_days,
        vat_rate=rules.vat_rate,
        recovery_rate=recovery_of(bundle.kpis),
        total=total(table),
        doubtful_invoices=len(table),
        invoices=table.head(request.limit).to_dict("records"),
    )
