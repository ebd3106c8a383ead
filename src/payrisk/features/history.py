"""What is known of a payment history at a moment, as event streams: the source of every feature.

Training, batch scoring and the online service all call `build_history`, then compute features
with `payrisk.features.definitions`.

How time is kept honest: the history is turned into *event streams* (`payrisk.features.streams`),
one row per thing that happened (an invoice issued, settled, crossing 30 days past due, a reminder
sent), each dated on the day it became known, with the running state of its customer (or invoice)
after the event. A feature at t is the state after the last event dated strictly before t.

Events that are certain in advance are dated when they happen, not when they became certain: an
open invoice "crosses 30 days past due" on due date + 30 whatever the as-of date. So a history built
at an as-of date also answers queries after it (what the online service does) exactly as it would
have been computed then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from payrisk.core.config import FeatureSettings, TargetSettings
from payrisk.core.days import NEVER, day_number, to_days
from payrisk.data.contract import CHANNELS, Channel
from payrisk.data.loading import Dataset
from payrisk.data.receivables import AGED_BUCKET_EDGES, settled_date
from payrisk.features.declared import UNKNOWN, DeclaredValues, declared_values
from payrisk.features.promises import PORTFOLIO_PROMISES, promise_outcomes, promise_streams
from payrisk.features.streams import Stream, build_stream, positions

EW_ORIGIN_DAY = day_number("2000-01-01")
HARD_CHANNELS = (Channel.FORMAL_NOTICE.value, Channel.AGENCY.value)
ATTRIBUTE_COLUMNS = ("country", "industry", "credit_limit", "created_date", "key_account")


@dataclass(frozen=True)
class History:
    """What is known of a payment history at `as_of`, ready for point-in-time lookups.

    It is the customer-history snapshot of the online service, and what training and batch scoring
    compute features from. Build it with `build_history`.
    """

    as_of: pd.Timestamp
    customer_ids: pd.Index
    invoice_ids: pd.Index
    customers: pd.DataFrame  # attributes, one row per customer that has some
    streams: dict[str, Stream] = field(default_factory=dict)
    declared: dict[str, DeclaredValues] = field(default_factory=dict)  # features.declared

    def compact(self) -> History:
        """Drop what no query at or after `as_of` can need (the serving snapshot)."""
        before = day_number(self.as_of)
        return History(
            as_of=self.as_of,
            customer_ids=self.customer_ids,
            invoice_ids=self.invoice_ids,
            customers=self.customers,
            streams={name: s.compact(before) for name, s in self.streams.items()},
            declared=self.declared,
        )

    @property
    def n_events(self) -> int:
        return sum(len(s) for s in self.streams.values())

    @cached_property
    def attribute_index(self) -> pd.Index:
        """Customer ids of the attributes table, hashed once (the service looks them up often)."""
        return pd.Index(self.customers["customer_id"].astype("str"))

    def attribute_rows(self, customer_ids: pd.Series | np.ndarray) -> np.ndarray:
        """Row of each customer in `customers`, -1 where it has no attributes."""
        return positions(self.attribute_index, np.asarray(customer_ids, dtype=object))

    @cached_property
    def attribute_arrays(self) -> dict[str, np.ndarray]:
        """Customer attributes as typed arrays, converted once per history (not per request)."""
        customers = self.customers
        if not len(customers):
            return {}
        return {
            "country": customers["country"].fillna(UNKNOWN).astype("str").to_numpy(object),
            "industry": customers["industry"].fillna(UNKNOWN).astype("str").to_numpy(object),
            "credit_limit": customers["credit_limit"].astype("float64").to_numpy(),
            "key_account": customers["key_account"].astype("float64").to_numpy(),
            "created_day": to_days(customers["created_date"]),
        }

    def key_account_flags(self, customer_ids: np.ndarray) -> np.ndarray:
        """Whether each customer is a key account (False when it has no attributes)."""
        flags = self.attribute_arrays.get("key_account")
        row = self.attribute_rows(customer_ids)
        if flags is None or not len(flags):
            return np.zeros(len(row), dtype=bool)
        return np.where(row >= 0, flags[np.maximum(row, 0)] > 0, False)


def known_at(dataset: Dataset, as_of: pd.Timestamp) -> Dataset:
    """The dataset as it was known at the start of `as_of`: later events are removed.

    Declared feature values dated on or after `as_of` (their `known_from` column) are removed by
    `declared_values`, which reads the same rule."""
    invoices = dataset.invoices.loc[dataset.invoices["issue_date"] < as_of].copy()
    for column in ("paid_date", "written_off_date", "dispute_date", "dispute_resolved_date"):
        if column in invoices:
            invoices[column] = invoices[column].where(invoices[column] < as_of)
    payments = dataset.payments.loc[dataset.payments["payment_date"] < as_of]
    reminders = dataset.reminders.loc[dataset.reminders["sent_date"] < as_of]
    promises = dataset.promises.loc[dataset.promises["promised_date"] < as_of]
    return Dataset(
        invoices=invoices,
        payments=payments,
        customers=dataset.customers,
        reminders=reminders,
        promises=promises,
    )


def _ew_weight(days: np.ndarray, half_life: float) -> np.ndarray:
    return np.exp2((days.astype("float64") - EW_ORIGIN_DAY) / half_life)


@dataclass(frozen=True)
class _Ledger:
    """The invoices of a known dataset as day numbers and codes, shared by the stream builders."""

    customer: np.ndarray  # customer code per invoice
    amount: np.ndarray
    issue: np.ndarray
    due: np.ndarray
    paid: np.ndarray
    settle: np.ndarray  # paid or written off, whichever first; NEVER while open
    written_off_unpaid: np.ndarray  # written off before any full payment
    dispute: np.ndarray  # day the dispute was raised; NEVER if none (or undated)
    dispute_end: np.ndarray  # resolved, or the invoice settled, whichever first; NEVER if open
    first_reminder: np.ndarray  # NEVER if none
    payment_count: np.ndarray  # payments up to the settlement
    part_invoice: np.ndarray  # partial payments (before the settlement day): invoice position
    part_day: np.ndarray  # ... their day
    part_amount: np.ndarray  # ... their amount
    paid_before_settle: np.ndarray  # per invoice: what partial payments took off its balance


def _ledger(data: Dataset, customer_ids: pd.Index, invoice_ids: pd.Index) -> _Ledger:
    invoices = data.invoices
    paid = to_days(invoices["paid_date"])
    settle = to_days(settled_date(invoices))
    written_off = to_days(invoices["written_off_date"])
    # Reminders and payments joined to invoices by position (hash lookups, no merge blow-up).
    reminder_invoice = invoice_ids.get_indexer(data.reminders["invoice_id"].astype("str"))
    known = reminder_invoice >= 0
    first_reminder = np.full(len(invoices), NEVER, dtype="int64")
    np.minimum.at(
        first_reminder, reminder_invoice[known], to_days(data.reminders["sent_date"])[known]
    )
    payment_invoice = invoice_ids.get_indexer(data.payments["invoice_id"].astype("str"))
    payment_day = to_days(data.payments["payment_date"])
    # Instalments up to the settlement only: a payment after a write-off is later news.
    counted = (payment_invoice >= 0) & (payment_day <= settle[np.maximum(payment_invoice, 0)])
    # Partial payments lower the open balance on their day; the settlement takes the rest.
    partial = (payment_invoice >= 0) & (payment_day < settle[np.maximum(payment_invoice, 0)])
    part_invoice = payment_invoice[partial]
    part_amount = data.payments["amount"].to_numpy(dtype="float64")[partial]
    # A dispute counts from the day it was raised; a flag without that day cannot be placed in
    # time and is left out (never dated at issue). It ends when resolved or when the invoice is
    # settled, whichever comes first.
    dispute = _days_or_never(invoices, "dispute_date")
    resolved = _days_or_never(invoices, "dispute_resolved_date")
    dispute_end = np.where(
        dispute != NEVER, np.maximum(np.minimum(resolved, settle), dispute), NEVER
    )
    return _Ledger(
        customer=customer_ids.get_indexer(invoices["customer_id"].astype("str")),
        amount=invoices["amount"].to_numpy(dtype="float64"),
        issue=to_days(invoices["issue_date"]),
        due=to_days(invoices["due_date"]),
        paid=paid,
        settle=settle,
        written_off_unpaid=(written_off != NEVER) & (written_off < paid),
        dispute=dispute,
        dispute_end=dispute_end,
        first_reminder=first_reminder,
        payment_count=np.bincount(payment_invoice[counted], minlength=len(invoices)),
        part_invoice=part_invoice,
        part_day=payment_day[partial],
        part_amount=part_amount,
        paid_before_settle=np.bincount(part_invoice, weights=part_amount, minlength=len(invoices)),
    )


def _settled_stream(ledger: _Ledger, targets: TargetSettings, settings: FeatureSettings) -> Stream:
    """Settled invoices: the customer's payment record."""
    s = ledger.settle != NEVER
    settle, due, amount = ledger.settle[s], ledger.due[s], ledger.amount[s]
    days_late = (settle - due).astype("float64")
    late = (days_late > targets.late_after_days).astype("float64")
    reminded = (ledger.first_reminder[s] < settle).astype("float64")
    reminder_to_settle = np.where(reminded > 0, settle - ledger.first_reminder[s], 0)
    recent_w = _ew_weight(settle, settings.recent_half_life_days)
    long_w = _ew_weight(settle, settings.long_half_life_days)
    written_off = ledger.written_off_unpaid[s]
    return build_stream(
        ledger.customer[s],
        settle,
        sums={
            "count": np.ones(s.sum()),
            "late": late,
            "days_late": days_late,
            "amount": amount,
            "late_amount": amount * late,
            "severe_late": (days_late > settings.severe_late_days).astype("float64"),
            "written_off": written_off.astype("float64"),
            "defaulted": (written_off | (days_late > targets.default_after_days)).astype("float64"),
            "instalments": (ledger.payment_count[s] > 1).astype("float64"),
            "reminded": reminded,
            "reminder_to_settle_days": reminder_to_settle.astype("float64"),
            "recent_weight": recent_w,
            "recent_late": recent_w * late,
            "recent_days_late": recent_w * days_late,
            "long_weight": long_w,
            "long_late": long_w * late,
        },
        last={"day": settle},
        running_max={"max_days_late": days_late},
        rolling_median={"median_days_late": (days_late, settings.recent_settlements)},
    )


