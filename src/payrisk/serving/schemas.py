"""Request and response models of the HTTP service: the contract with dunning systems.

Every field is described and validated here, so that a bad request is refused with a field-level
4xx before any scoring happens.
"""

from __future__ import annotations

from datetime import date, datetime
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from payrisk.core.i18n import LANGUAGES
from payrisk.core.settings import DEFAULT_MAX_BATCH
from payrisk.data.contract import CHANNELS, CURRENCY_CODES
from payrisk.features.definitions import Family
from payrisk.policy.config import ACTORS
from payrisk.policy.continuity import EVENTS
from payrisk.policy.credit import DECISIONS, MAX_BOUNDS, RECOMMENDATIONS
from payrisk.policy.dunning import ACTIONS
from payrisk.policy.ladder import LADDER_REASONS, REVIEW_ACTIONS
from payrisk.policy.reasons import LOWERS, RAISES
from payrisk.policy.state import STATE_REASONS
from payrisk.records.schema import MAX_CONDITION, MAX_CONDITIONS, MAX_TEXT

# Allowed values, declared once: the spec lists them as enums (scenario names come from the
# loaded dunning policy and are added to the spec by payrisk.serving.openapi).
ActionName = Literal[ACTIONS]  # type: ignore[valid-type]
ChannelName = Literal[CHANNELS]  # type: ignore[valid-type]
ActorName = Literal[ACTORS]  # type: ignore[valid-type]
Recommendation = Literal[RECOMMENDATIONS]  # type: ignore[valid-type]
LanguageCode = Literal[LANGUAGES]  # type: ignore[valid-type]
FamilyName = Literal[tuple(f.value for f in Family)]  # type: ignore[valid-type]
Direction = Literal[RAISES, LOWERS]

EARLIEST = date(1990, 1, 1)
LATEST = date(2100, 12, 31)
# The default day of an answer (the engine's clock: `ScoringEngine.today`).
DEFAULT_AS_OF = (
    "today in the service's time zone (PAYRISK_TIMEZONE), or the snapshot's as-of date if later"
)
# Any script (unicode ids are fine), no control characters (C0, DEL, C1), 1 to 64 characters.
ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]{1,64}$"


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)


def _plausible_day(value: date, info: ValidationInfo) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"{info.field_name} must be between {EARLIEST} and {LATEST}")
    return value


# Every date a request carries: a calendar day between EARLIEST and LATEST, the error naming
# the field.
Day = Annotated[date, AfterValidator(_plausible_day)]


MAX_REMINDERS = 100  # reported reminders per invoice
MAX_INSTALMENTS = 120  # instalments of a payment plan (ten years monthly)
StateReason = Literal[STATE_REASONS]  # type: ignore[valid-type]
LadderReason = Literal[LADDER_REASONS]  # type: ignore[valid-type]
ReviewName = Literal[REVIEW_ACTIONS]  # type: ignore[valid-type]
PlanEvent = Literal[EVENTS]  # type: ignore[valid-type]
CallOutcome = Literal["reached", "no_answer", "promise_obtained", "dispute_raised"]


class ReminderIn(RequestModel):
    """A reminder the dunning system sent for this invoice."""

    sent_date: Day = Field(description="Day it was sent; not after as_of.")
    channel: ChannelName = Field(description="How it was sent.")
    step: int | None = Field(None, ge=1, le=50, description="Scenario step, 1 for the first.")
    outcome: CallOutcome | None = Field(
        None,
        description="What came of it (calls mostly): reached, no_answer, promise_obtained, "
        "dispute_raised. Recorded; the reminder counts as sent whatever its outcome (send the "
        "promise or dispute_date it led to as such).",
    )


class ReviewIn(RequestModel):
    """A credit manager's review of the invoice, reported done: the same review is not asked for
    again before escalation.review_every_days (configs/dunning.yaml)."""

    done_on: Day = Field(description="Day the review was done; not after as_of.")
    action: ReviewName = Field(
        description="Which review: credit_manager_review or write_off_review."
    )


