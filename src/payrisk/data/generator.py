"""Synthetic payment histories that behave like a real accounts-receivable ledger.

Models need signal to find and tests need data at scale, but real ledgers are personal data. The
generator simulates hidden customer archetypes (punctual, forgetful, slow, seasonal, deteriorating,
disputer), payment terms, disputes, partial payments, defaults and a dunning history: a logged
policy that, at each step of a scenario, draws a channel (or no contact) at random, played in the
world of payrisk.data.world where channels have a true causal effect that differs by archetype,
a courtesy reminder before the due date catches the forgetful, and fatigue dulls repeated
reminders. Steps are named functions (`generate_world`, `LoggedPolicy`, `World.dataset`), all
vectorised over customers and invoices. Dates are integer day numbers until the very end.

The rates are tuned to French late-payment figures (about 12.5 days late on average, a large
share of invoices past due, a few percent never paid). Measured on 2,000 customers x 3 years (mean
over 6 seeds, end 2026-10-31): 43% of paid invoices paid late, mean days past due of paid invoices
12.9 (negative = early), 2.5% in default (written off or open over 90 days past due), 3.0%
disputed. Change a constant below, measure again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, overload

import numpy as np
import pandas as pd

from payrisk.core.days import (
    NEVER,
    day_number,
    month_end,
    month_start,
    next_business_day,
    previous_business_day,
    to_dates,
    to_days,
)
from payrisk.data import world
from payrisk.data.contract import DATE_DTYPE, Channel
from payrisk.data.loading import Dataset
from payrisk.data.world import Actions, PlayState, WorldInvoices, play

DEFAULT_END_DATE = date(2026, 10, 31)
CURRENCY = "EUR"
DAYS_PER_YEAR = 365.25

# --- Customers ------------------------------------------------------------------------------------
ARCHETYPES: tuple[str, ...] = (
    "punctual",  # pays on time or a little early
    "forgetful",  # often forgets; pays within days of a soft reminder
    "slow",  # pays weeks late by habit; moved by phone calls and formal notices
    "seasonal",  # pays late when cash is short: summer and year-end
    "deteriorating",  # delays grow until the business fails and stops paying
    "disputer",  # disputes a large share of invoices, which delays payment
)
PUNCTUAL, FORGETFUL, SLOW, SEASONAL, DETERIORATING, DISPUTER = range(len(ARCHETYPES))
ARCHETYPE_SHARES = np.array([0.34, 0.20, 0.21, 0.10, 0.09, 0.06])

COUNTRIES = np.array(["FR", "DE", "ES", "IT", "BE", "NL", "LU", "PT", "CH"])
COUNTRY_SHARES = np.array([0.72, 0.07, 0.05, 0.05, 0.05, 0.03, 0.01, 0.01, 0.01])
# Legal forms by country, in the order of COUNTRIES; only used to make fake names look real.
LEGAL_FORMS: tuple[tuple[str, ...], ...] = (
    ("SARL", "SAS", "SA", "EURL", "SASU"),
    ("GmbH", "AG", "KG"),
    ("SL", "SA"),
    ("SRL", "SPA"),
    ("SRL", "SA", "BV"),
    ("BV", "NV"),
    ("SARL", "SA"),
    ("LDA", "SA"),
    ("AG", "GmbH", "SA"),
)
NAME_PREFIXES = np.array(
    ["Societe", "Etablissements", "Groupe", "Atelier", "Maison", "Compagnie", "Transports",
     "Garage", "Cabinet", "Boulangerie", "Distribution", "Batiment", "Menuiserie", "Imprimerie"]
)  # fmt: skip
NAME_FAMILIES = np.array(
    ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
     "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
     "Vincent", "Fournier", "Morel", "Girard", "Andre", "Mercier", "Dupont", "Lambert", "Bonnet",
     "Francois", "Martinez", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guerin"]
)  # fmt: skip
INDUSTRIES = np.array(
    ["manufacturing", "wholesale", "construction", "retail", "transport", "services", "hospitality"]
)
INDUSTRY_SHARES = np.array([0.18, 0.20, 0.17, 0.15, 0.08, 0.16, 0.06])

KEY_ACCOUNT_SHARE = 0.05  # strategic customers followed by a sales rep
KEY_ACCOUNT_AMOUNT_FACTOR = 6.0  # key accounts buy larger orders...
KEY_ACCOUNT_ACTIVITY_FACTOR = 2.0  # ...and more often
EXISTING_CUSTOMER_SHARE = 0.6  # already on the books when the history starts; the rest join later
EXISTING_CUSTOMER_MAX_AGE_YEARS = 12.0
CHURN_MEAN_YEARS = 7.0  # customers stop buying after an exponential time with this mean
INVOICES_PER_YEAR_MEDIAN = 10.0  # activity rate: log-normal over customers
INVOICES_PER_YEAR_SIGMA = 0.8
AMOUNT_MEDIAN = 1800.0  # EUR, median over customers of their typical invoice
CUSTOMER_AMOUNT_SIGMA = 1.0  # spread of typical invoice between customers (log scale)
INVOICE_AMOUNT_SIGMA = 0.6  # spread of invoices around a customer's typical one (log scale)
MIN_AMOUNT = 15.0
CREDIT_LIMIT_MONTHS = 3.0  # credit limit covers about this many months of expected purchases
CREDIT_LIMIT_ROUNDING = 1000.0

# Payment terms (French law: 30 days by default, at most 60 days or 45 days end of month).
PAYMENT_TERMS = ("30_days", "45_days_end_of_month", "60_days")
TERMS_30, TERMS_45_EOM, TERMS_60 = range(len(PAYMENT_TERMS))
PAYMENT_TERMS_SHARES = np.array([0.55, 0.25, 0.20])
KEY_ACCOUNT_TERMS_SHARES = np.array([0.20, 0.30, 0.50])  # large buyers negotiate longer terms

# Some customers pay in a month-end payment run: the run at the end of a month pays everything
# that would otherwise be paid up to this many days into the next month.
MONTH_END_RUN_SHARE = 0.15
MONTH_END_RUN_CATCH_DAYS = 20

# --- Natural payment delay (days after the due date, without any reminder) ------------------------
# Each customer has a habitual delay drawn once (mean, sd over customers); each invoice varies
# around it (sd within a customer). Indexed by archetype.
HABIT_DELAY_MEAN = np.array([-4.0, -3.0, 0.0, -4.0, 5.0, -4.0])
HABIT_DELAY_SD = np.array([2.0, 2.0, 0.0, 2.0, 4.0, 2.0])
INVOICE_DELAY_SD = np.array([1.5, 2.5, 0.0, 2.5, 5.0, 3.0])
PUNCTUAL_SLIP_PROBABILITY = 0.03  # even punctual payers slip now and then...
PUNCTUAL_SLIP_DAYS = (1, 30)  # ...by this many days
FORGET_PROBABILITY_RANGE = (0.20, 0.55)  # per forgetful customer: share of invoices forgotten
FORGOTTEN_DELAY_DAYS = (18, 80)  # a forgotten invoice is paid when noticed, if nobody reminds
SLOW_HABIT_DELAY_DAYS = (40.0, 100.0)  # slow payers' habitual delay, uniform over customers
SLOW_DELAY_SHAPE = 5.0  # gamma shape of a slow payer's delay around its habit
SQUEEZE_MONTHS = (7, 8, 12)  # seasonal cash squeeze: summer and year-end
SQUEEZE_EXTRA_DELAY_DAYS = (25, 65)
# Deteriorating customers fail on a day drawn between FAILURE_EARLIEST_DAYS after they become
# active and FAILURE_LATEST_AFTER_END_DAYS after the end of the history; over the DECLINE_DAYS
# before it, their delay grows quadratically up to DECLINE_MAX_EXTRA_DELAY days. From the failure
# day on they pay nothing (except what a reminder recovered before it).
FAILURE_EARLIEST_DAYS = 180
FAILURE_LATEST_AFTER_END_DAYS = 120
DECLINE_DAYS = 540
DECLINE_MAX_EXTRA_DELAY = 150.0
# In their last STRETCH_DAYS before failing, deteriorating customers order more on credit (they
# stretch their suppliers): extra invoices at this multiple of their usual rate.
STRETCH_DAYS = 240
STRETCH_EXTRA_RATE = 1.0
SUDDEN_FAILURE_PER_YEAR = 0.015  # other customers can fail too, without warning (SME failure rate)

# --- Disputes -------------------------------------------------------------------------------------
DISPUTE_PROBABILITY = np.array([0.012, 0.015, 0.02, 0.015, 0.02, 0.25])  # per invoice, by archetype
DISPUTE_RAISED_AFTER_DUE_DAYS = (-20, 12)  # disputes surface around the due date
DISPUTE_RESOLUTION_MEAN_DAYS = 50.0  # gamma, shape 2
DISPUTE_LOST_SHARE = 0.10  # the customer was right: never paid, passed to loss
DISPUTE_UNDISPUTED_PART_SHARE = 0.4  # customer pays the undisputed part on its usual date
DISPUTE_UNDISPUTED_FRACTION = (0.5, 0.9)

# --- Partial payments, defaults -------------------------------------------------------------------
INSTALMENT_PROBABILITY = np.array([0.03, 0.04, 0.15, 0.10, 0.30, 0.05])  # paid in 2-3 instalments
INSTALMENT_FRACTION = (0.15, 0.40)  # each early instalment's share of the amount
INSTALMENT_WINDOW_BEFORE_DUE_DAYS = 15  # instalments start at most this long before the due date
DEFAULT_PARTIAL_PAYMENT_SHARE = 0.4  # defaulted invoices with some money received before failure
DEFAULT_PAID_FRACTION = (0.10, 0.60)
DEFAULT_PARTIAL_WINDOW_AFTER_DUE_DAYS = 90
WRITE_OFF_SHARE = 0.85  # the rest of the defaults stay open (litigation, insolvency proceedings)
WRITE_OFF_AFTER_DUE_DAYS = (120, 240)


# --- Dunning --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DunningStep:
    """One step of the logged scenario: when it is due and which channels it may use.

    The channel is drawn at random at each step, and so is no contact at all: a natural
    experiment from which the channels' effects can be learned.
    """

    step: int
    after_due_days: tuple[int, int]  # sent this many days after the due date (inclusive range)
    channels: tuple[Channel, ...]
    channel_shares: tuple[float, ...]  # the rest of 1 is the share of no contact at that step

    @property
    def no_contact_share(self) -> float:
        return 1.0 - sum(self.channel_shares)


_EMAIL, _SMS, _PHONE, _LETTER = Channel.EMAIL, Channel.SMS, Channel.PHONE, Channel.LETTER
_FORMAL, _AGENCY = Channel.FORMAL_NOTICE, Channel.AGENCY
DUNNING_STEPS: tuple[DunningStep, ...] = (
    DunningStep(1, (-4, -4), (_EMAIL, _SMS), (0.3, 0.3)),  # courtesy reminder before due
    DunningStep(2, (5, 5), (_EMAIL, _SMS, _PHONE), (0.35, 0.3, 0.2)),
    DunningStep(
        3, (15, 15), (_EMAIL, _SMS, _PHONE, _LETTER, _FORMAL), (0.2, 0.15, 0.3, 0.15, 0.05)
    ),
    DunningStep(4, (30, 30), (_EMAIL, _PHONE, _LETTER, _FORMAL), (0.1, 0.3, 0.15, 0.25)),
    DunningStep(5, (45, 45), (_PHONE, _LETTER, _FORMAL, _AGENCY), (0.15, 0.15, 0.4, 0.1)),
    DunningStep(6, (75, 75), (_PHONE, _FORMAL, _AGENCY), (0.1, 0.2, 0.5)),
)
AGENCY_MIN_AMOUNT = 500.0  # a collection agency only for amounts worth its fees
# Key accounts get no formal notice or agency: the sales rep steps in.
KEY_ACCOUNT_EXCLUDED = (Channel.FORMAL_NOTICE, Channel.AGENCY)
CHANNEL_CODES: tuple[Channel, ...] = world.CHANNEL_CODES
RESPONSE_PROBABILITY = world.RESPONSE_PROBABILITY  # the hidden truth lives in payrisk.data.world
RESPONSE_LAG_DAYS = world.RESPONSE_LAG_DAYS


@dataclass(frozen=True)
class GroundTruth:
    """What the generator knows and a real ledger hides: for tests and model sanity checks.

    customers: customer_id, archetype, payment_terms, month_end_payer, habitual_delay_days,
    failure_date (NaT: does not fail). invoices: invoice_id, natural_paid_date (the payment date
    without any reminder; NaT: never), dispute_date (NaT: not disputed), defaulting (never paid in
    full, whatever the end date). reminders: invoice_id, sent_date, channel, step and `recent`
    (the customer's reminders in the fatigue window before it), in the order of the reminders
    table.
    """

    customers: pd.DataFrame
    invoices: pd.DataFrame
    reminders: pd.DataFrame | None = None


# --- Day arithmetic on int64 day numbers (payrisk.core.days) ------------------------------------
def _month(days: np.ndarray) -> np.ndarray:
    """Calendar month, 1-12."""
    return month_start(days).astype(np.int64) % 12 + 1


def _to_dates(days: np.ndarray, known: np.ndarray | None = None) -> pd.Series:
    """Day numbers to contract dates; NaT where not known (or never)."""
    return pd.Series(to_dates(days, known), dtype=DATE_DTYPE)


def _identifiers(prefix: str, count: int, width: int) -> pd.Series:
    """Sequential ids such as C000001, kept as text."""
    numbers = pd.Series(np.arange(1, count + 1), dtype="int64").astype("str")
    return (prefix + numbers.str.zfill(width)).astype("str")


def _uniform_days(rng: np.random.Generator, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """A day drawn uniformly in [low, high] per row (high >= low)."""
    return low + np.floor(rng.random(len(low)) * (high - low + 1)).astype(np.int64)


# --- Customers ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Customers:
    archetype: np.ndarray
    key_account: np.ndarray
    created_day: np.ndarray
    active_from: np.ndarray  # first day invoices can be issued
    active_until: np.ndarray  # last day invoices can be issued (churn, failure or end)
    failure_day: np.ndarray  # NEVER if the business does not fail
    invoices_per_year: np.ndarray
    typical_amount: np.ndarray
    terms: np.ndarray
    month_end_payer: np.ndarray
    habitual_delay: np.ndarray
    forget_probability: np.ndarray


def _draw_customers(
    rng: np.random.Generator, count: int, start_day: int, end_day: int, last_issue_day: int
) -> _Customers:
    """Customers opened up to `end_day`, buying up to `last_issue_day` (churn and failures)."""
    archetype = rng.choice(len(ARCHETYPES), size=count, p=ARCHETYPE_SHARES)
    key_account = rng.random(count) < KEY_ACCOUNT_SHARE
    existing = rng.random(count) < EXISTING_CUSTOMER_SHARE
    max_age_days = int(EXISTING_CUSTOMER_MAX_AGE_YEARS * DAYS_PER_YEAR)
    created_day = np.where(
        existing,
        start_day - rng.integers(0, max_age_days, size=count),
        rng.integers(start_day, end_day + 1, size=count),
    )
    active_from = np.maximum(created_day, start_day)
    churn_day = active_from + np.ceil(
        rng.exponential(CHURN_MEAN_YEARS * DAYS_PER_YEAR, size=count)
    ).astype(np.int64)

    deteriorating = archetype == DETERIORATING
    failure_window = (
        last_issue_day - active_from + FAILURE_LATEST_AFTER_END_DAYS - FAILURE_EARLIEST_DAYS
    )
    planned_failure = (
        active_from
        + FAILURE_EARLIEST_DAYS
        + np.floor(rng.random(count) * np.maximum(failure_window, 1)).astype(np.int64)
    )
    sudden_failure = active_from + np.ceil(
        rng.exponential(DAYS_PER_YEAR / SUDDEN_FAILURE_PER_YEAR, size=count)
    ).astype(np.int64)
    failure_day = np.where(deteriorating, planned_failure, sudden_failure)
    # A failure long after the history says nothing; keep day numbers bounded.
    failure_day = np.where(failure_day > last_issue_day + 10 * DAYS_PER_YEAR, NEVER, failure_day)
    active_until = np.minimum(np.minimum(churn_day, failure_day), last_issue_day)

    invoices_per_year = INVOICES_PER_YEAR_MEDIAN * rng.lognormal(
        0.0, INVOICES_PER_YEAR_SIGMA, size=count
    )
    invoices_per_year *= np.where(key_account, KEY_ACCOUNT_ACTIVITY_FACTOR, 1.0)
    typical_amount = AMOUNT_MEDIAN * rng.lognormal(0.0, CUSTOMER_AMOUNT_SIGMA, size=count)
    typical_amount *= np.where(key_account, KEY_ACCOUNT_AMOUNT_FACTOR, 1.0)
    terms = np.where(
        key_account,
        rng.choice(len(PAYMENT_TERMS), size=count, p=KEY_ACCOUNT_TERMS_SHARES),
        rng.choice(len(PAYMENT_TERMS), size=count, p=PAYMENT_TERMS_SHARES),
    )
    month_end_payer = rng.random(count) < MONTH_END_RUN_SHARE

    habitual_delay = rng.normal(HABIT_DELAY_MEAN[archetype], HABIT_DELAY_SD[archetype])
    slow_habit = rng.uniform(*SLOW_HABIT_DELAY_DAYS, size=count)
    habitual_delay = np.where(archetype == SLOW, slow_habit, habitual_delay)
    forget_probability = np.where(
        archetype == FORGETFUL, rng.uniform(*FORGET_PROBABILITY_RANGE, size=count), 0.0
    )
    return _Customers(
        archetype=archetype,
        key_account=key_account,
        created_day=created_day,
        active_from=active_from,
        active_until=active_until,
        failure_day=failure_day,
        invoices_per_year=invoices_per_year,
        typical_amount=typical_amount,
        terms=terms,
        month_end_payer=month_end_payer,
        habitual_delay=habitual_delay,
        forget_probability=forget_probability,
    )


def _customer_table(
    rng: np.random.Generator, customers: _Customers, customer_ids: pd.Series
) -> pd.DataFrame:
    count = len(customer_ids)
    country = rng.choice(len(COUNTRIES), size=count, p=COUNTRY_SHARES)
    industry = rng.choice(len(INDUSTRIES), size=count, p=INDUSTRY_SHARES)
    form_counts = np.array([len(forms) for forms in LEGAL_FORMS])
    flat_forms = np.array([form for forms in LEGAL_FORMS for form in forms])
    form_starts = np.concatenate([[0], np.cumsum(form_counts)[:-1]])
    form_pick = np.floor(rng.random(count) * form_counts[country]).astype(np.int64)
    legal_form = flat_forms[form_starts[country] + form_pick]
    prefix = NAME_PREFIXES[rng.integers(0, len(NAME_PREFIXES), count)]
    family = NAME_FAMILIES[rng.integers(0, len(NAME_FAMILIES), count)]
    name = pd.Series(prefix, dtype="str") + " " + family + " " + legal_form

    monthly_purchases = customers.invoices_per_year / 12.0 * customers.typical_amount
    credit_limit = (
        np.maximum(
            np.round(monthly_purchases * CREDIT_LIMIT_MONTHS / CREDIT_LIMIT_ROUNDING),
            1.0,
        )
        * CREDIT_LIMIT_ROUNDING
    )
    return pd.DataFrame(
        {
            "customer_id": customer_ids,
            "country": pd.Series(COUNTRIES[country], dtype="str"),
            "industry": pd.Series(INDUSTRIES[industry], dtype="str"),
            "credit_limit": credit_limit.astype("float64"),
            "created_date": _to_dates(customers.created_day),
            "key_account": customers.key_account.astype(bool),
            "name": name.astype("str"),  # personal data: never a feature
        }
    )


# --- Invoices -------------------------------------------------------------------------------------
def _due_days(issue_day: np.ndarray, terms: np.ndarray) -> np.ndarray:
    return np.select(
        [terms == TERMS_30, terms == TERMS_45_EOM],
        [issue_day + 30, month_end(issue_day + 45)],
        default=issue_day + 60,
    )


def _natural_delay(
    rng: np.random.Generator, customers: _Customers, owner: np.ndarray, due_day: np.ndarray
) -> np.ndarray:
    """Days from due date to payment if nobody ever reminds and nothing goes wrong."""
    count = len(owner)
    archetype = customers.archetype[owner]
    habit = customers.habitual_delay[owner]
    delay = habit + rng.normal(0.0, 1.0, size=count) * INVOICE_DELAY_SD[archetype]

    slips = rng.random(count) < PUNCTUAL_SLIP_PROBABILITY
    slip_days = rng.integers(PUNCTUAL_SLIP_DAYS[0], PUNCTUAL_SLIP_DAYS[1] + 1, size=count)
    delay = np.where((archetype == PUNCTUAL) & slips, delay + slip_days, delay)

    forgotten = rng.random(count) < customers.forget_probability[owner]
    forgotten_delay = rng.uniform(*FORGOTTEN_DELAY_DAYS, size=count)
    delay = np.where(forgotten, forgotten_delay, delay)

    slow_delay = habit * rng.gamma(SLOW_DELAY_SHAPE, 1.0 / SLOW_DELAY_SHAPE, size=count)
    delay = np.where(archetype == SLOW, slow_delay, delay)

    squeezed = np.isin(_month(due_day + np.round(delay).astype(np.int64)), SQUEEZE_MONTHS)
    squeeze_days = rng.uniform(*SQUEEZE_EXTRA_DELAY_DAYS, size=count)
    delay = np.where((archetype == SEASONAL) & squeezed, delay + squeeze_days, delay)

    days_to_failure = customers.failure_day[owner] - due_day
    decline = np.clip(1.0 - days_to_failure / DECLINE_DAYS, 0.0, 1.0)
    delay = np.where(
        archetype == DETERIORATING, delay + DECLINE_MAX_EXTRA_DELAY * decline**2, delay
    )
    return np.round(delay).astype(np.int64)


def _issue_days(rng: np.random.Generator, customers: _Customers) -> tuple[np.ndarray, np.ndarray]:
    """Invoices as (customer row, issue day): a Poisson number over the active window, issued
    uniformly on working days, plus the extra orders of deteriorating customers before failing."""
    first = customers.active_from
    last = customers.active_until
    stretch_from = np.maximum(first, customers.failure_day - STRETCH_DAYS)
    stretch_rate = np.where(
        customers.archetype == DETERIORATING, customers.invoices_per_year * STRETCH_EXTRA_RATE, 0.0
    )
    owners, days = [], []
    for low, high, rate in (
        (first, last, customers.invoices_per_year),
        (stretch_from, last, stretch_rate),
    ):
        window_days = np.maximum(high - low + 1, 0)
        counts = rng.poisson(rate * window_days / DAYS_PER_YEAR)
        owner = np.repeat(np.arange(len(first)), counts)
        owners.append(owner)
        days.append(_uniform_days(rng, low[owner], low[owner] + window_days[owner] - 1))
    owner = np.concatenate(owners)
    issue_day = np.maximum(previous_business_day(np.concatenate(days)), first[owner])
    return owner, issue_day


@dataclass(frozen=True)
class World:
    """A generated world: customers, invoices with their hidden behaviour, and the logged
    (random) dunning policy. `generate_history` plays it up to its end date; the policy
    simulator plays its later invoices once per policy."""

    seed: int
    start_day: int
    end_day: int  # the history's last day
    last_issue_day: int  # invoices are issued up to this day (after end_day: the future)
    customers: _Customers
    customer_ids: pd.Series
    invoice_ids: pd.Series
    invoices: WorldInvoices
    disputed: np.ndarray
    dispute_resolved_day: np.ndarray  # when a dispute is settled (NEVER: not disputed)
    before_dispute: np.ndarray  # when the undisputed part would have been paid
    write_off_delay: np.ndarray  # days after due at which an unpaid invoice is written off
    written_off: np.ndarray  # whether an unpaid invoice is written off (or stays open)

    def logged_policy(self) -> LoggedPolicy:
        return LoggedPolicy(self.invoices, np.random.default_rng([self.seed, 1]))

    def play_logged(self, until: int) -> PlayState:
        """The logged policy over every invoice, from the start up to `until`."""
        return play(self.invoices, self.logged_policy(), self.start_day, until)

    def dataset(self, state: PlayState, end_day: int) -> Dataset:
        """The ledger of a play as known at the end of `end_day`, in the contract's types."""
        return _tables(self, state, end_day)

    def truth(self, state: PlayState) -> GroundTruth:
        return _truth(self, state)


def generate_world(
    n_customers: int,
    years: float,
    seed: int,
    end_date: date = DEFAULT_END_DATE,
    *,
    future_days: int = 0,
) -> World:
    """Customers and invoices of `years` up to `end_date`, and `future_days` more of invoices.

    Pure: the same arguments give the same world; randomness comes only from `seed`.
    """
    if n_customers < 1:
        raise ValueError("n_customers must be at least 1")
    if not years > 0:
        raise ValueError("years must be positive")
    rng = np.random.default_rng(seed)
    end_day = day_number(end_date)
    start_day = end_day - round(years * DAYS_PER_YEAR) + 1
    last_issue_day = end_day + max(int(future_days), 0)

    customers = _draw_customers(rng, n_customers, start_day, end_day, last_issue_day)
    # Customer numbers follow account opening, as in a real ledger.
    customer_order = np.lexsort((np.arange(n_customers), customers.created_day))
    customers = _Customers(**{k: v[customer_order] for k, v in vars(customers).items()})
    owner, issue_day, due_day, amount_cents = _draw_invoices(rng, customers)
    natural = _natural_payment(rng, customers, owner, issue_day, due_day)
    count = len(owner)
    invoices = WorldInvoices(
        customer=owner,
        archetype=customers.archetype[owner],
        key_account=customers.key_account[owner],
        issue_day=issue_day,
        due_day=due_day,
        amount_cents=amount_cents,
        natural_day=natural["planned"],
        dispute_day=natural["dispute_day"],
        failure_day=customers.failure_day[owner],
        response_draw=rng.random((count, world.MAX_REMINDERS)),
        lag_draw=rng.random((count, world.MAX_REMINDERS)),
        # Their own stream: the worlds drawn before promises existed stay the same.
        promise_draw=np.random.default_rng([seed, 2]).random((count, world.MAX_REMINDERS, 3)),
    )
    return World(
        seed=seed,
        start_day=start_day,
        end_day=end_day,
        last_issue_day=last_issue_day,
        customers=customers,
        customer_ids=_identifiers("C", n_customers, 6),
        invoice_ids=_identifiers("INV", count, 7),
        invoices=invoices,
        disputed=natural["disputed"],
        dispute_resolved_day=natural["dispute_resolved_day"],
        before_dispute=natural["before_dispute"],
        write_off_delay=rng.integers(
            WRITE_OFF_AFTER_DUE_DAYS[0], WRITE_OFF_AFTER_DUE_DAYS[1] + 1, size=count
        ),
        written_off=rng.random(count) < WRITE_OFF_SHARE,
    )


def _draw_invoices(
    rng: np.random.Generator, customers: _Customers
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Owner, issue day, due day and amount (cents) of each invoice, in chronological order."""
    owner, issue_day = _issue_days(rng, customers)
    invoice_order = np.lexsort((owner, issue_day))  # invoice numbers are chronological too
    owner, issue_day = owner[invoice_order], issue_day[invoice_order]
    amount_cents = np.round(
        customers.typical_amount[owner]
        * rng.lognormal(-(INVOICE_AMOUNT_SIGMA**2) / 2, INVOICE_AMOUNT_SIGMA, size=len(owner))
        * 100
    ).astype(np.int64)
    amount_cents = np.maximum(amount_cents, int(MIN_AMOUNT * 100))
    return owner, issue_day, _due_days(issue_day, customers.terms[owner]), amount_cents


def _natural_payment(
    rng: np.random.Generator,
    customers: _Customers,
    owner: np.ndarray,
    issue_day: np.ndarray,
    due_day: np.ndarray,
) -> dict[str, np.ndarray]:
    """The payment day without any reminder (habit, month-end runs, working days, disputes,
    failures), and the disputes."""
    count = len(owner)
    archetype = customers.archetype[owner]
    planned = due_day + _natural_delay(rng, customers, owner, due_day)
    planned = np.maximum(planned, issue_day)
    in_run = customers.month_end_payer[owner]
    run_day = np.maximum(month_end(planned - MONTH_END_RUN_CATCH_DAYS), issue_day)
    planned = next_business_day(np.where(in_run, run_day, planned))
    planned = np.maximum(planned, issue_day + 1)

    # Disputes: raised around the due date (before the customer would have paid), resolved weeks
    # later; a few are lost.
    disputed = rng.random(count) < DISPUTE_PROBABILITY[archetype]
    raised = due_day + rng.integers(
        DISPUTE_RAISED_AFTER_DUE_DAYS[0], DISPUTE_RAISED_AFTER_DUE_DAYS[1] + 1, size=count
    )
    raised = np.maximum(np.minimum(raised, planned - 1), issue_day + 1)
    resolution = np.ceil(rng.gamma(2.0, DISPUTE_RESOLUTION_MEAN_DAYS / 2.0, size=count))
    resolved_day = next_business_day(raised + resolution.astype(np.int64))
    lost = disputed & (rng.random(count) < DISPUTE_LOST_SHARE)
    before_dispute = planned.copy()
    planned = np.where(disputed, np.maximum(planned, resolved_day), planned)
    planned = np.where(lost, NEVER, planned)
    # Failures: from the failure day on, nothing more is paid.
    planned = np.where(planned >= customers.failure_day[owner], NEVER, planned)
    return {
        "planned": planned,
        "disputed": disputed,
        "dispute_day": np.where(disputed, raised, NEVER),
        "dispute_resolved_day": np.where(disputed, resolved_day, NEVER),
        "before_dispute": before_dispute,
    }


class LoggedPolicy:
    """The dunning history's policy: each step of DUNNING_STEPS on a day drawn in its range, on
    a channel drawn at random (or no contact). Key accounts never get a formal notice or the
    agency; the agency only for amounts worth its fees."""

    def __init__(self, invoices: WorldInvoices, rng: np.random.Generator) -> None:
        count = len(invoices)
        rows, days, channels, steps = [], [], [], []
        for step in DUNNING_STEPS:
            low, high = step.after_due_days
            day = next_business_day(invoices.due_day + rng.integers(low, high + 1, size=count))
            codes = np.array([CHANNEL_CODES.index(c) for c in step.channels] + [world.NO_CHANNEL])
            shares = np.array([*step.channel_shares, step.no_contact_share])
            channel = codes[rng.choice(len(codes), size=count, p=shares / shares.sum())]
            allowed = channel >= 0
            hard = np.isin(channel, [CHANNEL_CODES.index(c) for c in KEY_ACCOUNT_EXCLUDED])
            allowed &= ~(hard & invoices.key_account)
            agency = channel == CHANNEL_CODES.index(Channel.AGENCY)
            allowed &= ~agency | (invoices.amount_cents >= AGENCY_MIN_AMOUNT * 100)
            row = np.flatnonzero(allowed)
            rows.append(row)
            days.append(day[row])
            channels.append(channel[row])
            steps.append(np.full(len(row), step.step, dtype=np.int64))
        day = np.concatenate(days)
        order = np.argsort(day, kind="stable")
        self.actions = Actions(
            np.concatenate(rows)[order],
            day[order],
            np.concatenate(channels)[order],
            np.concatenate(steps)[order],
        )

    def __call__(self, state: PlayState, start: int, end: int) -> Actions:
        low, high = np.searchsorted(self.actions.day, [start, end])
        return Actions(
            self.actions.rows[low:high],
            self.actions.day[low:high],
            self.actions.channel[low:high],
            self.actions.step[low:high],
        )


@overload
def generate_history(
    n_customers: int,
    years: float,
    seed: int,
    end_date: date = DEFAULT_END_DATE,
    *,
    return_truth: Literal[False] = False,
) -> Dataset: ...


@overload
def generate_history(
    n_customers: int,
    years: float,
    seed: int,
    end_date: date = DEFAULT_END_DATE,
    *,
    return_truth: Literal[True],
) -> tuple[Dataset, GroundTruth]: ...


def generate_history(
    n_customers: int,
    years: float,
    seed: int,
    end_date: date = DEFAULT_END_DATE,
    *,
    return_truth: bool = False,
) -> Dataset | tuple[Dataset, GroundTruth]:
    """A synthetic payment history of `years` up to `end_date`, in the contract's types.

    Pure: the same arguments give identical frames; randomness comes only from `seed`. With
    `return_truth`, also the hidden archetypes and per-invoice counterfactuals (`GroundTruth`).
    """
    generated = generate_world(n_customers, years, seed, end_date)
    state = generated.play_logged(generated.end_day)
    dataset = generated.dataset(state, generated.end_day)
    if not return_truth:
        return dataset
    return dataset, generated.truth(state)


def _tables(generated: World, state: PlayState, end_day: int) -> Dataset:
    """Invoices, payments, customers and reminders of a play, as known at the end of `end_day`."""
    rng = np.random.default_rng([generated.seed, 2])  # the same draws for every play
    invoices = generated.invoices
    issued = invoices.issue_day <= end_day
    paid_day = state.paid_day
    defaulting = paid_day == NEVER
    write_off_day = np.where(
        defaulting & generated.written_off,
        next_business_day(invoices.due_day + generated.write_off_delay),
        NEVER,
    )
    payment_rows, payment_day, payment_cents = _payments(
        rng,
        archetype=invoices.archetype,
        issue_day=invoices.issue_day,
        due_day=invoices.due_day,
        paid_day=paid_day,
        before_dispute=generated.before_dispute,
        disputed=generated.disputed,
        amount_cents=invoices.amount_cents,
        failure_day=invoices.failure_day,
        write_off_day=write_off_day,
        end_day=end_day,
    )
    customers = _customer_table(rng, generated.customers, generated.customer_ids)
    rows = np.flatnonzero(issued)
    invoice_ids = generated.invoice_ids
    invoice_table = pd.DataFrame(
        {
            "invoice_id": invoice_ids.take(rows).reset_index(drop=True),
            "customer_id": generated.customer_ids.take(invoices.customer[rows]).reset_index(
                drop=True
            ),
            "issue_date": _to_dates(invoices.issue_day[rows]),
            "due_date": _to_dates(invoices.due_day[rows]),
            "amount": invoices.amount_cents[rows] / 100.0,
            "currency": pd.Series(np.full(len(rows), CURRENCY), dtype="str"),
            "paid_date": _to_dates(paid_day[rows], paid_day[rows] <= end_day),
            "disputed": generated.disputed[rows] & (invoices.dispute_day[rows] <= end_day),
            "written_off_date": _to_dates(write_off_day[rows], write_off_day[rows] <= end_day),
            "dispute_date": _to_dates(
                invoices.dispute_day[rows], invoices.dispute_day[rows] <= end_day
            ),
            "dispute_resolved_date": _to_dates(
                generated.dispute_resolved_day[rows],
                generated.disputed[rows]
                & (invoices.dispute_day[rows] <= end_day)
                & (generated.dispute_resolved_day[rows] <= end_day),
            ),
        }
    )
    payment_table = pd.DataFrame(
        {
            "invoice_id": invoice_ids.take(payment_rows).reset_index(drop=True),
            "payment_date": _to_dates(payment_day),
            "amount": payment_cents / 100.0,
        }
    )
    reminders = _reminder_table(state.reminders(), invoice_ids, end_day)[0]
    dunning = _dunning_state_tables(
        np.random.default_rng([generated.seed, 3]), invoice_table, payment_table, reminders, end_day
    )
    customers.insert(  # a contract column: before the extra ones (names)
        customers.columns.get_loc("key_account") + 1,
        "direct_debit",
        customers["customer_id"].isin(dunning.pop("direct_debit")),
    )
    return Dataset(
        invoices=invoice_table,
        payments=payment_table,
        customers=customers,
        reminders=reminders,
        **dunning,
    )


HOLD_REASONS = ("negotiation", "holiday", "legal review", "awaiting credit note")


def _dunning_state_tables(
    rng: np.random.Generator,
    invoices: pd.DataFrame,
    payments: pd.DataFrame,
    reminders: pd.DataFrame,
    end_day: int,
) -> dict:
    """What a collection tool records beside the ledger, drawn from the ledger's own story:
    promises to pay made after a phone call (kept when the payment came by the promised date:
    a little over half), payment plans for invoices settled in several payments (their payments
    as instalments) and for some long-overdue open invoices (future instalments), holds of a few
    customers (some active at the end), and direct debit for a third of the customers who seldom
    paid late. A separate random stream: the ledger's own draws are unchanged."""
    due = to_days(invoices["due_date"])
    paid = to_days(invoices["paid_date"])
    issue = to_days(invoices["issue_date"])

    # Promises: a phone reminder; the customer names a date. Those who pay soon name a date
    # just after their payment (kept), the others one before it (broken).
    calls = reminders.loc[reminders["channel"] == "phone"].drop_duplicates("invoice_id")
    calls = calls.loc[rng.random(len(calls)) < 0.5]
    row = pd.Index(invoices["invoice_id"]).get_indexer(calls["invoice_id"])
    made = to_days(calls["sent_date"])
    open_after = paid[row] > made
    made, row = made[open_after], row[open_after]
    keeps = rng.random(len(row)) < 0.68
    lead = rng.integers(3, 15, len(row))
    paid_at = paid[row]
    promised = np.where(
        keeps & (paid_at < NEVER),
        np.maximum(paid_at + rng.integers(0, 3, len(row)), made + 1),
        made + lead,
    )
    promised = np.where(~keeps & (paid_at < NEVER), np.minimum(promised, paid_at - 1), promised)
    good = promised > made
    promises = pd.DataFrame(
        {
            "invoice_id": invoices["invoice_id"].to_numpy()[row[good]],
            "made_date": _to_dates(made[good]),
            "promised_date": _to_dates(promised[good]),
            "amount": np.full(good.sum(), np.nan),
        }
    )

    # Payment plans: invoices settled in three or more payments, and some open invoices more
    # than 45 days past due (three monthly instalments from a week after the end).
    counts = payments.groupby("invoice_id")["amount"].transform("size")
    spread = payments.loc[counts >= 3].copy()
    spread = spread.loc[spread["invoice_id"].isin(
        spread["invoice_id"].drop_duplicates().sample(frac=0.5, random_state=rng.integers(1 << 31))
    )]  # fmt: skip
    spread["due_date"] = spread["payment_date"]
    spread = spread.drop_duplicates(["invoice_id", "due_date"])
    first = spread.groupby("invoice_id")["payment_date"].transform("min")
    at = pd.Index(invoices["invoice_id"]).get_indexer(spread["invoice_id"])
    agreed = np.maximum(to_days(first) - 3, issue[at])
    past = spread.assign(agreed_date=_to_dates(agreed).to_numpy())[
        ["invoice_id", "agreed_date", "due_date", "amount"]
    ]
    overdue = np.flatnonzero((paid > end_day) & (due < end_day - 45))
    overdue = overdue[rng.random(len(overdue)) < 0.3]
    amount = invoices["amount"].to_numpy()[overdue]
    future = pd.DataFrame(
        {
            "invoice_id": np.repeat(invoices["invoice_id"].to_numpy()[overdue], 3),
            "agreed_date": _to_dates(np.repeat(np.full(len(overdue), end_day - 5), 3)),
            "due_date": _to_dates(
                np.repeat(np.full(len(overdue), end_day + 7), 3)
                + np.tile([0, 30, 60], len(overdue))
            ),
            "amount": np.round(np.repeat(amount / 3, 3), 2),
        }
    )
    plans = pd.concat([past, future], ignore_index=True)

    # Holds: a few customers paused for a while, some over the end of the history.
    customer_ids = invoices["customer_id"].drop_duplicates().to_numpy()
    held = customer_ids[rng.random(len(customer_ids)) < 0.04]
    start = rng.integers(int(issue.min()), end_day + 1, len(held))
    start = np.where(rng.random(len(held)) < 0.5, end_day - rng.integers(0, 10, len(held)), start)
    holds = pd.DataFrame(
        {
            "customer_id": pd.Series(held, dtype="str"),
            "invoice_id": pd.Series([None] * len(held), dtype="str"),
            "start_date": _to_dates(start),
            "until_date": _to_dates(start + rng.integers(5, 30, len(held))),
            "reason": pd.Series(rng.choice(HOLD_REASONS, len(held)), dtype="str"),
        }
    )

    # Direct debit: a third of the customers who seldom paid late (under 15% of invoices).
    late = invoices.assign(late=(paid > due) & (paid < NEVER)).groupby("customer_id")["late"]
    punctual = late.mean().index[late.mean().to_numpy() < 0.15].to_numpy()
    debit = punctual[rng.random(len(punctual)) < 0.33]
    return {
        "promises": promises,
        "payment_plans": plans,
        "holds": holds,
        "direct_debit": set(debit.tolist()),
    }


def _truth(generated: World, state: PlayState) -> GroundTruth:
    customers, invoices = generated.customers, generated.invoices
    reminders, sent = _reminder_table(state.reminders(), generated.invoice_ids, generated.end_day)
    truth_reminders = reminders.copy()
    truth_reminders["recent"] = sent["recent"]
    return GroundTruth(
        customers=pd.DataFrame(
            {
                "customer_id": generated.customer_ids,
                "archetype": pd.Series(np.array(ARCHETYPES)[customers.archetype], dtype="str"),
                "payment_terms": pd.Series(np.array(PAYMENT_TERMS)[customers.terms], dtype="str"),
                "month_end_payer": customers.month_end_payer,
                "habitual_delay_days": customers.habitual_delay,
                "failure_date": _to_dates(customers.failure_day),
            }
        ),
        invoices=pd.DataFrame(
            {
                "invoice_id": generated.invoice_ids,
                "natural_paid_date": _to_dates(invoices.natural_day),
                "dispute_date": _to_dates(invoices.dispute_day),
                "defaulting": state.paid_day == NEVER,
            }
        ),
        reminders=truth_reminders,
    )


def _payments(
    rng: np.random.Generator,
    *,
    archetype: np.ndarray,
    issue_day: np.ndarray,
    due_day: np.ndarray,
    paid_day: np.ndarray,
    before_dispute: np.ndarray,
    disputed: np.ndarray,
    amount_cents: np.ndarray,
    failure_day: np.ndarray,
    write_off_day: np.ndarray,
    end_day: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Payment rows (invoice row, day, cents), the last one on the paid day; none after the end.

    Paid invoices: the full amount, sometimes in 2-3 instalments, or the undisputed part first.
    Defaulted invoices: sometimes part of the amount before the failure or write-off.
    """
    count = len(paid_day)
    paid = paid_day < NEVER

    # Up to two early payments per invoice ("slots"), then the final one for paid invoices.
    undisputed_first = (
        paid
        & disputed
        & (before_dispute < paid_day)
        & (rng.random(count) < DISPUTE_UNDISPUTED_PART_SHARE)
    )
    undisputed_fraction = rng.uniform(*DISPUTE_UNDISPUTED_FRACTION, size=count)

    instalments = paid & ~undisputed_first & (rng.random(count) < INSTALMENT_PROBABILITY[archetype])
    extra_slots = np.where(instalments, rng.integers(1, 3, size=count), 0)
    window_low = np.maximum(issue_day + 1, due_day - INSTALMENT_WINDOW_BEFORE_DUE_DAYS)
    window_high = paid_day - 1
    fractions = rng.uniform(*INSTALMENT_FRACTION, size=(2, count))

    partial_default = ~paid & (rng.random(count) < DEFAULT_PARTIAL_PAYMENT_SHARE)
    default_high = np.minimum(
        np.minimum(failure_day, write_off_day) - 1, due_day + DEFAULT_PARTIAL_WINDOW_AFTER_DUE_DAYS
    )
    default_low = np.maximum(issue_day + 1, due_day - INSTALMENT_WINDOW_BEFORE_DUE_DAYS)
    default_slots = rng.integers(1, 3, size=count)
    default_fraction = rng.uniform(*DEFAULT_PAID_FRACTION, size=count)

    slot_days = []
    slot_cents = []
    slot_used = []
    for slot in range(2):
        day = np.where(
            partial_default,
            _uniform_days(rng, default_low, np.maximum(default_high, default_low)),
            _uniform_days(rng, window_low, np.maximum(window_high, window_low)),
        )
        cents = np.floor(amount_cents * fractions[slot]).astype(np.int64)
        used = instalments & (extra_slots > slot) & (window_high >= window_low)
        if slot == 0:
            day = np.where(undisputed_first, before_dispute, day)
            cents = np.where(
                undisputed_first, np.floor(amount_cents * undisputed_fraction), cents
            ).astype(np.int64)
            used |= undisputed_first
        default_cents = np.floor(amount_cents * default_fraction / default_slots).astype(np.int64)
        in_default = partial_default & (default_slots > slot) & (default_high >= default_low)
        cents = np.where(partial_default, default_cents, cents)
        used |= in_default
        slot_days.append(day)
        slot_cents.append(np.where(used, cents, 0))
        slot_used.append(used & (cents > 0))

    final_cents = amount_cents - slot_cents[0] - slot_cents[1]
    rows = np.concatenate([np.flatnonzero(slot_used[0]), np.flatnonzero(slot_used[1])])
    days = np.concatenate([slot_days[0][slot_used[0]], slot_days[1][slot_used[1]]])
    cents = np.concatenate([slot_cents[0][slot_used[0]], slot_cents[1][slot_used[1]]])
    final_rows = np.flatnonzero(paid)
    rows = np.concatenate([rows, final_rows])
    days = np.concatenate([days, paid_day[final_rows]])
    cents = np.concatenate([cents, final_cents[final_rows]])

    known = days <= end_day
    rows, days, cents = rows[known], days[known], cents[known]
    order = np.lexsort((rows, days))
    return rows[order], days[order], cents[order]


def _reminder_table(
    log: dict[str, np.ndarray], invoice_ids: pd.Series, end_day: int
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The reminders table (sent up to `end_day`, by date), and the log rows in its order."""
    sent = log["day"] <= end_day
    order = np.flatnonzero(sent)
    order = order[np.lexsort((log["step"][order], log["row"][order], log["day"][order]))]
    ordered = {name: values[order] for name, values in log.items()}
    channel_names = np.array([c.value for c in CHANNEL_CODES])
    table = pd.DataFrame(
        {
            "invoice_id": invoice_ids.take(ordered["row"]).reset_index(drop=True),
            "sent_date": _to_dates(ordered["day"]),
            "channel": pd.Series(channel_names[ordered["channel"]], dtype="str"),
            "step": pd.Series(ordered["step"], dtype="Int64"),
        }
    )
    return table, ordered


def expected_invoices_per_customer(years: float) -> float:
    """Mean number of invoices of one customer over `years` (churn included, failures not)."""
    mean_rate = INVOICES_PER_YEAR_MEDIAN * np.exp(INVOICES_PER_YEAR_SIGMA**2 / 2)
    mean_rate *= 1.0 + KEY_ACCOUNT_SHARE * (KEY_ACCOUNT_ACTIVITY_FACTOR - 1.0)
    churn, length = CHURN_MEAN_YEARS, years
    survival = 1.0 - np.exp(-length / churn)
    existing_years = churn * survival  # E[min(length, churn time)]
    newcomer_years = churn - churn**2 / length * survival  # joined uniformly during the history
    mean_years = (
        EXISTING_CUSTOMER_SHARE * existing_years + (1 - EXISTING_CUSTOMER_SHARE) * newcomer_years
    )
    return float(mean_rate * mean_years)


def customers_for_invoices(n_invoices: int, years: float) -> int:
    """Number of customers that gives about `n_invoices` invoices over `years`."""
    if n_invoices < 1 or not years > 0:
        raise ValueError("n_invoices and years must be positive")
    return max(1, round(n_invoices / expected_invoices_per_customer(years)))
