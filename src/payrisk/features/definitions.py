"""The features of an invoice seen at a moment t, declared once: name, family, meaning, computation.

Training, batch scoring and the online service all compute features here (`feature_arrays`, or
`invoice_features` on a frame), from a `History`; the model page, the reasons and the documentation
read the same declarations. A feature is a one-line function of a `FeatureContext`, which looks up
each event stream once per batch of queries and keeps the lookups for every feature that reads them.

The declaration order is the column order the models were trained with: append new features at the
end (or retrain), never reorder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

import numpy as np
import pandas as pd

from payrisk.core.config import ConfigError, DeclaredFeature
from payrisk.core.days import NEVER, month_start, to_days, weekday
from payrisk.data.contract import CHANNELS
from payrisk.data.receivables import AGED_BUCKET_EDGES
from payrisk.features.history import UNKNOWN, History
from payrisk.features.promises import CUSTOMER_PROMISES
from payrisk.features.streams import Lookup, positions


class Family(StrEnum):
    """Groups of features that describe one fact; reasons name at most one feature per family."""

    INVOICE = "invoice"  # the invoice itself and its age at t
    CALENDAR = "calendar"  # when it was issued and falls due
    OWN_DUNNING = "own_dunning"  # reminders already sent for this invoice
    PAYMENT_RECORD = "payment_record"  # the customer's settled invoices
    TRADING = "trading"  # how much and how long the customer has been buying
    BALANCE = "balance"  # the customer's other open invoices at t
    DUNNING_RECEIVED = "dunning_received"  # reminders the customer received
    ATTRIBUTES = "attributes"  # customer attributes (country, sector, limit...)
    RESPONSE_HISTORY = "response_history"  # how the customer answered reminders, by channel
    DISPUTES = "disputes"  # disputes raised, open and resolved (dated)
    DECLARED = "declared"  # your own columns, declared in configs/train.yaml


QUERY_COLUMNS: tuple[str, ...] = (
    "invoice_id",
    "customer_id",
    "issue_date",
    "due_date",
    "amount",
    "snapshot_date",
)

CHANNEL_NAMES = np.asarray([*CHANNELS, "none"], dtype=object)  # code -1 (no reminder) -> "none"


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator where the denominator is positive, else NaN (never divides by 0)."""
    positive = denominator > 0
    return np.where(positive, numerator / np.where(positive, denominator, 1), np.nan)