def _balance_streams(ledger: _Ledger) -> dict[str, Stream]:
    """What the customer buys, its open balance, and its past-due balance over each aged edge.

    Open and past-due balances are net of partial payments: a payment lowers them on its day (or,
    for a past-due edge, on the day the invoice crosses it if it was paid in part before), and the
    settlement removes what was left. They add up to the open amounts of `open_invoices`.
    """
    customer, amount, issue, settle = ledger.customer, ledger.amount, ledger.issue, ledger.settle
    streams = {
        "issued": build_stream(
            customer,
            issue,
            sums={"count": np.ones(len(issue)), "amount": amount},
            running_max={"first_day": -issue.astype("float64")},  # -max(-day) = first day
        )
    }
    settled = settle != NEVER
    remainder = amount - ledger.paid_before_settle  # what the settlement itself takes off
    part, part_day, part_amount = ledger.part_invoice, ledger.part_day, ledger.part_amount
    no_count = np.zeros(len(part))
    # Open balance: +amount when issued, -payment on each partial payment, -rest when settled.
    streams["open"] = build_stream(
        np.concatenate([customer, customer[part], customer[settled]]),
        np.concatenate([issue, np.maximum(part_day, issue[part]), settle[settled]]),
        sums={
            "count": np.concatenate([np.ones(len(issue)), no_count, -np.ones(settled.sum())]),
            "amount": np.concatenate([amount, -part_amount, -remainder[settled]]),
        },
    )
    # Past-due balance over each aged-bucket edge: +amount on due + k (known in advance), minus
    # partial payments (on the crossing day for those made before it), minus the rest when settled
    # after that. Invoices settled in time never enter.
    for edge in AGED_BUCKET_EDGES:
        crossing = ledger.due + edge
        enters = settle > crossing
        leaves = enters & settled
        paid = enters[part]  # partial payments of invoices that cross this edge
        streams[f"past_due_{edge}"] = build_stream(
            np.concatenate([customer[enters], customer[part][paid], customer[leaves]]),
            np.concatenate(
                [
                    crossing[enters],
                    np.maximum(part_day[paid], crossing[part][paid]),
                    settle[leaves],
                ]
            ),
            sums={
                "count": np.concatenate(
                    [np.ones(enters.sum()), np.zeros(paid.sum()), -np.ones(leaves.sum())]
                ),
                "amount": np.concatenate([amount[enters], -part_amount[paid], -remainder[leaves]]),
            },
        )
    # Partial payments of each invoice: its own open amount at t, taken out of "other" balances.
    streams["invoice_payments"] = build_stream(part, part_day, sums={"amount": part_amount})
    return streams


