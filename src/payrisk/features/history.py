"""Point-in-time features of an invoice seen at a moment t: the one feature definition.

Training, batch scoring and the online service all call `build_history` then `invoice_features`.

How time is kept honest: the history is turned into *event streams*, one row per thing that
happened (an invoice issued, settled, crossing 30 days past due, a reminder sent), each dated on
the day it became known, with the running state of its customer (or invoice) after the event.
A feature at t is the state after the last event dated strictly before t, found by a binary search
on a sorted (entity, day) key: O(log n) per query, no join that grows with a customer's history,
and no way for an event dated t or later to reach a feature at t.

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
from payrisk.data.contract import CHANNELS, Channel
from payrisk.data.loading import Dataset
from payrisk.data.receivables import AGED_BUCKET_EDGES, settled_date

DAY_SPAN = 1 << 17  # days since 1970 fit below this until the year 2328
NEVER = np.iinfo(np.int64).max // 4  # a day that never comes (unpaid, not written off)
EW_ORIGIN_DAY = int(np.datetime64("2000-01-01", "D").astype("int64"))
HARD_CHANNELS = (Channel.FORMAL_NOTICE.value, Channel.AGENCY.value)

CATEGORICAL_FEATURES: tuple[str, ...] = ("country", "industry", "last_reminder_channel")

QUERY_COLUMNS: tuple[str, ...] = (
    "invoice_id",
    "customer_id",
    "issue_date",
    "due_date",
    "amount",
    "snapshot_date",
)


SMALL_LOOKUP = 128  # up to this many ids, one hash probe each beats a vectorised get_indexer


def to_days(dates: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Days since 1970-01-01 as int64; missing dates become NEVER."""
    values = np.asarray(dates, dtype="datetime64[D]")
    days = values.astype("int64")
    days[np.isnat(values)] = NEVER
    return days


def positions(index: pd.Index, ids: np.ndarray | pd.Series | list) -> np.ndarray:
    """Position of each id in a unique `index`, -1 where absent.

    `get_indexer` converts its argument and builds a result at ~90 us a call whatever its size;
    the index's own hash table answers one key in under a microsecond. So a request with a few
    invoices probes the table per id, and anything larger stays vectorised.
    """
    if len(ids) > SMALL_LOOKUP or not index.is_unique:
        return index.get_indexer(np.asarray(ids, dtype=object))
    found = np.empty(len(ids), dtype="int64")
    for i, key in enumerate(ids):
        try:
            found[i] = index.get_loc(key)
        except KeyError:
            found[i] = -1
    return found