class FeatureContext:
    """The queries of one call (plain arrays, days since 1970) and the lookups features share."""

    def __init__(
        self,
        history: History,
        invoice_ids: np.ndarray,
        customer_ids: np.ndarray,
        issue_day: np.ndarray,
        due_day: np.ndarray,
        amount: np.ndarray,
        snapshot_day: np.ndarray,
        in_history: np.ndarray | None = None,
        disputed: np.ndarray | None = None,
        attributes: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self.history = history
        self.customer_ids = customer_ids
        self.t = np.asarray(snapshot_day, dtype="int64")
        self.issue = np.asarray(issue_day, dtype="int64")
        self.due = np.asarray(due_day, dtype="int64")
        self.amount = np.asarray(amount, dtype="float64")
        self.n = len(self.t)
        self.customer = positions(history.customer_ids, customer_ids)
        invoice = positions(history.invoice_ids, invoice_ids)
        if in_history is not None:
            invoice = np.where(np.asarray(in_history, dtype="bool"), invoice, -1)
        self.invoice = invoice
        # 1 where the invoice itself is in the streams (issued before t and open at t, since it is
        # being scored): its own amount is taken out of "other invoices" figures.
        self.own = (invoice >= 0).astype("float64")
        # What the caller says of invoices the history does not hold (the service's new ones).
        self.disputed = (
            np.zeros(self.n, dtype=bool) if disputed is None else np.asarray(disputed, dtype=bool)
        )
        self.invoice_attributes = dict(attributes or {})

    def _customer_lookup(self, stream: str) -> Lookup:
        return Lookup(self.history.streams[stream], self.customer, self.t)

    @cached_property
    def own_reminders(self) -> Lookup:
        return Lookup(self.history.streams["invoice_reminders"], self.invoice, self.t)

    @cached_property
    def settled(self) -> Lookup:
        return self._customer_lookup("settled")

    @cached_property
    def settled_count(self) -> np.ndarray:
        return self.settled("count")

    @cached_property
    def issued(self) -> Lookup:
        return self._customer_lookup("issued")

    @cached_property
    def issued_before(self) -> np.ndarray:
        """1 where the invoice's own issue is among the customer's issued invoices at t."""
        return self.own * (self.issue < self.t)

    @cached_property
    def own_open(self) -> np.ndarray:
        """This invoice's own open amount at t (after its partial payments), where it is in the
        history; what its customer's balances hold of it."""
        stream = self.history.streams.get("invoice_payments")
        if stream is None:  # a snapshot written before partial payments were tracked
            return self.amount
        paid = Lookup(stream, self.invoice, self.t)("amount")
        return np.clip(self.amount - paid, 0, None)

    @cached_property
    def open_balance(self) -> tuple[np.ndarray, np.ndarray]:
        """The customer's open amount and open invoices at t, without this invoice."""
        looked = self._customer_lookup("open")
        return (
            np.clip(looked("amount") - self.issued_before * self.own_open, 0, None),
            np.clip(looked("count") - self.issued_before, 0, None),
        )

    @property
    def open_amount(self) -> np.ndarray:
        return self.open_balance[0]

    @cached_property
    def past_due_over(self) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Amount and count of the customer's other invoices more than `edge` days past due."""
        over = {}
        for edge in AGED_BUCKET_EDGES:
            looked = self._customer_lookup(f"past_due_{edge}")
            self_in = self.own * (self.due + edge < self.t)
            over[edge] = (
                np.clip(looked("amount") - self_in * self.own_open, 0, None),
                np.clip(looked("count") - self_in, 0, None),
            )
        return over

    @cached_property
    def promise_kept_share(self) -> np.ndarray:
        """Kept share of the customer's promises resolved before t (NaN: none, or a history
        built without promises)."""
        stream = self.history.streams.get(CUSTOMER_PROMISES)
        if stream is None:
            return np.full(len(self.t), np.nan)
        looked = Lookup(stream, self.customer, self.t)
        return _ratio(looked("kept"), looked("resolved"))

    @cached_property
    def customer_reminders(self) -> Lookup:
        return self._customer_lookup("customer_reminders")

    @cached_property
    def responses(self) -> Lookup | None:
        """The customer's answers to reminders by channel (None: a history built without them)."""
        if "customer_responses" not in self.history.streams:
            return None
        return self._customer_lookup("customer_responses")

    def response_counts(self, channel: str) -> tuple[np.ndarray, np.ndarray]:
        """Reminders on `channel` whose answer is known at t, and how many were paid in time."""
        if self.responses is None:
            nothing = np.full(self.n, np.nan)
            return nothing, nothing
        return self.responses(f"sent_{channel}"), self.responses(f"paid_{channel}")

    @cached_property
    def own_dispute(self) -> Lookup:
        return Lookup(self.history.streams["invoice_disputes"], self.invoice, self.t)

    @cached_property
    def customer_disputes(self) -> Lookup:
        return self._customer_lookup("customer_disputes")

    @cached_property
    def own_dispute_raised(self) -> np.ndarray:
        """1 where this invoice's dispute was raised before t (in the history)."""
        return (~np.isnan(self.own_dispute("raised_day", np.nan))).astype("float64")

    @cached_property
    def own_dispute_open(self) -> np.ndarray:
        """1 where a dispute on this invoice is open at t: from its dated history, or as the
        caller says for an invoice the history does not hold."""
        in_history = self.own_dispute("open") > 0
        return np.where(self.invoice >= 0, in_history, self.disputed).astype("float64")

    @cached_property
    def attribute_row(self) -> np.ndarray:
        return self.history.attribute_rows(self.customer_ids)

    def declared(self, name: str) -> np.ndarray:
        """A declared feature's value at t: from the history, or for an invoice the history does
        not hold, as the caller gives it (unknown otherwise)."""
        values = self.history.declared[name]
        if values.table == "customers":
            return values.at(self.attribute_row, self.t)
        known = values.at(self.invoice, self.t)
        given = self.invoice_attributes.get(name)
        if given is None:
            return known
        return np.where(self.invoice >= 0, known, np.asarray(given, dtype=known.dtype))

    @cached_property
    def calendar(self) -> dict[str, np.ndarray]:
        """Month and weekday of issue, day of month and month-end flag of the due date."""
        return {**_calendar(self.issue, "issue"), **_calendar(self.due, "due")}

    @cached_property
    def attributes(self) -> dict[str, np.ndarray]:
        """The customer's attributes per query (unknown / NaN where it has none)."""
        arrays = self.history.attribute_arrays
        if not arrays:
            nothing = np.full(self.n, np.nan)
            unknown = np.full(self.n, UNKNOWN, dtype=object)
            return {
                "country": unknown,
                "industry": unknown,
                "credit_limit": nothing,
                "key_account": nothing,
                "created_day": np.full(self.n, NEVER),
            }
        row = self.history.attribute_rows(self.customer_ids)
        has = row >= 0
        safe = np.where(has, row, 0)
        return {
            "country": np.where(has, arrays["country"][safe], UNKNOWN).astype(object),
            "industry": np.where(has, arrays["industry"][safe], UNKNOWN).astype(object),
            "credit_limit": np.where(has, arrays["credit_limit"][safe], np.nan),
            "key_account": np.where(has, arrays["key_account"][safe], np.nan),
            "created_day": np.where(has, arrays["created_day"][safe], NEVER),
        }


def _difference(larger: np.ndarray, smaller: np.ndarray) -> np.ndarray:
    """larger - smaller for running sums that include each other: never below 0 (a float running
    sum can leave -1e-12 where the true difference is 0)."""
    return np.clip(larger - smaller, 0, None)


def _calendar(days: np.ndarray, prefix: str) -> dict[str, np.ndarray]:
    """Plain datetime64 arithmetic: a DatetimeIndex costs more to build than a few invoices cost."""
    known = days != NEVER
    safe = np.where(known, days, 0)
    start = month_start(safe)
    values = {
        f"{prefix}_month": (start.astype("int64") % 12 + 1).astype("float64"),
        f"{prefix}_weekday": weekday(safe).astype("float64"),
        f"{prefix}_day_of_month": (safe - start.astype("datetime64[D]").astype("int64") + 1),
        f"{prefix}_at_month_end": (
            safe + 1 == (start + 1).astype("datetime64[D]").astype("int64")
        ).astype("float64"),
    }
    return {k: np.where(known, v, np.nan).astype("float64") for k, v in values.items()}


@dataclass(frozen=True)
class Feature:
    """One model input: its name, the fact it belongs to, what it means and how it is computed."""

    name: str
    family: Family
    description: str
    compute: Callable[[FeatureContext], np.ndarray]
    categorical: bool = False


F = Family
FEATURES: tuple[Feature, ...] = (
    Feature("log_amount", F.INVOICE, "Log of 1 + the invoice amount.",
            lambda c: np.log1p(np.clip(c.amount, 0, None))),
    Feature("terms_days", F.INVOICE, "Days from issue to due date.",
            lambda c: (c.due - c.issue).astype("float64")),
    Feature("days_since_issue", F.INVOICE, "Days from issue to t.",
            lambda c: (c.t - c.issue).astype("float64")),
    Feature("days_past_due", F.INVOICE, "Days from the due date to t (negative before it).",
            lambda c: (c.t - c.due).astype("float64")),
    Feature("issue_month", F.CALENDAR, "Month of issue (1-12).",
            lambda c: c.calendar["issue_month"]),
    Feature("issue_weekday", F.CALENDAR, "Weekday of issue (Monday 0).",
            lambda c: c.calendar["issue_weekday"]),
    Feature("due_day_of_month", F.CALENDAR, "Day of the month of the due date.",
            lambda c: c.calendar["due_day_of_month"]),
    Feature("due_at_month_end", F.CALENDAR, "1 if due on the last day of a month.",
            lambda c: c.calendar["due_at_month_end"]),
    Feature("amount_vs_customer_mean", F.INVOICE,
            "Amount over the customer's mean invoice before t.",
            lambda c: _ratio(c.amount, _ratio(
                c.issued("amount") - c.issued_before * c.amount, c.issued("count") - c.issued_before
            ))),
    Feature("amount_vs_open_balance", F.INVOICE,
            "Share of the customer's open balance this invoice makes.",
            lambda c: _ratio(c.amount, c.open_amount + c.amount)),
    Feature("reminders_sent", F.OWN_DUNNING, "Reminders sent for this invoice before t.",
            lambda c: c.own_reminders("count")),
    Feature("last_reminder_step", F.OWN_DUNNING, "Highest scenario step reached for it.",
            lambda c: c.own_reminders("step")),
    Feature("days_since_last_reminder", F.OWN_DUNNING, "Days since its last reminder.",
            lambda c: c.t - c.own_reminders("day", np.nan)),
    Feature("last_reminder_channel", F.OWN_DUNNING, "Channel of its last reminder (none).",
            lambda c: CHANNEL_NAMES[np.maximum(c.own_reminders("channel", -1.0), -1).astype(int)],
            categorical=True),
    Feature("is_new_customer", F.PAYMENT_RECORD, "1 if no invoice of the customer is settled.",
            lambda c: (c.settled_count == 0).astype("float64")),
    Feature("settled_invoices", F.PAYMENT_RECORD, "Invoices of the customer settled before t.",
            lambda c: c.settled_count),
    Feature("late_share", F.PAYMENT_RECORD, "Share of settled invoices paid late.",
            lambda c: _ratio(c.settled("late"), c.settled_count)),
    Feature("late_share_amount_weighted", F.PAYMENT_RECORD,
            "Share of the settled amount paid late.",
            lambda c: _ratio(c.settled("late_amount"), c.settled("amount"))),
    Feature("late_share_recent", F.PAYMENT_RECORD,
            "Share paid late, recent settlements weighted more (short half-life).",
            lambda c: _ratio(c.settled("recent_late"), c.settled("recent_weight"))),
    Feature("late_share_long_run_weighted", F.PAYMENT_RECORD,
            "Share paid late, weighted over about a year (long half-life).",
            lambda c: _ratio(c.settled("long_late"), c.settled("long_weight"))),
    Feature("mean_days_late", F.PAYMENT_RECORD, "Mean days from due date to settlement.",
            lambda c: _ratio(c.settled("days_late"), c.settled_count)),
    Feature("recent_mean_days_late", F.PAYMENT_RECORD, "Recency-weighted mean days late.",
            lambda c: _ratio(c.settled("recent_days_late"), c.settled("recent_weight"))),
    Feature("days_late_trend", F.PAYMENT_RECORD, "Recent minus long-run mean days late.",
            lambda c: _ratio(c.settled("recent_days_late"), c.settled("recent_weight"))
            - _ratio(c.settled("days_late"), c.settled_count)),
    Feature("median_days_late_recent", F.PAYMENT_RECORD,
            "Median days late of the last settlements.",
            lambda c: c.settled("median_days_late", np.nan)),
    Feature("max_days_late", F.PAYMENT_RECORD, "Worst delay so far, in days.",
            lambda c: c.settled("max_days_late", np.nan)),
    Feature("severe_late_share", F.PAYMENT_RECORD, "Share settled over a month late.",
            lambda c: _ratio(c.settled("severe_late"), c.settled_count)),
    Feature("written_off_share", F.PAYMENT_RECORD, "Share of settled invoices written off.",
            lambda c: _ratio(c.settled("written_off"), c.settled_count)),
    Feature("default_share", F.PAYMENT_RECORD, "Share of settled invoices that defaulted.",
            lambda c: _ratio(c.settled("defaulted"), c.settled_count)),
    Feature("dispute_rate", F.DISPUTES,
            "Share of the customer's other invoices issued before t that it disputed before t.",
            lambda c: _ratio(c.customer_disputes("raised") - c.own_dispute_raised,
                             c.issued("count") - c.issued_before)),
    Feature("instalment_share", F.PAYMENT_RECORD, "Share paid in several instalments.",
            lambda c: _ratio(c.settled("instalments"), c.settled_count)),
    Feature("promise_kept_share", F.PAYMENT_RECORD,
            "Share of the customer's promises to pay kept, of those whose date is past.",
            lambda c: c.promise_kept_share),
    Feature("reminded_share", F.PAYMENT_RECORD, "Share that needed a reminder.",
            lambda c: _ratio(c.settled("reminded"), c.settled_count)),
    Feature("mean_days_reminder_to_payment", F.PAYMENT_RECORD,
            "Mean days from first reminder to settlement.",
            lambda c: _ratio(c.settled("reminder_to_settle_days"), c.settled("reminded"))),
    Feature("days_since_last_settlement", F.PAYMENT_RECORD, "Days since the last settlement.",
            lambda c: c.t - c.settled("day", np.nan)),
    Feature("invoices_issued", F.TRADING, "Other invoices issued to the customer before t.",
            lambda c: c.issued("count") - c.issued_before),
    Feature("days_since_first_invoice", F.TRADING, "Days since the customer's first invoice.",
            lambda c: c.t + c.issued("first_day", np.nan)),
    Feature("open_invoices", F.BALANCE, "Other open invoices of the customer.",
            lambda c: c.open_balance[1]),
    Feature("open_amount", F.BALANCE, "Other open amount of the customer, after part payments.",
            lambda c: c.open_amount),
    Feature("past_due_amount", F.BALANCE, "Other amount past due.",
            lambda c: c.past_due_over[0][0]),
    Feature("past_due_1_30_amount", F.BALANCE, "Other amount 1-30 days past due.",
            lambda c: _difference(c.past_due_over[0][0], c.past_due_over[30][0])),
    Feature("past_due_31_60_amount", F.BALANCE, "Other amount 31-60 days past due.",
            lambda c: _difference(c.past_due_over[30][0], c.past_due_over[60][0])),
    Feature("past_due_61_90_amount", F.BALANCE, "Other amount 61-90 days past due.",
            lambda c: _difference(c.past_due_over[60][0], c.past_due_over[90][0])),
    Feature("past_due_over_90_amount", F.BALANCE, "Other amount over 90 days past due.",
            lambda c: c.past_due_over[90][0]),
    Feature("past_due_invoices", F.BALANCE, "Other invoices past due.",
            lambda c: c.past_due_over[0][1]),
    Feature("past_due_share", F.BALANCE, "Share of the other open amount past due.",
            lambda c: _ratio(c.past_due_over[0][0], c.open_amount)),
    Feature("reminders_received", F.DUNNING_RECEIVED, "Reminders the customer received.",
            lambda c: c.customer_reminders("count")),
    Feature("hard_reminders_received", F.DUNNING_RECEIVED,
            "Formal notices and agency referrals the customer received.",
            lambda c: c.customer_reminders("hard")),
    Feature("days_since_customer_contact", F.DUNNING_RECEIVED,
            "Days since the customer's last reminder.",
            lambda c: c.t - c.customer_reminders("day", np.nan)),
    Feature("country", F.ATTRIBUTES, "Country of the customer.",
            lambda c: c.attributes["country"], categorical=True),
    Feature("industry", F.ATTRIBUTES, "Industry of the customer.",
            lambda c: c.attributes["industry"], categorical=True),
    Feature("credit_limit", F.ATTRIBUTES, "Credit limit granted.",
            lambda c: c.attributes["credit_limit"]),
    Feature("credit_utilisation", F.ATTRIBUTES,
            "Open balance with this invoice over the credit limit.",
            lambda c: _ratio(c.open_amount + c.amount, c.attributes["credit_limit"])),
    Feature("key_account", F.ATTRIBUTES, "1 for a key account followed by a sales rep.",
            lambda c: c.attributes["key_account"]),
    Feature("customer_tenure_days", F.ATTRIBUTES, "Days since the customer account was opened.",
            lambda c: np.where(c.attributes["created_day"] == NEVER, np.nan,
                               c.t - c.attributes["created_day"]).astype("float64")),
    Feature("open_dispute", F.DISPUTES, "1 if a dispute on this invoice is open at t.",
            lambda c: c.own_dispute_open),
    Feature("days_since_dispute", F.DISPUTES,
            "Days since the open dispute on this invoice was raised.",
            lambda c: np.where(c.own_dispute("open") > 0,
                               c.t - c.own_dispute("raised_day", np.nan), np.nan)),
    Feature("customer_open_disputes", F.DISPUTES,
            "Other invoices of the customer with a dispute open at t.",
            lambda c: np.clip(c.customer_disputes("open") - (c.own_dispute("open") > 0), 0, None)),
    Feature("mean_days_to_end_dispute", F.DISPUTES,
            "Mean days from the customer's disputes to their resolution (or settlement).",
            lambda c: _ratio(c.customer_disputes("days_to_end"), c.customer_disputes("ended"))),
)  # fmt: skip


def _response_features(channel: str) -> tuple[Feature, Feature]:
    return (
        Feature(f"reminders_answered_{channel}", Family.RESPONSE_HISTORY,
                f"Reminders by {channel} the customer received whose answer is known at t.",
                lambda c: c.response_counts(channel)[0]),
        Feature(f"response_rate_{channel}", Family.RESPONSE_HISTORY,
                f"Share of the customer's reminders by {channel} followed by full payment within "
                "the response window.",
                lambda c: _ratio(*reversed(c.response_counts(channel)))),
    )  # fmt: skip


# What the channel-effect models read besides FEATURES (payrisk.models.effects): the customer's own
# answers by channel. Not risk-model inputs, so FEATURE_COLUMNS keeps its trained order.
RESPONSE_FEATURES: tuple[Feature, ...] = tuple(
    feature for channel in CHANNELS for feature in _response_features(channel)
)

FEATURE_BY_NAME: dict[str, Feature] = {f.name: f for f in (*FEATURES, *RESPONSE_FEATURES)}
FEATURE_COLUMNS: tuple[str, ...] = tuple(feature.name for feature in FEATURES)
EFFECT_FEATURE_COLUMNS: tuple[str, ...] = (*FEATURE_COLUMNS, *(f.name for f in RESPONSE_FEATURES))
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.categorical)


