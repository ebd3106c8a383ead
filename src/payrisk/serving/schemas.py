"""Request and response models of the HTTP service: the contract with dunning systems.

Every field is described and validated here, so that a bad request is refused with a field-level
4xx before any scoring happens.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from payrisk.core.settings import DEFAULT_MAX_BATCH
from payrisk.data.contract import CURRENCY_CODES

EARLIEST = date(1990, 1, 1)
LATEST = date(2100, 12, 31)
# Any script (unicode ids are fine), no control characters (C0, DEL, C1), 1 to 64 characters.
ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]{1,64}$"


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)


def _check_day(value: date | None, field: str) -> date | None:
    if value is not None and not EARLIEST <= value <= LATEST:
        raise ValueError(f"{field} must be between {EARLIEST} and {LATEST}")
    return value


class InvoiceIn(RequestModel):
    invoice_id: str = Field(pattern=ID_PATTERN, description="The invoice's id in your ERP.")
    customer_id: str = Field(
        pattern=ID_PATTERN,
        description="The customer's id; unknown customers are scored as new and flagged.",
    )
    issue_date: date = Field(description="Day the invoice was issued (YYYY-MM-DD).")
    due_date: date = Field(description="Day payment is due (YYYY-MM-DD), not before issue_date.")
    amount: float = Field(
        ge=0.01, le=1e12, strict=True, description="Invoice amount, tax included, in the currency."
    )
    currency: str = Field("EUR", min_length=3, max_length=3, description="ISO 4217 code.")
    open_amount: float | None = Field(
        None,
        ge=0,
        le=1e12,
        strict=True,
        description="Amount still unpaid after partial payments (default: amount).",
    )
    disputed: bool = Field(
        False,
        strict=True,
        description="A dispute is open: the invoice leaves dunning. For an invoice the snapshot "
        "does not hold, also the model's 'open dispute' feature (for a known one its dated "
        "history is used).",
    )
    attributes: dict[str, str | float | None] | None = Field(
        None,
        description="Your own invoice features declared in train.yaml (features.declared), by "
        "name, for an invoice the snapshot does not hold: numbers for numeric ones, text for "
        "categorical ones. Missing ones are unknown.",
    )

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        str_strip_whitespace=True,
        json_schema_extra={
            "example": {
                "invoice_id": "INV-2026-0042",
                "customer_id": "C000123",
                "issue_date": "2026-10-01",
                "due_date": "2026-10-31",
                "amount": 1250.0,
                "currency": "EUR",
            }
        },
    )

    @field_validator("issue_date", "due_date")
    @classmethod
    def _plausible(cls, value: date, info) -> date:
        return _check_day(value, info.field_name)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        code = value.upper()
        if code not in CURRENCY_CODES:
            raise ValueError("not an ISO 4217 currency code")
        return code

    @model_validator(mode="after")
    def _consistent(self) -> InvoiceIn:
        if self.due_date < self.issue_date:
            raise ValueError("due_date is before issue_date")
        if self.open_amount is not None and self.open_amount > self.amount + 0.005:
            raise ValueError("open_amount exceeds amount")
        return self


class ScoreRequest(RequestModel):
    invoices: list[InvoiceIn] = Field(
        min_length=1,
        max_length=DEFAULT_MAX_BATCH,
        description=f"Open invoices, at most {DEFAULT_MAX_BATCH} (PAYRISK_MAX_BATCH).",
    )
    as_of: date | None = Field(
        None, description="Scoring day (start of day); default: the snapshot's as-of date."
    )
    with_reasons: bool = Field(
        True, description="Explain each score in plain words (costs about 0.5 ms an invoice)."
    )

    @field_validator("as_of")
    @classmethod
    def _plausible(cls, value: date | None) -> date | None:
        return _check_day(value, "as_of")


def score_request_model(max_batch: int) -> type[ScoreRequest]:
    """ScoreRequest with the configured batch limit (PAYRISK_MAX_BATCH), for the spec too."""
    if max_batch == DEFAULT_MAX_BATCH:
        return ScoreRequest
    return create_model(
        "ScoreRequest",
        __base__=ScoreRequest,
        invoices=(
            list[InvoiceIn],
            Field(
                min_length=1,
                max_length=max_batch,
                description=f"Open invoices, at most {max_batch} (PAYRISK_MAX_BATCH).",
            ),
        ),
    )


class Reason(BaseModel):
    feature: str = Field(description="Model feature behind the reason.")
    contribution: float = Field(description="Its contribution to the score (log-odds).")
    text: str = Field(description="The reason in plain words.")


class NextAction(BaseModel):
    action: str = Field(
        description="remind, escalate, write_off_review, dispute_resolution, credit_manager_review."
    )
    step: int | None = Field(None, description="Step of the scenario, 1 for the first.")
    channel: str | None = Field(
        None, description="email, sms, phone, letter, formal_notice, agency."
    )
    template: str | None = Field(None, description="Message template id.")
    actor: str = Field(description="automatic, collector, sales_rep or credit_manager.")
    action_date: date = Field(description="Day to act.")


class InvoiceScore(BaseModel):
    invoice_id: str
    customer_id: str
    known_customer: bool = Field(description="False: no history, scored as a new customer.")
    late_probability: float = Field(description="Probability of payment after the due date.")
    default_probability: float = Field(
        description="Probability of default (unpaid 90 days past due)."
    )
    expected_payment_date: date = Field(description="Central estimate, if it is paid.")
    expected_payment_date_low: date = Field(description="Lower end of the interval.")
    expected_payment_date_high: date = Field(description="Upper end of the interval.")
    expected_days_late: int = Field(description="Expected payment date minus due date.")
    expected_loss: float = Field(description="Open amount x default probability.")
    priority_rank: int = Field(description="Rank in this batch's collectors' worklist (1 first).")
    scenario: str = Field(description="Dunning scenario of the customer.")
    next_action: NextAction
    reasons: list[Reason] = Field(description="What raises the risk most, in plain words.")


class CustomerPlan(BaseModel):
    customer_id: str
    scenario: str
    late_probability: float = Field(description="Amount-weighted over its open invoices.")
    default_probability: float
    open_amount: float
    expected_loss: float
    next_contact_date: date | None
    next_contact_channel: str | None
    next_contact_action: str | None
    next_contact_invoices: int = Field(description="Invoices covered by the next contact.")


class ScoreResponse(BaseModel):
    model_version: str = Field(description="Registry version of the scorer that produced this.")
    as_of: date
    invoices: list[InvoiceScore]
    customers: list[CustomerPlan]


class CustomerRequest(RequestModel):
    customer_id: str = Field(pattern=ID_PATTERN, description="The customer's id.")
    as_of: date | None = Field(None, description="Default: the snapshot's as-of date.")

    @field_validator("as_of")
    @classmethod
    def _plausible(cls, value: date | None) -> date | None:
        return _check_day(value, "as_of")


class CustomerProfile(BaseModel):
    model_version: str
    as_of: date
    customer_id: str
    known_customer: bool
    settled_invoices: int
    late_share: float | None = Field(description="Share of settled invoices paid late.")
    mean_days_late: float | None
    recent_mean_days_late: float | None = Field(description="Recency-weighted (90-day half-life).")
    max_days_late: float | None
    dispute_rate: float | None
    open_invoices: int
    open_amount: float
    past_due_amount: float
    aged_balance: dict[str, float] = Field(description="Past-due amount per bucket of days.")
    credit_limit: float | None
    days_since_last_settlement: float | None


class CreditReviewRequest(RequestModel):
    customer_id: str = Field(pattern=ID_PATTERN, description="The customer asking for credit.")
    requested_amount: float = Field(
        ge=0.01, le=1e12, description="Amount of the order or limit increase."
    )
    terms_days: int = Field(30, ge=0, le=120, description="Payment terms asked for, in days.")
    as_of: date | None = Field(None, description="Default: the snapshot's as-of date.")

    @field_validator("as_of")
    @classmethod
    def _plausible(cls, value: date | None) -> date | None:
        return _check_day(value, "as_of")


class CreditReviewResponse(BaseModel):
    model_version: str
    as_of: date
    customer_id: str
    known_customer: bool
    recommendation: str = Field(
        description="approve, approve_with_conditions, refer_to_credit_manager or decline."
    )
    conditions: list[str]
    grounds: list[str] = Field(description="Why this recommendation (policy thresholds).")
    late_probability: float
    default_probability: float
    expected_days_late: float
    exposure: float = Field(description="Open balance + requested amount.")
    credit_limit: float | None
    reasons: list[Reason] = Field(description="What drives the predicted risk.")


class TargetModel(BaseModel):
    target: str = Field(description="late, default_given_late or payment.")
    model: str = Field(
        description="lightgbm, logistic, blend, prior (a calibrated customer rate, used when the "
        "target could not be learned) or hazard (the payment-date distribution)."
    )
    learnable: bool = Field(
        description="False: the history had too few examples of an outcome to learn it; the "
        "calibrated prior answers."
    )
    note: str | None = Field(None, description="Why the target could not be learned.")


class Status(BaseModel):
    ready: bool
    model_version: str | None
    model_source: str | None = Field(description="registry, local copy, or the model URI.")
    snapshot_as_of: date | None
    snapshot_problem: str | None = Field(description="Why the latest snapshot file was not used.")
    models: list[TargetModel] = Field(
        default_factory=list, description="The model answering each target, and if it was learned."
    )
