"""The dunning policy's typed configuration (configs/dunning.yaml): scenarios, segments, contact
rules, escalation, credit review. Loaded once per command by the catalog and passed down."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, Field, field_validator, model_validator

from payrisk.core.config import StrictModel, default_config, load_config
from payrisk.core.i18n import DEFAULT_LANGUAGE, Language
from payrisk.data.contract import CHANNELS, CURRENCY_CODES
from payrisk.data.terms import LegalTerms
from payrisk.policy.provisions import ProvisionRules
from payrisk.policy.workdays import PUBLIC_HOLIDAYS, WEEKDAYS, business_calendar

ACTORS = ("automatic", "collector", "sales_rep", "credit_manager")


def _known_channel(value: str) -> str:
    if value not in CHANNELS:
        raise ValueError(f"unknown channel {value!r}; use one of {list(CHANNELS)}")
    return value


Channel = Annotated[str, AfterValidator(_known_channel)]  # a step's, a nudge's


class DunningStep(StrictModel):
    offset_days: int = Field(ge=-60, le=720, description="Days relative to the due date.")
    channel: Channel
    template: str = Field(min_length=1)
    actor: str

    @field_validator("actor")
    @classmethod
    def _known_actor(cls, value: str) -> str:
        if value not in ACTORS:
            raise ValueError(f"unknown actor {value!r}; use one of {list(ACTORS)}")
        return value


class Scenario(StrictModel):
    description: str = ""
    steps: tuple[DunningStep, ...] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _in_order(cls, steps: tuple[DunningStep, ...]) -> tuple[DunningStep, ...]:
        offsets = [s.offset_days for s in steps]
        if offsets != sorted(offsets) or len(set(offsets)) != len(offsets):
            raise ValueError("steps must be in strictly increasing offset_days order")
        # The escalation ladder (policy/ladder.py): reminders, then the formal notice, then the
        # agency; the plan would never follow a scenario written otherwise.
        notice = False
        for k, step in enumerate(steps):
            if step.channel == "formal_notice" and k == 0:
                raise ValueError("step 1: a formal notice is never the first contact")
            if step.channel == "agency" and not notice:
                raise ValueError(
                    f"step {k + 1}: the agency comes only after a formal_notice step "
                    "(reminders, then the formal notice, then legal action)"
                )
            notice |= step.channel == "formal_notice"
        return steps


class SegmentRule(StrictModel):
    """Conditions on a customer's amount-weighted risk; all given ones must hold."""

    scenario: str
    min_late_probability: float | None = Field(None, ge=0, le=1)
    max_late_probability: float | None = Field(None, ge=0, le=1)
    min_default_probability: float | None = Field(None, ge=0, le=1)
    max_default_probability: float | None = Field(None, ge=0, le=1)
    min_expected_days_late: float | None = None
    max_expected_days_late: float | None = None
    min_open_amount: float | None = Field(None, ge=0)
    max_open_amount: float | None = Field(None, ge=0)
    key_account: bool | None = None


class ContactRules(StrictModel):
    min_days_between_contacts: int = Field(5, ge=0, le=90)


class WorkingCalendar(StrictModel):
    """When collectors work: every planned action moves to the next working day."""

    working_days: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = Field(
        ("mon", "tue", "wed", "thu", "fri"), min_length=1, description="Weekdays worked."
    )
    public_holidays: Literal["FR"] | None = Field(
        "FR", description="Country whose public holidays are closed (null: none)."
    )
    holidays: tuple[date, ...] = Field((), description="The company's own closing days.")

    @field_validator("working_days")
    @classmethod
    def _once_each(cls, days: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(days)) != len(days):
            raise ValueError("a weekday is listed twice")
        return tuple(d for d in WEEKDAYS if d in days)

    @property
    def business_days(self) -> np.busdaycalendar:
        """numpy's calendar of these working days (built once per distinct calendar)."""
        return business_calendar(self.working_days, self.public_holidays, self.holidays)


assert set(PUBLIC_HOLIDAYS) == {"FR"}  # the Literal above lists the countries that have rules


class EscalationRules(StrictModel):
    """Agency or court only when the expected recovery covers the legal costs."""

    legal_costs: float = Field(1500.0, ge=0)
    recovery_rate: float = Field(0.6, gt=0, le=1)
    formal_notice_days: int = Field(
        8, ge=0, le=90, description="The formal notice's deadline: no legal step before it ends."
    )
    review_every_days: int = Field(
        30, ge=1, le=365, description="A review reported done comes back after this many days."
    )

    def expected_recovery(self, open_amount: Any, default_probability: Any) -> np.ndarray:
        """What legal action would bring back: open amount x P(default) x recovery rate."""
        return (
            np.asarray(open_amount, dtype="float64")
            * np.asarray(default_probability, dtype="float64")
            * self.recovery_rate
        )

    def worth_it(self, open_amount: Any, default_probability: Any) -> np.ndarray:
        """Where the agency may be called: the expected recovery exceeds the legal costs (the
        rules table, the learned policy and the simulator's policies alike)."""
        return self.expected_recovery(open_amount, default_probability) > self.legal_costs