def declared_features(specs: tuple[DeclaredFeature, ...]) -> tuple[Feature, ...]:
    """The features `features.declared` names, after the built-in ones (README "Your own
    features"). Each reads its values from the history (`payrisk.features.declared`)."""
    out = []
    for i, spec in enumerate(specs):
        name = spec.feature_name
        if name in FEATURE_BY_NAME:
            raise ConfigError(
                f"features.declared[{i}]: {name!r} is a built-in feature; set name: to another"
            )
        out.append(
            Feature(
                name,
                F.DECLARED,
                spec.description or f"{spec.table}.{spec.column} (declared in train.yaml)",
                lambda c, name=name: c.declared(name),
                categorical=spec.kind == "categorical",
            )
        )
    return tuple(out)


@dataclass(frozen=True)
class FeatureSet:
    """The features of one model: the built-in ones, then the declared ones, in column order."""

    features: tuple[Feature, ...]

    @classmethod
    def of(cls, declared: tuple[DeclaredFeature, ...] = ()) -> FeatureSet:
        return cls(FEATURES + declared_features(declared))

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def categorical(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features if f.categorical)

    def family(self, name: str) -> Family | None:
        return next((f.family for f in self.features if f.name == name), None)

    def with_features(self, extra: tuple[Feature, ...]) -> FeatureSet:
        """These features and `extra` after them (e.g. RESPONSE_FEATURES for channel effects)."""
        return FeatureSet(self.features + extra)