def _reminder_streams(data: Dataset, ledger: _Ledger, invoice_ids: pd.Index) -> dict[str, Stream]:
    """How much dunning the customer receives, and where each invoice stands in it."""
    invoice = invoice_ids.get_indexer(data.reminders["invoice_id"].astype("str"))
    reminders = data.reminders.loc[invoice >= 0]
    invoice = invoice[invoice >= 0]
    day = to_days(reminders["sent_date"])
    channel_code = pd.Categorical(reminders["channel"], categories=list(CHANNELS)).codes
    hard = np.isin(reminders["channel"].to_numpy(dtype="str"), HARD_CHANNELS).astype("float64")
    step = reminders["step"].astype("float64").fillna(0).to_numpy() if "step" in reminders else 0
    return {
        "customer_reminders": build_stream(
            ledger.customer[invoice],
            day,
            sums={"count": np.ones(len(reminders)), "hard": hard},
            running_max={"day": day.astype("float64")},
        ),
        "invoice_reminders": build_stream(
            invoice,
            day,
            sums={"count": np.ones(len(reminders))},
            last={"day": day, "channel": channel_code.astype("int64")},
            running_max={"step": np.broadcast_to(step, len(reminders))},
        ),
    }


def _response_stream(
    data: Dataset, ledger: _Ledger, invoice_ids: pd.Index, settings: FeatureSettings, as_of: int
) -> Stream:
    """The customer's answers to reminders by channel: for each reminder, whether its invoice
    was paid in full within `response_days` after it. Dated on the window's last day, when the
    answer is known (a reminder whose window is still open at `as_of` is not counted yet)."""
    invoice = invoice_ids.get_indexer(data.reminders["invoice_id"].astype("str"))
    reminders = data.reminders.loc[invoice >= 0]
    invoice = invoice[invoice >= 0]
    sent = to_days(reminders["sent_date"])
    window_end = sent + settings.response_days
    paid = ledger.paid[invoice]
    answered = (paid >= sent) & (paid <= window_end)
    known = answered | (window_end < as_of)
    channel = reminders["channel"].to_numpy(dtype="str")
    sums = {}
    for name in CHANNELS:
        on = (channel == name) & known
        sums[f"sent_{name}"] = on.astype("float64")
        sums[f"paid_{name}"] = (on & answered).astype("float64")
    return build_stream(ledger.customer[invoice], window_end, sums=sums)