class CreditReviewRules(StrictModel):
    decline_default_probability: float = Field(0.35, gt=0, le=1)
    refer_default_probability: float = Field(0.15, gt=0, le=1)
    conditions_late_probability: float = Field(0.5, gt=0, le=1)
    shorter_terms_days: int = Field(30, ge=0, le=120)
    deposit_share: float = Field(0.3, ge=0, le=1)
    refer_over_credit_limit: bool = True
    new_customer_deposit_over_amount: float = Field(20000.0, ge=0)
    refer_new_customer_over_amount: float | None = Field(
        50000.0,
        ge=0,
        description="A new customer (no payment history) asking for more goes to a credit "
        "manager, and the most approvable within policy stops there; null: no such rule.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> CreditReviewRules:
        if self.refer_default_probability > self.decline_default_probability:
            raise ValueError(
                "refer_default_probability must not exceed decline_default_probability"
            )
        return self


def _currency_code(value: str) -> str:
    """An ISO 4217 code in capitals, or a clear error."""
    if value.upper() not in CURRENCY_CODES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return value.upper()


class CurrencyRules(StrictModel):
    """The currency amounts are scored and planned in, and how other currencies convert to it."""

    base: str = Field(
        "EUR", description="The model's currency (its training data's); policy amounts too."
    )
    rates: dict[str, float] = Field(
        default_factory=dict, description="Value of one unit of a currency in `base`."
    )

    @field_validator("base")
    @classmethod
    def _iso_base(cls, value: str) -> str:
        return _currency_code(value)

    @field_validator("rates")
    @classmethod
    def _iso_rates(cls, rates: dict[str, float]) -> dict[str, float]:
        for code, rate in rates.items():
            _currency_code(code)
            if not 0 < rate < 1e9:
                raise ValueError(f"rate of {code} must be a positive number")
        return {code.upper(): float(rate) for code, rate in rates.items()}

    def to_base(self, code: str) -> float:
        """Value of one unit of `code` in `base` (a code without a rate: KeyError)."""
        return 1.0 if code == self.base else self.rates[code]


class LossRules(StrictModel):
    """Expected loss = open amount x default probability x (1 - recovery rate)."""

    recovery_rate: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="Share of a defaulted amount recovered in the end; null: measured on the "
        "history (the share of past defaults' amount paid since).",
    )


class ChannelCosts(StrictModel):
    """What one contact costs on each channel (the invoices' currency)."""

    email: float = Field(0.05, ge=0)
    sms: float = Field(0.08, ge=0)
    phone: float = Field(4.0, ge=0, description="A few minutes of a collector's time.")
    letter: float = Field(1.5, ge=0)
    formal_notice: float = Field(8.0, ge=0, description="Registered letter with receipt.")
    agency: float = Field(40.0, ge=0, description="Opening a case, before its share.")
    agency_fee_share: float = Field(
        0.10, ge=0, le=1, description="The agency's share of the open amount it handles."
    )

    def of(self, channel: str, open_amount: np.ndarray | float = 0.0) -> np.ndarray | float:
        """The cost of one contact on `channel` for invoices of `open_amount`."""
        cost = getattr(self, channel)
        if channel == "agency":
            return cost + self.agency_fee_share * np.asarray(open_amount, dtype="float64")
        return cost + 0.0 * np.asarray(open_amount, dtype="float64")


class PolicySettings(StrictModel):
    """Which policy chooses the next contact, and what the learned one weighs."""

    mode: Literal["learned", "rules"] = Field(
        "learned",
        description="learned: channel and timing from the channel-effect models, inside the "
        "escalation rules; rules: the segment table. Rules stay the fallback where effects cannot"
        " be estimated (new customers, no overlap, a model without effect models).",
    )
    response_days: int = Field(
        7, ge=1, le=90, description="The window of 'paid after a reminder' the policy weighs."
    )
    cash_value_rate: float = Field(
        0.1,
        gt=0,
        le=1,
        description="What one unit of money paid within response_days instead of later is worth "
        "(financing cost of the delay), before the risk it removes: value of a contact = open "
        "amount x (this + default probability) x uplift, against the channel's cost.",
    )
    decision_offsets: tuple[int, ...] = Field(
        (-4, 5, 15, 30, 45, 75),
        min_length=1,
        description="Days relative to due at which the learned policy decides to contact or "
        "wait (the first one before the due date: the courtesy reminder).",
    )

    @field_validator("decision_offsets")
    @classmethod
    def _increasing(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        if list(values) != sorted(set(values)):
            raise ValueError("decision_offsets must be strictly increasing")
        return values


class PromiseRules(StrictModel):
    """How a promise to pay shapes dunning: nothing before the promised date but a nudge."""

    courtesy_days_before: int | None = Field(
        1,
        ge=1,
        le=30,
        description="A courtesy e-mail this many working days before the promised date (null: "
        "none).",
    )
    courtesy_channel: Channel = Field("email", description="The nudge's channel.")
    check_in_below: float = Field(
        0.5,
        ge=0,
        le=1,
        description="A promise whose predicted chance of being kept is below this gets a "
        "collector's check-in call before its date.",
    )
    check_in_days_before: int = Field(
        3, ge=1, le=30, description="Working days before the promised date of the check-in."
    )
    min_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="A promise of less than this share of what is left to pay does not pause "
        "dunning (the service warns, naming it): a token payment is not a promise.",
    )
    prior_strength: float = Field(
        4.0,
        gt=0,
        le=100,
        description="How many promises the portfolio's keeping rate counts for when a customer's "
        "own record is shrunk to it (the calibrated P(promise kept)).",
    )