BUILT_IN = FeatureSet(FEATURES)


def feature_arrays(
    history: History,
    invoice_ids: np.ndarray,
    customer_ids: np.ndarray,
    issue_day: np.ndarray,
    due_day: np.ndarray,
    amount: np.ndarray,
    snapshot_day: np.ndarray,
    in_history: np.ndarray | None = None,
    disputed: np.ndarray | None = None,
    attributes: Mapping[str, np.ndarray] | None = None,
    features: FeatureSet = BUILT_IN,
) -> dict[str, np.ndarray]:
    """Every feature of each query at its snapshot day, on plain arrays (days since 1970).

    The online service calls this directly, so that a request of one invoice pays for no
    DataFrame; training and batch scoring through `invoice_features`. Categorical features are
    object arrays of text, numbers float64. `in_history` says whether each invoice is part of
    `history` (default: where its id is there), so that its own amount is not counted among
    "other" open invoices when it is not. For invoices not in the history, `disputed` says
    whether a dispute is open and `attributes` gives declared invoice features (name -> values).
    `features` are the model's (built-in and declared; the history must hold the declared ones);
    the channel-effect models add RESPONSE_FEATURES (`FeatureSet.with_features`).
    """
    context = FeatureContext(
        history,
        invoice_ids,
        customer_ids,
        issue_day,
        due_day,
        amount,
        snapshot_day,
        in_history,
        disputed,
        attributes,
    )
    return {feature.name: feature.compute(context) for feature in features.features}


def invoice_features(
    history: History, queries: pd.DataFrame, features: FeatureSet = BUILT_IN
) -> pd.DataFrame:
    """`feature_arrays` of a frame of queries (QUERY_COLUMNS, optional `in_history` and
    `disputed`)."""
    missing = [c for c in QUERY_COLUMNS if c not in queries.columns]
    if missing:
        raise ValueError(f"feature queries lack column(s) {missing}")
    out = feature_arrays(
        history,
        invoice_ids=queries["invoice_id"].to_numpy(dtype=object),
        customer_ids=queries["customer_id"].to_numpy(dtype=object),
        issue_day=to_days(queries["issue_date"]),
        due_day=to_days(queries["due_date"]),
        amount=queries["amount"].to_numpy(dtype="float64"),
        snapshot_day=to_days(queries["snapshot_date"]),
        in_history=(
            queries["in_history"].to_numpy(dtype="bool") if "in_history" in queries else None
        ),
        disputed=(
            queries["disputed"].fillna(False).to_numpy(dtype="bool")
            if "disputed" in queries
            else None
        ),
        features=features,
    )
    return pd.DataFrame(out, index=queries.index, copy=False)