class PromiseIn(RequestModel):
    """An open promise to pay: nothing is sent before the promised date but a nudge the day
    before; past its date with the invoice still open, it is broken (one step firmer at once).
    Leave it out once kept."""

    made_on: Day = Field(description="Day the customer promised; not after as_of.")
    promised_date: Day = Field(description="Day the customer promised to pay by.")
    amount: float | None = Field(
        None, ge=0.01, le=1e12, strict=True, description="Amount promised; default: all open."
    )

    @model_validator(mode="after")
    def _ordered(self) -> PromiseIn:
        if self.promised_date < self.made_on:
            raise ValueError("promised_date is before made_on")
        return self


class InstalmentIn(RequestModel):
    due_date: Day = Field(description="Day this instalment is due.")
    amount: float = Field(ge=0.01, le=1e12, strict=True, description="Its amount.")


class PaymentPlanIn(RequestModel):
    """An agreed payment plan: the invoice is dunned per instalment, not on its whole balance.
    The invoice's open_amount is what is left of the plan: the plan's total minus it has been
    paid, covering instalments in order."""

    agreed_on: Day | None = Field(None, description="Day the plan was agreed; not after as_of.")
    instalments: list[InstalmentIn] = Field(
        min_length=1,
        max_length=MAX_INSTALMENTS,
        description="Instalments in due-date order (strictly increasing), what the plan spreads.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> PaymentPlanIn:
        days = [i.due_date for i in self.instalments]
        if any(b <= a for a, b in pairwise(days)):
            raise ValueError("instalments must be in strictly increasing due_date order")
        if self.agreed_on is not None and days[0] < self.agreed_on:
            raise ValueError("the first instalment is due before agreed_on")
        return self


class HoldIn(RequestModel):
    """A pause of dunning: nothing is sent up to and including `until`."""

    until: Day = Field(description="Last day of the hold.")
    reason: str | None = Field(
        None,
        max_length=500,
        description="Why (holiday, negotiation, legal review): free text, never logged, stored "
        "or echoed.",
    )


class CustomerStateIn(RequestModel):
    """What the dunning system knows of a customer beyond the ledger. Overrides the snapshot."""

    customer_id: str = Field(pattern=ID_PATTERN, description="The customer's id.")
    last_contact_date: Day | None = Field(
        None, description="The customer's last contact (any invoice, any channel); not after as_of."
    )
    hold: HoldIn | None = Field(None, description="A hold of all the customer's invoices.")
    direct_debit: bool | None = Field(
        None, strict=True, description="Pays by direct debit: no reminder unless one failed."
    )
    direct_debit_failed_date: Day | None = Field(
        None, description="A direct-debit collection failed that day: dunning resumes."
    )

    model_config = ConfigDict(  # merged with RequestModel's
        json_schema_extra={
            "example": {
                "customer_id": "C000123",
                "last_contact_date": "2026-11-20",
                "hold": {"until": "2026-12-04", "reason": "negotiation"},
                "direct_debit": False,
            }
        },
    )


class InvoiceIn(RequestModel):
    invoice_id: str = Field(pattern=ID_PATTERN, description="The invoice's id in your ERP.")
    customer_id: str = Field(
        pattern=ID_PATTERN,
        description="The customer's id; unknown customers are scored as new and flagged.",
    )
    issue_date: Day = Field(description="Day the invoice was issued (YYYY-MM-DD).")
    due_date: Day = Field(description="Day payment is due (YYYY-MM-DD), not before issue_date.")
    amount: float = Field(
        ge=0.01, le=1e12, strict=True, description="Invoice amount, tax included, in the currency."
    )
    currency: str = Field(
        "EUR",
        min_length=3,
        max_length=3,
        description="ISO 4217 code. Amounts in another currency than the model's are converted "
        "with the policy's rates (currencies.rates); one without a rate is refused (422).",
    )
    open_amount: float | None = Field(
        None,
        ge=0.01,
        le=1e12,
        strict=True,
        description="Amount still unpaid after partial payments (default: amount); an invoice "
        "with nothing left to pay is not open: leave it out.",
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
    dispute_date: Day | None = Field(
        None,
        description="An open dispute raised that day (implies disputed): dispute resolution.",
    )
    reminders: list[ReminderIn] | None = Field(
        None,
        max_length=MAX_REMINDERS,
        description="Reminders sent so far, including today's: they count as sent (the "
        "scenario's step: the highest step given, else how many; and the customer's contact "
        "gap) even before the next snapshot knows them. Never makes payrisk forget one the "
        "snapshot knows.",
    )
    reviews: list[ReviewIn] | None = Field(
        None, max_length=MAX_REMINDERS, description="Reviews of the invoice done so far."
    )
    promise: PromiseIn | None = Field(None, description="An open promise to pay.")
    planned: str | None = Field(
        None,
        max_length=1000,
        pattern=r"^p1\.[A-Za-z0-9_-]+$",
        description="The `next_action.plan_id` of this invoice's last answer: what was planned "
        "stays planned until an event changes it (then `next_action.plan_change` names the "
        "events). Without it, the plan is decided afresh.",
    )
    payment_plan: PaymentPlanIn | None = Field(None, description="An agreed payment plan.")
    hold: HoldIn | None = Field(None, description="A hold of this invoice.")

    model_config = ConfigDict(  # merged with RequestModel's
        json_schema_extra={
            "example": {
                "invoice_id": "INV-2026-0042",
                "customer_id": "C000123",
                "issue_date": "2026-10-01",
                "due_date": "2026-10-31",
                "amount": 1250.0,
                "currency": "EUR",
                "reminders": [{"sent_date": "2026-11-03", "channel": "email", "step": 2}],
                "promise": {"made_on": "2026-11-20", "promised_date": "2026-12-05"},
            }
        },
    )

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        code = value.upper()
        if code not in CURRENCY_CODES:
            raise ValueError("not an ISO 4217 currency code")
        return code

    @model_validator(mode="after")
    def _consistent(self) -> InvoiceIn:
        """The dunning state within the invoice's life and amounts (never a promise, plan or
        reminder before the invoice exists, nor more than it asks for)."""
        if self.due_date < self.issue_date:
            raise ValueError("due_date is before issue_date")
        if self.open_amount is not None and self.open_amount > self.amount + 0.005:
            raise ValueError("open_amount exceeds amount")
        left = self.amount if self.open_amount is None else self.open_amount
        before = [
            (f"reminders[{j}].sent_date", r.sent_date) for j, r in enumerate(self.reminders or [])
        ]
        if self.promise is not None:
            before.append(("promise.made_on", self.promise.made_on))
            if self.promise.amount is not None and self.promise.amount > left + 0.005:
                raise ValueError("promise.amount exceeds what is left to pay")
        if self.dispute_date is not None:
            before.append(("dispute_date", self.dispute_date))
        if self.payment_plan is not None:
            plan = self.payment_plan
            if plan.agreed_on is not None:
                before.append(("payment_plan.agreed_on", plan.agreed_on))
            before.append(("payment_plan.instalments[0].due_date", plan.instalments[0].due_date))
            if sum(i.amount for i in plan.instalments) > self.amount + 0.005:
                raise ValueError("payment_plan instalments total more than the invoice's amount")
        for name, day in before:
            if day < self.issue_date:
                raise ValueError(f"{name} is before issue_date")
        return self


class ScoreRequest(RequestModel):
    request_id: str | None = Field(
        None,
        pattern=ID_PATTERN,
        description="Your id for this request, echoed in the answer: an idempotency key. The "
        "same id with the same body gets the same answer (a retry never gets a second plan); "
        "the same id with another body is refused (409). Default: a digest of the request, the "
        "same for the same request.",
    )
    invoices: list[InvoiceIn] = Field(
        min_length=1,
        max_length=DEFAULT_MAX_BATCH,
        description=f"Open invoices, at most {DEFAULT_MAX_BATCH} (PAYRISK_MAX_BATCH).",
    )
    customers: list[CustomerStateIn] = Field(
        default_factory=list,
        max_length=DEFAULT_MAX_BATCH,
        description="Dunning state of the invoices' customers (last contact, hold, direct "
        "debit), one entry per customer at most; overrides the snapshot's.",
    )
    as_of: Day | None = Field(
        None,
        description=f"Scoring day (start of day); default: {DEFAULT_AS_OF}.",
    )
    with_reasons: bool = Field(
        True, description="Explain each score in plain words (costs about 0.5 ms an invoice)."
    )
    language: LanguageCode | None = Field(
        None, description="Language of the reasons (en, fr); default: the policy's."
    )

    @field_validator("customers")
    @classmethod
    def _once_each(cls, customers: list[CustomerStateIn]) -> list[CustomerStateIn]:
        return customers_once_each(customers)


def customers_once_each(customers: list[CustomerStateIn]) -> list[CustomerStateIn]:
    """A customer's state is sent once: two entries would contradict each other."""
    seen: set[str] = set()
    for position, customer in enumerate(customers):
        if customer.customer_id in seen:
            raise ValueError(f"customers[{position}].customer_id appears twice")
        seen.add(customer.customer_id)
    return customers


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
    feature: str = Field(description="The feature that tells this fact (one per family).")
    family: FamilyName = Field(description="The fact it belongs to (payment record, balance...).")
    direction: Direction = Field(description="Whether it raises or lowers the risk.")
    contribution: float = Field(description="The family's contribution to the score (log-odds).")
    value: float | str | None = Field(None, description="The feature's value.")
    text: str = Field(description="The reason in plain words, in the language asked for.")


class ChannelOption(BaseModel):
    """A channel the learned policy weighed for this contact."""

    channel: str = Field(description="email, sms, phone, letter, formal_notice, agency.")
    probability: float = Field(
        description="Estimated chance of full payment within response_days if used now."
    )
    probability_low: float = Field(description="Lower end of its 90% interval.")
    probability_high: float = Field(description="Upper end of its 90% interval.")
    expected_value: float = Field(
        description="Open amount x cash_value_rate x uplift - the channel's cost (configs/"
        "dunning.yaml): what the policy maximises."
    )
    allowed: bool = Field(description="Whether the escalation rules allow it now.")


class Penalties(BaseModel):
    """Late-payment penalties owed on the action's day, computed (not templated)."""

    days_late: int = Field(description="Days of interest: from the day after due to action_date.")
    annual_rate: float = Field(description="Interest rate per year (penalties.annual_rate).")
    interest: float = Field(description="Interest on the amount due, to the cent.")
    indemnity: float = Field(description="Fixed recovery indemnity for this invoice.")
    total: float = Field(description="Interest + indemnity.")
    currency: str = Field(description="The invoice's currency.")


class ContactRef(BaseModel):
    """The customer's contact of a day: one voice per customer per day."""

    action_date: date
    action: ActionName
    channel: ChannelName | None
    step: int | None


class NextAction(BaseModel):
    action: ActionName = Field(
        description="remind, escalate (agency or court), write_off_review, dispute_resolution, "
        "credit_manager_review (scenario finished), or wait (the learned policy expects more "
        "from waiting: decide again on action_date)."
    )
    step: int | None = Field(None, description="Step of the scenario, 1 for the first.")
    channel: ChannelName | None = Field(None, description="How to contact; none for reviews.")
    template: str | None = Field(None, description="Message template id.")
    actor: ActorName = Field(description="Who acts.")
    action_date: date = Field(description="Day to act: always a working day of the policy.")
    policy: str = Field(
        "rules",
        description="Which policy chose it: learned (channel-effect models) or rules (the "
        "segments table: policy: rules, a new customer, or no overlap to estimate effects).",
    )
    policy_reason: str | None = Field(None, description="Why, in plain words.")
    response_days: int | None = Field(
        None, description="The window of 'paid after the contact' the effects are about."
    )
    response_probability: float | None = Field(
        None,
        description="Learned policy: estimated chance of full payment within response_days with "
        "the chosen contact (none when waiting: the chance without contact is in policy_reason).",
    )
    expected_effect: float | None = Field(
        None, description="Learned policy: uplift of that chance over no contact."
    )
    alternatives: list[ChannelOption] = Field(
        default_factory=list, description="Learned policy: every channel weighed, best first."
    )
    state_reason: StateReason | None = Field(
        None,
        description="What in the dunning state decided this action: hold (nothing before "
        "action_date), promise (nothing before the promised date but the nudge), "
        "promise_check_in (a promise likely to be broken), broken_promise (one step firmer at "
        "once), payment_plan (dunned per instalment), direct_debit (no reminder), dispute; "
        "none: the scenario.",
    )
    ladder_reason: LadderReason | None = Field(
        None,
        description="Where the escalation ladder changed the step a policy chose: "
        "notice_before_legal (no agency, court or write-off review before a formal notice), "
        "reminder_before_notice (no formal notice before a reminder), plan_or_promise_on_track "
        "(an unbroken plan or open promise gets reminders only), notice_deadline (legal action "
        "waits for the notice's deadline), legal_after_notice (the scenario ran out: its legal "
        "step), reviewed (a review reported done comes back after the review interval).",
    )
    plan_id: str = Field(
        description="This action and the facts it was decided on: send it back as the "
        "invoice's `planned` to keep the plan until an event changes it."
    )
    plan_change: list[PlanEvent] | None = Field(
        None,
        description="With `planned` sent: the events since that plan (payment, "
        "reminder_reported, review_reported, promise, promise_broken, payment_plan, "
        "instalment_missed, hold, hold_ended, dispute, customer_contact, direct_debit, "
        "decision_day: a planned wait reached its day; customer_plan: another invoice of the "
        "customer moved this contact to keep one voice a day and the gap); empty: nothing "
        "changed, the plan is "
        "kept. None: no plan was sent back.",
    )
    contact: ContactRef | None = Field(
        None,
        description="For a contact: the customer's one contact of that day that covers this "
        "invoice (its channel and step are the hardest among the invoices it covers).",
    )
    amount_due: float = Field(
        description="What the contact asks for, in the invoice's currency: the current "
        "instalment under a payment plan, else the open amount."
    )
    penalties: Penalties | None = Field(
        None, description="Late-payment penalties owed on action_date, when the step mentions them."
    )


class InvoiceScore(BaseModel):
    invoice_id: str
    customer_id: str
    known_customer: bool = Field(description="False: no history, scored as a new customer.")
    currency: str = Field(description="The invoice's currency: its amounts below are in it.")
    late_probability: float = Field(description="Probability of payment after the due date.")
    default_probability: float = Field(
        description="Probability of default: still unpaid `targets.default_after_days` after the "
        "due date (90 days in the shipped configs/train.yaml)."
    )
    expected_payment_date: date = Field(description="Central estimate, if it is paid.")
    expected_payment_date_low: date = Field(description="Lower end of the interval.")
    expected_payment_date_high: date = Field(description="Upper end of the interval.")
    expected_days_late: int = Field(
        description="Expected payment date minus due date (negative: early)."
    )
    expected_loss: float = Field(
        description="Open amount x default probability x (1 - recovery rate of the policy)."
    )
    priority_rank: int = Field(description="Rank in this batch's collectors' worklist (1 first).")
    scenario: str = Field(description="Dunning scenario of the customer.")
    next_action: NextAction
    reasons: list[Reason] = Field(
        description="What raises the risk most, then what lowers it, one fact each."
    )
    promise_kept_probability: float | None = Field(
        None,
        description="For an open promise: predicted chance it is kept (the customer's kept "
        "promises shrunk to the portfolio's rate).",
    )
    promise_reason: str | None = Field(None, description="What that chance rests on.")


class Contact(BaseModel):
    """One planned contact of a customer: the invoices it covers, on one day, by one channel."""

    action_date: date = Field(description="Day of the contact (a working day).")
    action: ActionName
    channel: ChannelName | None
    actor: ActorName
    step: int | None = Field(None, description="Hardest scenario step among its invoices.")
    invoice_ids: list[str] = Field(description="Every invoice the contact is about.")
    open_amount: float = Field(description="Their open amount (base currency).")


class CustomerPlan(BaseModel):
    customer_id: str
    scenario: str
    currency: str = Field(description="Currency of the amounts (the policy's base currency).")
    late_probability: float = Field(description="Amount-weighted over its open invoices.")
    default_probability: float
    open_amount: float = Field(description="Its open invoices: those sent and the snapshot's.")
    expected_loss: float
    next_contact_date: date | None
    next_contact_channel: ChannelName | None
    next_contact_action: ActionName | None
    next_contact_invoices: int = Field(description="Invoices covered by the next contact.")
    next_contact_invoice_ids: list[str] = Field(description="Which invoices it covers.")
    contacts: list[Contact] = Field(description="Every planned contact, first one first.")
    invoices_from_snapshot: list[str] = Field(
        description="Open invoices of the customer known to the snapshot but not sent, which "
        "the plan also covers (so a plan never depends on which invoices are sent)."
    )


class Freshness(BaseModel):
    """How old the history behind an answer is."""

    snapshot_as_of: date = Field(description="The customer-history snapshot's as-of date.")
    snapshot_age_days: int = Field(description="Days between the snapshot and as_of.")
    stale: bool = Field(
        description="The snapshot is older than PAYRISK_SNAPSHOT_MAX_AGE_DAYS at as_of: "
        "payments and invoices since are unknown; run `payrisk snapshot`."
    )


class ScoreResponse(Freshness):
    request_id: str = Field(description="The request's id, or a digest of the request.")
    model_version: str = Field(description="Registry version of the scorer that produced this.")
    as_of: date
    language: LanguageCode
    invoices: list[InvoiceScore]
    customers: list[CustomerPlan]
    warnings: list[str] = Field(description="What the caller should know about this answer.")


class CustomerRequest(RequestModel):
    customer_id: str = Field(pattern=ID_PATTERN, description="The customer's id.")
    as_of: Day | None = Field(None, description=f"Default: {DEFAULT_AS_OF}.")


class CustomerProfile(Freshness):
    model_version: str
    as_of: date
    customer_id: str
    known_customer: bool
    currency: str = Field(description="Currency of the amounts (the policy's base currency).")
    settled_invoices: int
    late_share: float | None = Field(description="Share of settled invoices paid late.")
    mean_days_late: float | None
    recent_mean_days_late: float | None = Field(description="Recency-weighted (90-day half-life).")
    max_days_late: float | None
    dispute_rate: float | None
    open_invoices: int
    open_amount: float = Field(description="Open invoices after partial payments.")
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
    as_of: Day | None = Field(None, description=f"Default: {DEFAULT_AS_OF}.")
    language: LanguageCode | None = Field(
        None, description="Language of grounds, conditions and reasons; default: the policy's."
    )


class CreditReviewResponse(Freshness):
    model_version: str
    as_of: date
    customer_id: str
    known_customer: bool = Field(description="False: a prospect, reviewed as a new customer.")
    language: LanguageCode
    currency: str = Field(description="Currency of the amounts (the policy's base currency).")
    recommendation: Recommendation = Field(description="The strictest rule that applies.")
    conditions: list[str] = Field(description="Conditions of an approval with conditions.")
    grounds: list[str] = Field(description="Every policy rule that applies, with its figures.")
    max_approvable_amount: float = Field(
        description="The most that could be approved within policy (default probability and "
        "credit limit rules), for these terms; 0: nothing."
    )
    max_approvable_bound: Literal[MAX_BOUNDS] = Field(  # type: ignore[valid-type]
        description="What stops it from being higher: credit_limit, default_probability (a "
        "larger amount would be referred), new_customer (a new customer asking more is referred: "
        "refer_new_customer_over_amount) or search_limit (no customer limit and none reached up "
        "to ten times the request: at least this much)."
    )
    late_probability: float
    default_probability: float
    expected_days_late: float
    open_amount: float = Field(description="The customer's open balance today.")
    exposure: float = Field(description="Open balance + requested amount.")
    credit_limit: float | None
    reasons: list[Reason] = Field(description="What drives the predicted risk.")
    warnings: list[str] = Field(
        default_factory=list,
        description="What the credit manager must know before deciding: terms beyond the legal "
        "maximum (legal_terms in the dunning policy), quoted with the rule.",
    )


class WorklistRequest(RequestModel):
    day: Day | None = Field(
        None,
        description="Actions due on or before this day; default: the first working day from "
        "today in the service's time zone (or from the snapshot's as-of date if later).",
    )
    actor: ActorName | None = Field(None, description="Only this actor's actions.")
    channel: ChannelName | None = Field(None, description="Only this channel's contacts.")
    page: int = Field(1, ge=1, le=100_000, description="Page number, 1 for the first.")
    page_size: int = Field(50, ge=1, le=500, description="Items per page.")
    invoices: list[InvoiceIn] = Field(
        default_factory=list,
        max_length=DEFAULT_MAX_BATCH,
        description="What the dunning system reported since the snapshot, as POST /v1/score "
        "takes it: their customers are planned again with it as of `day` (reminders, reviews, "
        "payments, promises, plans sent back with `planned`); the others keep the snapshot's "
        "plan. Send each such customer's open invoices.",
    )
    customers: list[CustomerStateIn] = Field(
        default_factory=list,
        max_length=DEFAULT_MAX_BATCH,
        description="Dunning state of the invoices' customers, as POST /v1/score takes it.",
    )

    @field_validator("customers")
    @classmethod
    def _once_each(cls, customers: list[CustomerStateIn]) -> list[CustomerStateIn]:
        return customers_once_each(customers)


class WorklistItem(BaseModel):
    """One thing to do: a contact (or review) of a customer about one or more invoices."""

    priority_rank: int = Field(description="Best collectors' rank among its invoices (1 first).")
    customer_id: str
    action_date: date
    action: ActionName
    channel: ChannelName | None
    actor: ActorName
    step: int | None
    template: str | None
    scenario: str
    invoice_ids: list[str]
    open_amount: float = Field(description="Open amount of its invoices (base currency).")
    expected_loss: float = Field(description="Expected loss of its invoices (base currency).")


class WorklistResponse(Freshness):
    model_version: str
    as_of: date = Field(description="As-of date of the portfolio the worklist comes from.")
    day: date
    currency: str
    total: int = Field(description="Items matching the filters.")
    page: int
    pages: int
    items: list[WorklistItem]
    warnings: list[str] = Field(
        default_factory=list, description="What the caller should know about this worklist."
    )


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
    model_problem: str | None = Field(
        None, description="Why the model is not the registry's champion (registry unreachable)."
    )
    snapshot_as_of: date | None
    snapshot_problem: str | None = Field(description="Why the latest snapshot file was not used.")
    models: list[TargetModel] = Field(
        default_factory=list, description="The model answering each target, and if it was learned."
    )


# --- the credit desk's record (payrisk.records) -------------------------------------------------
DecisionName = Literal[DECISIONS]  # type: ignore[valid-type]
# The record's own limits: a request the database could not hold is refused here first.
Condition = Annotated[str, Field(min_length=1, max_length=MAX_CONDITION)]


class CreditDecisionRequest(RequestModel):
    """A credit manager's decision on a credit request. The review is run again on the served
    model and snapshot, so the record holds the recommendation as computed, not as claimed."""

    customer_id: str = Field(pattern=ID_PATTERN, description="The customer asking for credit.")
    requested_amount: float = Field(ge=0.01, le=1e12, description="Amount reviewed.")
    terms_days: int = Field(30, ge=0, le=120, description="Payment terms reviewed, in days.")
    decision: DecisionName = Field(
        description="approve, approve_with_conditions or decline (a referral is a "
        "recommendation, not a decision)."
    )
    granted_amount: float | None = Field(
        None, ge=0, le=1e12, description="Amount granted; default: the request when approved."
    )
    granted_terms_days: int | None = Field(
        None, ge=0, le=120, description="Terms granted; never beyond the legal maximum."
    )
    credit_limit: float | None = Field(
        None, ge=0, le=1e12, description="The customer's new credit limit, if this sets one."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=MAX_CONDITIONS,
        description="Conditions of an approval with conditions; default: the review's.",
    )
    override_reason: str | None = Field(
        None,
        max_length=MAX_TEXT,
        description="Required when the decision departs from the recommendation or grants "
        "more than the most approvable amount.",
    )
    shown_recommendation: Recommendation | None = Field(
        None,
        description="The recommendation the credit manager saw; 409 if the review now says "
        "otherwise (model or snapshot changed since): review again.",
    )
    language: LanguageCode | None = Field(None, description="Language of the review's texts.")


class CreditDecisionRecord(BaseModel):
    id: int
    customer_id: str
    decided_at: datetime = Field(description="When it was recorded (UTC).")
    author: str = Field(description="The API key's name, or its id (never the key).")
    requested_amount: float
    terms_days: int
    recommendation: Recommendation = Field(description="What the review recommended.")
    decision: DecisionName
    override: bool = Field(description="The decision departs from the recommendation.")
    override_reason: str | None
    granted_amount: float | None
    granted_terms_days: int | None
    credit_limit: float | None = Field(description="The limit this decision set, if any.")
    conditions: list[str]
    late_probability: float
    default_probability: float
    exposure: float
    max_approvable_amount: float
    model_version: str
    snapshot_as_of: date
    snapshot_id: str | None


class CreditDecisionResponse(BaseModel):
    decision: CreditDecisionRecord
    warnings: list[str] = Field(description="The review's warnings (e.g. terms beyond the law).")


class CreditHistoryRequest(RequestModel):
    customer_id: str = Field(pattern=ID_PATTERN, description="The customer's id.")


class LimitRecord(BaseModel):
    set_at: datetime
    author: str
    credit_limit: float
    previous_limit: float | None = Field(description="The limit before (recorded or the data's).")
    decision_id: int | None


class NoteRecord(BaseModel):
    id: int
    written_at: datetime
    author: str
    text: str


class CreditHistoryResponse(BaseModel):
    customer_id: str
    current_limit: float | None = Field(description="The latest limit on record; None: none set.")
    decisions: list[CreditDecisionRecord] = Field(description="Newest first.")
    limits: list[LimitRecord] = Field(description="Limit history, newest first.")
    notes: list[NoteRecord] = Field(description="Newest first.")


class NoteRequest(RequestModel):
    customer_id: str = Field(pattern=ID_PATTERN, description="The customer the note is about.")
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="The note.")


class ProvisionsRequest(RequestModel):
    customer_id: str | None = Field(
        None, pattern=ID_PATTERN, description="Only this customer's invoices; default: all."
    )
    limit: int = Field(100, ge=1, le=10_000, description="Invoices listed, largest first.")


class InvoiceProvision(BaseModel):
    invoice_id: str
    customer_id: str
    days_past_due: int
    bucket: str = Field(description="Age bucket of the provision matrix, e.g. 90-179.")
    open_amount: float = Field(description="Open amount, VAT included (base currency).")
    net_amount: float = Field(description="Open amount net of VAT: what is provisioned.")
    matrix_rate: float = Field(description="The provision matrix's rate for its age.")
    model_rate: float = Field(description="P(default) x (1 - recovery rate).")
    rate: float = Field(description="The larger of the two.")
    provision: float = Field(description="net_amount x rate, rounded to the cent.")


class ProvisionsResponse(BaseModel):
    as_of: date = Field(description="The closing date: the portfolio bundle's as-of date.")
    model_version: str
    currency: str
    doubtful_after_days: int
    vat_rate: float
    recovery_rate: float
    total: float = Field(description="Sum of the provisions of every doubtful invoice selected.")
    doubtful_invoices: int = Field(description="Doubtful invoices selected (all, not only listed).")
    invoices: list[InvoiceProvision] = Field(description="Largest first, at most `limit`.")