def _days_or_never(invoices: pd.DataFrame, column: str) -> np.ndarray:
    if column not in invoices:
        return np.full(len(invoices), NEVER, dtype="int64")
    return to_days(invoices[column])


def _dispute_streams(ledger: _Ledger) -> dict[str, Stream]:
    """Disputes as they were raised and ended: the customer's open disputes, how many it raised,
    how long they took to end; and whether each invoice's own dispute is open."""
    raised = ledger.dispute != NEVER
    ended = raised & (ledger.dispute_end != NEVER)
    customer = np.concatenate([ledger.customer[raised], ledger.customer[ended]])
    day = np.concatenate([ledger.dispute[raised], ledger.dispute_end[ended]])
    n_raised, n_ended = int(raised.sum()), int(ended.sum())
    took = (ledger.dispute_end[ended] - ledger.dispute[ended]).astype("float64")
    invoice = np.flatnonzero(raised)
    ended_invoice = np.flatnonzero(ended)
    return {
        "customer_disputes": build_stream(
            customer,
            day,
            sums={
                "raised": np.concatenate([np.ones(n_raised), np.zeros(n_ended)]),
                "open": np.concatenate([np.ones(n_raised), -np.ones(n_ended)]),
                "ended": np.concatenate([np.zeros(n_raised), np.ones(n_ended)]),
                "days_to_end": np.concatenate([np.zeros(n_raised), took]),
            },
        ),
        "invoice_disputes": build_stream(
            np.concatenate([invoice, ended_invoice]),
            np.concatenate([ledger.dispute[raised], ledger.dispute_end[ended]]),
            sums={"open": np.concatenate([np.ones(n_raised), -np.ones(n_ended)])},
            running_max={
                "raised_day": np.concatenate(
                    [ledger.dispute[raised], ledger.dispute[ended]]
                ).astype("float64")
            },
        ),
    }