class PenaltyRules(StrictModel):
    """Late-payment penalties carried by the actions that mention them (France by default)."""

    annual_rate: float = Field(
        0.0828,
        ge=0,
        le=1,
        description="Late-payment interest per year: the French minimum is three times the legal "
        "rate for professionals (2.76% from 2025-07-01: 8.28%); update it each semester, or put "
        "your terms' rate.",
    )
    indemnity: float = Field(
        40.0, ge=0, le=1e6, description="Fixed recovery indemnity per invoice (France: EUR 40)."
    )
    indemnity_currency: str = Field("EUR", description="Currency of the indemnity.")
    templates: tuple[str, ...] = Field(
        ("second_reminder_penalties", "formal_notice", "collection_agency"),
        description="Templates that mention penalties: their actions carry the amounts.",
    )

    @field_validator("indemnity_currency")
    @classmethod
    def _iso(cls, value: str) -> str:
        return _currency_code(value)


class DunningConfig(StrictModel):
    scenarios: dict[str, Scenario] = Field(min_length=1)
    segments: tuple[SegmentRule, ...] = Field(min_length=1)
    contact: ContactRules = ContactRules()
    calendar: WorkingCalendar = WorkingCalendar()
    escalation: EscalationRules = EscalationRules()
    credit_review: CreditReviewRules = CreditReviewRules()
    language: Language = Field(
        DEFAULT_LANGUAGE, description="Pages, report, reasons and files when nobody asks (en, fr)."
    )
    currencies: CurrencyRules = CurrencyRules()
    loss: LossRules = LossRules()
    costs: ChannelCosts = ChannelCosts()
    policy: PolicySettings = PolicySettings()
    promises: PromiseRules = PromiseRules()
    penalties: PenaltyRules = PenaltyRules()
    legal_terms: LegalTerms = LegalTerms()
    provisions: ProvisionRules = ProvisionRules()

    @model_validator(mode="after")
    def _segments_name_scenarios(self) -> DunningConfig:
        for index, rule in enumerate(self.segments):
            if rule.scenario not in self.scenarios:
                raise ValueError(
                    f"segments.{index}.scenario: {rule.scenario!r} is not a scenario "
                    f"(known: {sorted(self.scenarios)})"
                )
        last = self.segments[-1].model_dump(exclude={"scenario"}, exclude_none=True)
        if last:
            raise ValueError("the last segment must have no condition, so every customer gets one")
        indemnity = self.penalties.indemnity_currency
        if indemnity != self.currencies.base and indemnity not in self.currencies.rates:
            raise ValueError(
                f"penalties.indemnity_currency {indemnity} needs a rate in currencies.rates "
                f"(to {self.currencies.base}, the base currency)"
            )
        return self

    def indemnity_in_base(self) -> float:
        """The fixed recovery indemnity in the base currency (the one amounts are planned in)."""
        return self.penalties.indemnity * self.currencies.to_base(self.penalties.indemnity_currency)


def with_recovery_rate(config: DunningConfig, measured: float | None) -> DunningConfig:
    """The policy with its recovery rate resolved: the configured one, else `measured` (the
    history's), else none (expected loss = amount at risk)."""
    if config.loss.recovery_rate is not None:
        return config
    rate = 0.0 if measured is None or not 0 <= measured < 1 else round(float(measured), 4)
    return config.model_copy(update={"loss": LossRules(recovery_rate=rate)})


def recovery_rate(config: DunningConfig) -> float:
    """The resolved recovery rate (0 where nothing resolved it)."""
    return config.loss.recovery_rate or 0.0


def load_dunning_config(path: str | Path | None = None) -> DunningConfig:
    return load_config(path or default_config("dunning.yaml"), DunningConfig)