def _calendar(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Month (1-12), weekday (Monday 0), day of month and month-end flag of day numbers.

    Plain datetime64 arithmetic: a DatetimeIndex costs more to build than a few invoices cost.
    """
    known = days != NEVER
    safe = np.where(known, days, 0)
    month_start = safe.astype("datetime64[D]").astype("datetime64[M]")
    month = (month_start.astype("int64") % 12 + 1).astype("float64")
    weekday = ((safe + 3) % 7).astype("float64")  # 1970-01-01 was a Thursday
    day_of_month = (safe - month_start.astype("datetime64[D]").astype("int64") + 1).astype(
        "float64"
    )
    next_month = (month_start + 1).astype("datetime64[D]").astype("int64")
    month_end = (safe + 1 == next_month).astype("float64")
    return tuple(np.where(known, x, np.nan) for x in (month, weekday, day_of_month, month_end))


@dataclass(frozen=True)
class Stream:
    """Running state of each entity after each of its events, sorted by (entity, day)."""

    keys: np.ndarray
    state: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.keys)

    def locate(self, entity_codes: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index of each query's last event dated strictly before its day, and if one exists."""
        query_keys = entity_codes.astype("int64") * DAY_SPAN + days
        position = np.searchsorted(self.keys, query_keys, side="left") - 1
        safe = np.clip(position, 0, max(len(self.keys) - 1, 0))
        if len(self.keys) == 0:
            return safe, np.zeros(len(query_keys), dtype=bool)
        found = (
            (position >= 0) & (self.keys[safe] // DAY_SPAN == entity_codes) & (entity_codes >= 0)
        )
        return safe, found

    def value(
        self, name: str, located: tuple[np.ndarray, np.ndarray], missing: float
    ) -> np.ndarray:
        position, found = located
        column = self.state[name]
        if len(column) == 0:
            return np.full(len(position), missing, dtype="float64")
        return np.where(found, column[position], missing).astype("float64")

    def compact(self, before_day: int) -> Stream:
        """Keep the last event of each entity before `before_day` and every later one.

        Queries at or after `before_day` get the same answers from the compact stream; it is what
        the online service keeps in memory.
        """
        entity = self.keys // DAY_SPAN
        day = self.keys % DAY_SPAN
        past = day < before_day
        last_of_entity = np.ones(len(self.keys), dtype=bool)
        last_of_entity[:-1] = (entity[1:] != entity[:-1]) | ~past[1:]
        keep = ~past | last_of_entity
        return Stream(self.keys[keep], {k: v[keep] for k, v in self.state.items()})


def _stream(
    entity_codes: np.ndarray,
    days: np.ndarray,
    sums: dict[str, np.ndarray],
    last: dict[str, np.ndarray] | None = None,
    running_max: dict[str, np.ndarray] | None = None,
    rolling_median: dict[str, tuple[np.ndarray, int]] | None = None,
) -> Stream:
    """Sort events by (entity, day) and compute each entity's running state."""
    keys = entity_codes.astype("int64") * DAY_SPAN + days.astype("int64")
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    entity = pd.Series(entity_codes[order])
    state: dict[str, np.ndarray] = {}
    if sums:
        deltas = pd.DataFrame({k: np.asarray(v, dtype="float64")[order] for k, v in sums.items()})
        cumulative = deltas.groupby(entity.to_numpy(), sort=False).cumsum()
        state.update({k: cumulative[k].to_numpy() for k in sums})
    for name, values in (last or {}).items():
        state[name] = np.asarray(values)[order]
    for name, values in (running_max or {}).items():
        ordered = pd.Series(np.asarray(values, dtype="float64")[order])
        state[name] = ordered.groupby(entity.to_numpy(), sort=False).cummax().to_numpy()
    for name, (values, window) in (rolling_median or {}).items():
        ordered = pd.Series(np.asarray(values, dtype="float64")[order])
        rolled = ordered.groupby(entity.to_numpy(), sort=False).rolling(window, min_periods=1)
        state[name] = rolled.median().reset_index(level=0, drop=True).sort_index().to_numpy()
    return Stream(keys, state)


@dataclass(frozen=True)
class History:
    """What is known of a payment history at `as_of`, ready for point-in-time lookups.

    It is the customer-history snapshot of the online service, and what training and batch scoring
    compute features from. Build it with `build_history`.
    """

    as_of: pd.Timestamp
    customer_ids: pd.Index
    invoice_ids: pd.Index
    customers: pd.DataFrame  # attributes indexed by customer code
    streams: dict[str, Stream] = field(default_factory=dict)

    def compact(self) -> History:
        """Drop what no query at or after `as_of` can need (the serving snapshot)."""
        before = int(to_days(pd.Series([self.as_of]))[0])
        return History(
            as_of=self.as_of,
            customer_ids=self.customer_ids,
            invoice_ids=self.invoice_ids,
            customers=self.customers,
            streams={name: s.compact(before) for name, s in self.streams.items()},
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
            "country": customers["country"].fillna("unknown").astype("str").to_numpy(object),
            "industry": customers["industry"].fillna("unknown").astype("str").to_numpy(object),
            "credit_limit": customers["credit_limit"].astype("float64").to_numpy(),
            "key_account": customers["key_account"].astype("float64").to_numpy(),
            "created_day": to_days(customers["created_date"]),
        }


def known_at(dataset: Dataset, as_of: pd.Timestamp) -> Dataset:
    """The dataset as it was known at the start of `as_of`: later events are removed."""
    invoices = dataset.invoices.loc[dataset.invoices["issue_date"] < as_of].copy()
    for column in ("paid_date", "written_off_date"):
        invoices[column] = invoices[column].where(invoices[column] < as_of)
    payments = dataset.payments.loc[dataset.payments["payment_date"] < as_of]
    reminders = dataset.reminders.loc[dataset.reminders["sent_date"] < as_of]
    return Dataset(
        invoices=invoices, payments=payments, customers=dataset.customers, reminders=reminders
    )


def _ew_weight(days: np.ndarray, half_life: float) -> np.ndarray:
    return np.exp2((days.astype("float64") - EW_ORIGIN_DAY) / half_life)


def build_history(
    dataset: Dataset,
    as_of: pd.Timestamp,
    targets: TargetSettings,
    settings: FeatureSettings,
) -> History:
    """Turn a dataset into event streams, using only what was known before `as_of`."""
    data = known_at(dataset, as_of)
    invoices = data.invoices
    customer_ids = pd.Index(pd.unique(invoices["customer_id"].astype("str")), dtype="str")
    invoice_ids = pd.Index(invoices["invoice_id"].astype("str"), dtype="str")
    customer = customer_ids.get_indexer(invoices["customer_id"].astype("str"))
    amount = invoices["amount"].to_numpy(dtype="float64")
    issue = to_days(invoices["issue_date"])
    due = to_days(invoices["due_date"])
    paid = to_days(invoices["paid_date"])
    settle = to_days(settled_date(invoices))
    written_off = to_days(invoices["written_off_date"])
    # Written off before any full payment: known on the write-off day, whatever happens later.
    written_off_unpaid = (written_off != NEVER) & (written_off < paid)

    # Reminders and payments joined to invoices by position (hash lookups, no merge blow-up).
    reminder_invoice = invoice_ids.get_indexer(data.reminders["invoice_id"].astype("str"))
    reminders = data.reminders.loc[reminder_invoice >= 0]
    reminder_invoice = reminder_invoice[reminder_invoice >= 0]
    reminder_day = to_days(reminders["sent_date"])
    first_reminder = np.full(len(invoices), NEVER, dtype="int64")
    np.minimum.at(first_reminder, reminder_invoice, reminder_day)
    payment_invoice = invoice_ids.get_indexer(data.payments["invoice_id"].astype("str"))
    payment_day = to_days(data.payments["payment_date"])
    # Instalments up to the settlement only: a payment after a write-off is later news.
    counted = (payment_invoice >= 0) & (payment_day <= settle[np.maximum(payment_invoice, 0)])
    payment_count = np.bincount(payment_invoice[counted], minlength=len(invoices))

    streams: dict[str, Stream] = {}

    # Settled invoices: the customer's payment record.
    s = settle != NEVER
    days_late = (settle - due)[s].astype("float64")
    late = (days_late > targets.late_after_days).astype("float64")
    reminded = (first_reminder[s] < settle[s]).astype("float64")
    reminder_to_settle = np.where(reminded > 0, settle[s] - first_reminder[s], 0).astype("float64")
    recent_w = _ew_weight(settle[s], settings.recent_half_life_days)
    long_w = _ew_weight(settle[s], settings.long_half_life_days)
    disputed = invoices["disputed"].to_numpy(dtype="bool")[s].astype("float64")
    streams["settled"] = _stream(
        customer[s],
        settle[s],
        sums={
            "count": np.ones(s.sum()),
            "late": late,
            "days_late": days_late,
            "amount": amount[s],
            "late_amount": amount[s] * late,
            "severe_late": (days_late > settings.severe_late_days).astype("float64"),
            "written_off": written_off_unpaid[s].astype("float64"),
            "defaulted": (written_off_unpaid[s] | (days_late > targets.default_after_days)).astype(
                "float64"
            ),
            "disputed": disputed,
            "instalments": (payment_count[s] > 1).astype("float64"),
            "reminded": reminded,
            "reminder_to_settle_days": reminder_to_settle,
            "recent_weight": recent_w,
            "recent_late": recent_w * late,
            "recent_days_late": recent_w * days_late,
            "long_weight": long_w,
            "long_late": long_w * late,
        },
        last={"day": settle[s]},
        running_max={"max_days_late": days_late},
        rolling_median={"median_days_late": (days_late, settings.recent_settlements)},
    )

    # Issued invoices: how much and how often the customer buys.
    streams["issued"] = _stream(
        customer,
        issue,
        sums={"count": np.ones(len(invoices)), "amount": amount},
        running_max={"first_day": -issue.astype("float64")},  # -max(-day) = first day
    )

    # Open balance: +amount when issued, -amount when settled.
    settled_rows = settle != NEVER
    streams["open"] = _stream(
        np.concatenate([customer, customer[settled_rows]]),
        np.concatenate([issue, settle[settled_rows]]),
        sums={
            "count": np.concatenate([np.ones(len(invoices)), -np.ones(settled_rows.sum())]),
            "amount": np.concatenate([amount, -amount[settled_rows]]),
        },
    )

    # Past-due balance over each aged-bucket edge: +amount on due + k (known in advance), -amount
    # when settled after that. Invoices settled in time never enter.
    for edge in AGED_BUCKET_EDGES:
        crossing = due + edge
        enters = settle > crossing
        leaves = enters & (settle != NEVER)
        streams[f"past_due_{edge}"] = _stream(
            np.concatenate([customer[enters], customer[leaves]]),
            np.concatenate([crossing[enters], settle[leaves]]),
            sums={
                "count": np.concatenate([np.ones(enters.sum()), -np.ones(leaves.sum())]),
                "amount": np.concatenate([amount[enters], -amount[leaves]]),
            },
        )

    # Reminders: how much dunning the customer receives, and where this invoice stands in it.
    channel_code = pd.Categorical(reminders["channel"], categories=list(CHANNELS)).codes
    hard = np.isin(reminders["channel"].to_numpy(dtype="str"), HARD_CHANNELS).astype("float64")
    step = reminders["step"].astype("float64").fillna(0).to_numpy() if "step" in reminders else 0
    streams["customer_reminders"] = _stream(
        customer[reminder_invoice],
        reminder_day,
        sums={"count": np.ones(len(reminders)), "hard": hard},
        running_max={"day": reminder_day.astype("float64")},
    )
    streams["invoice_reminders"] = _stream(
        reminder_invoice,
        reminder_day,
        sums={"count": np.ones(len(reminders))},
        last={"day": reminder_day, "channel": channel_code.astype("int64")},
        running_max={"step": np.broadcast_to(step, len(reminders))},
    )

    attributes = _customer_attributes(data.customers, customer_ids)
    return History(
        as_of=as_of,
        customer_ids=customer_ids,
        invoice_ids=invoice_ids,
        customers=attributes,
        streams=streams,
    )


def _customer_attributes(customers: pd.DataFrame, customer_ids: pd.Index) -> pd.DataFrame:
    """Customer attributes by customer code; personal data (names, e-mails) is not carried."""
    columns = ["country", "industry", "credit_limit", "created_date", "key_account"]
    if customers.empty:
        return pd.DataFrame(columns=["customer_id", *columns])
    kept = customers.drop_duplicates("customer_id").set_index("customer_id")
    kept = kept.reindex(columns=columns)
    return kept.reset_index()


FEATURE_COLUMNS: tuple[str, ...] = (
    # The invoice and its age at t.
    "log_amount",
    "terms_days",
    "days_since_issue",
    "days_past_due",
    "issue_month",
    "issue_weekday",
    "due_day_of_month",
    "due_at_month_end",
    "amount_vs_customer_mean",
    "amount_vs_open_balance",
    # Its own dunning so far.
    "reminders_sent",
    "last_reminder_step",
    "days_since_last_reminder",
    "last_reminder_channel",
    # The customer's settled history.
    "is_new_customer",
    "settled_invoices",
    "late_share",
    "late_share_amount_weighted",
    "late_share_recent",
    "late_share_long_run_weighted",
    "mean_days_late",
    "recent_mean_days_late",
    "days_late_trend",
    "median_days_late_recent",
    "max_days_late",
    "severe_late_share",
    "written_off_share",
    "default_share",
    "dispute_rate",
    "instalment_share",
    "reminded_share",
    "mean_days_reminder_to_payment",
    "days_since_last_settlement",
    # The customer's other invoices at t.
    "invoices_issued",
    "days_since_first_invoice",
    "open_invoices",
    "open_amount",
    "past_due_amount",
    "past_due_1_30_amount",
    "past_due_31_60_amount",
    "past_due_61_90_amount",
    "past_due_over_90_amount",
    "past_due_invoices",
    "past_due_share",
    "reminders_received",
    "hard_reminders_received",
    "days_since_customer_contact",
    # Customer attributes.
    "country",
    "industry",
    "credit_limit",
    "credit_utilisation",
    "key_account",
    "customer_tenure_days",
)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator where the denominator is positive, else NaN (never divides by 0)."""
    positive = denominator > 0
    return np.where(positive, numerator / np.where(positive, denominator, 1), np.nan)


def invoice_features(history: History, queries: pd.DataFrame) -> pd.DataFrame:
    """Features of each query invoice at its `snapshot_date`, from what `history` knew before it.

    `queries` has QUERY_COLUMNS; an optional boolean `in_history` says whether the invoice is part
    of `history` (default True), so that its own amount is not counted among "other" open invoices
    when it is not there. Returns FEATURE_COLUMNS, indexed like `queries`.
    """
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
    )
    return pd.DataFrame(out, index=queries.index, copy=False)


CHANNEL_NAMES = np.asarray([*CHANNELS, "none"], dtype=object)  # code -1 (no reminder) -> "none"


def feature_arrays(
    history: History,
    invoice_ids: np.ndarray,
    customer_ids: np.ndarray,
    issue_day: np.ndarray,
    due_day: np.ndarray,
    amount: np.ndarray,
    snapshot_day: np.ndarray,
    in_history: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """`invoice_features` on plain arrays (days since 1970): FEATURE_COLUMNS in order.

    The one feature definition: training and batch scoring reach it through `invoice_features`,
    the online service directly, so that a request of one invoice pays for no DataFrame.
    Categorical features are object arrays of text, numbers float64.
    """
    t = np.asarray(snapshot_day, dtype="int64")
    issue = np.asarray(issue_day, dtype="int64")
    due = np.asarray(due_day, dtype="int64")
    amount = np.asarray(amount, dtype="float64")
    n = len(t)
    customer = positions(history.customer_ids, customer_ids)
    invoice = positions(history.invoice_ids, invoice_ids)
    if in_history is not None:
        invoice = np.where(np.asarray(in_history, dtype="bool"), invoice, -1)
    own = (invoice >= 0).astype("float64")  # 1 where the invoice itself is in the streams
    streams = history.streams
    out: dict[str, np.ndarray] = {}

    out["log_amount"] = np.log1p(np.clip(amount, 0, None))
    out["terms_days"] = (due - issue).astype("float64")
    out["days_since_issue"] = (t - issue).astype("float64")
    out["days_past_due"] = (t - due).astype("float64")
    out["issue_month"], out["issue_weekday"], _, _ = _calendar(issue)
    _, _, out["due_day_of_month"], out["due_at_month_end"] = _calendar(due)

    at = streams["invoice_reminders"].locate(invoice, t)
    r = streams["invoice_reminders"]
    out["reminders_sent"] = r.value("count", at, 0.0)
    out["last_reminder_step"] = r.value("step", at, 0.0)
    out["days_since_last_reminder"] = t - r.value("day", at, np.nan)
    channel = r.value("channel", at, -1.0).astype("int64")
    out["last_reminder_channel"] = CHANNEL_NAMES[np.where(channel >= 0, channel, -1)]

    st = streams["settled"]
    at = st.locate(customer, t)
    count = st.value("count", at, 0.0)
    out["is_new_customer"] = (count == 0).astype("float64")
    out["settled_invoices"] = count
    out["late_share"] = _ratio(st.value("late", at, 0.0), count)
    out["late_share_amount_weighted"] = _ratio(
        st.value("late_amount", at, 0.0), st.value("amount", at, 0.0)
    )
    recent_weight = st.value("recent_weight", at, 0.0)
    out["late_share_recent"] = _ratio(st.value("recent_late", at, 0.0), recent_weight)
    out["late_share_long_run_weighted"] = _ratio(
        st.value("long_late", at, 0.0), st.value("long_weight", at, 0.0)
    )
    out["mean_days_late"] = _ratio(st.value("days_late", at, 0.0), count)
    out["recent_mean_days_late"] = _ratio(st.value("recent_days_late", at, 0.0), recent_weight)
    out["days_late_trend"] = out["recent_mean_days_late"] - out["mean_days_late"]
    out["median_days_late_recent"] = st.value("median_days_late", at, np.nan)
    out["max_days_late"] = st.value("max_days_late", at, np.nan)
    out["severe_late_share"] = _ratio(st.value("severe_late", at, 0.0), count)
    out["written_off_share"] = _ratio(st.value("written_off", at, 0.0), count)
    out["default_share"] = _ratio(st.value("defaulted", at, 0.0), count)
    out["dispute_rate"] = _ratio(st.value("disputed", at, 0.0), count)
    out["instalment_share"] = _ratio(st.value("instalments", at, 0.0), count)
    reminded = st.value("reminded", at, 0.0)
    out["reminded_share"] = _ratio(reminded, count)
    out["mean_days_reminder_to_payment"] = _ratio(
        st.value("reminder_to_settle_days", at, 0.0), reminded
    )
    out["days_since_last_settlement"] = t - st.value("day", at, np.nan)

    # Other invoices of the customer: the invoice's own contribution is taken out where it is in
    # the history (it was issued before t and is open at t, since it is being scored).
    issued_before = own * (issue < t)
    iss = streams["issued"]
    at = iss.locate(customer, t)
    issued_count = iss.value("count", at, 0.0) - issued_before
    issued_amount = iss.value("amount", at, 0.0) - issued_before * amount
    out["invoices_issued"] = issued_count
    out["amount_vs_customer_mean"] = _ratio(amount, _ratio(issued_amount, issued_count))
    out["days_since_first_invoice"] = t + iss.value("first_day", at, np.nan)

    op = streams["open"]
    at = op.locate(customer, t)
    open_amount = np.clip(op.value("amount", at, 0.0) - issued_before * amount, 0, None)
    out["open_invoices"] = np.clip(op.value("count", at, 0.0) - issued_before, 0, None)
    out["open_amount"] = open_amount
    out["amount_vs_open_balance"] = _ratio(amount, open_amount + amount)

    over: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for edge in AGED_BUCKET_EDGES:
        stream = streams[f"past_due_{edge}"]
        at = stream.locate(customer, t)
        self_in = own * (due + edge < t)
        over[edge] = (
            np.clip(stream.value("amount", at, 0.0) - self_in * amount, 0, None),
            np.clip(stream.value("count", at, 0.0) - self_in, 0, None),
        )
    out["past_due_amount"] = over[0][0]
    out["past_due_1_30_amount"] = over[0][0] - over[30][0]
    out["past_due_31_60_amount"] = over[30][0] - over[60][0]
    out["past_due_61_90_amount"] = over[60][0] - over[90][0]
    out["past_due_over_90_amount"] = over[90][0]
    out["past_due_invoices"] = over[0][1]
    out["past_due_share"] = _ratio(over[0][0], open_amount)

    cr = streams["customer_reminders"]
    at = cr.locate(customer, t)
    out["reminders_received"] = cr.value("count", at, 0.0)
    out["hard_reminders_received"] = cr.value("hard", at, 0.0)
    out["days_since_customer_contact"] = t - cr.value("day", at, np.nan)

    attributes = history.attribute_arrays
    if attributes:
        row = history.attribute_rows(customer_ids)
        has = row >= 0
        safe = np.where(has, row, 0)
        out["country"] = np.where(has, attributes["country"][safe], "unknown").astype(object)
        out["industry"] = np.where(has, attributes["industry"][safe], "unknown").astype(object)
        credit_limit = np.where(has, attributes["credit_limit"][safe], np.nan)
        key_account = np.where(has, attributes["key_account"][safe], np.nan)
        created = np.where(has, attributes["created_day"][safe], NEVER)
        tenure = np.where(created == NEVER, np.nan, t - created).astype("float64")
    else:
        out["country"] = np.full(n, "unknown", dtype=object)
        out["industry"] = np.full(n, "unknown", dtype=object)
        credit_limit = np.full(n, np.nan)
        key_account = np.full(n, np.nan)
        tenure = np.full(n, np.nan)
    out["credit_limit"] = credit_limit
    out["credit_utilisation"] = _ratio(open_amount + amount, credit_limit)
    out["key_account"] = key_account
    out["customer_tenure_days"] = tenure
    return {name: out[name] for name in FEATURE_COLUMNS}