def portfolio_streams(dataset: Dataset, as_of: pd.Timestamp) -> dict[str, Stream]:
    """The streams of a history that span the whole portfolio rather than one customer (the
    portfolio's promise-keeping rate). A history built on a partition of customers (Dask) takes
    these from the whole dataset, so that it plans as the single-machine history does."""
    data = known_at(dataset, as_of)
    return {PORTFOLIO_PROMISES: _promise_streams(data, _customer_ids(data))[PORTFOLIO_PROMISES]}


def _customer_ids(data: Dataset) -> pd.Index:
    """The history's customers: those with an invoice issued, in order of appearance."""
    return pd.Index(pd.unique(data.invoices["customer_id"].astype("str")), dtype="str")


def _promise_streams(data: Dataset, customer_ids: pd.Index) -> dict[str, Stream]:
    return promise_streams(
        promise_outcomes(data.promises, data.invoices, data.payments), customer_ids
    )


def build_history(
    dataset: Dataset,
    as_of: pd.Timestamp,
    targets: TargetSettings,
    settings: FeatureSettings,
) -> History:
    """Turn a dataset into event streams, using only what was known before `as_of`."""
    data = known_at(dataset, as_of)
    invoices = data.invoices
    customer_ids = _customer_ids(data)
    invoice_ids = pd.Index(invoices["invoice_id"].astype("str"), dtype="str")
    ledger = _ledger(data, customer_ids, invoice_ids)
    streams = {
        "settled": _settled_stream(ledger, targets, settings),
        **_balance_streams(ledger),
        **_reminder_streams(data, ledger, invoice_ids),
        "customer_responses": _response_stream(
            data, ledger, invoice_ids, settings, day_number(as_of)
        ),
        **_dispute_streams(ledger),
        **_promise_streams(data, customer_ids),
    }
    customers = data.customers.drop_duplicates("customer_id")
    return History(
        as_of=as_of,
        customer_ids=customer_ids,
        invoice_ids=invoice_ids,
        customers=_customer_attributes(customers),
        streams=streams,
        declared=declared_values(settings.declared, invoices, customers, as_of),
    )


def _customer_attributes(customers: pd.DataFrame) -> pd.DataFrame:
    """Customer attributes, one row per customer; personal data (names, e-mails) is not carried."""
    if customers.empty:
        return pd.DataFrame(columns=["customer_id", *ATTRIBUTE_COLUMNS])
    kept = customers.drop_duplicates("customer_id").set_index("customer_id")
    return kept.reindex(columns=list(ATTRIBUTE_COLUMNS)).reset_index()
