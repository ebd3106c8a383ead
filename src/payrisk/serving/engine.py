"""The online scoring engine: a scorer, the customer-history snapshot, and the answers built from
them. The BentoML service (`payrisk.service`) only wires HTTP to it.

A customer's plan never depends on which of its invoices a caller sends: the engine plans the
invoices sent together with the customer's other open invoices the snapshot knows (from the
portfolio bundle written with it), and names them in the answer. Invoices in another currency than
the model's are converted with the policy's rates, or refused when there is none. Every answer
says how old the snapshot behind it is.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from payrisk.core.days import EPOCH_ORDINAL, day_number, ordinal_days
from payrisk.data.receivables import AGED_BUCKETS
from payrisk.features.history import History
from payrisk.features.reported import ReportedReminders
from payrisk.features.snapshot import SnapshotError, load_history
from payrisk.features.streams import positions
from payrisk.models.scorer import PaymentRiskScorer, declared_attribute_arrays
from payrisk.policy.config import DunningConfig, recovery_rate, with_recovery_rate
from payrisk.policy.continuity import (
    EVENT_CUSTOMER_PLAN,
    EVENT_DECISION_DAY,
    bases,
    basis_of,
    changed_events,
    moved_by_others,
)
from payrisk.policy.credit import review_credit
from payrisk.policy.dunning import (
    ACTION_DIRECT_DEBIT,
    CONTACT_ACTIONS,
    action_group_arrays,
    action_groups,
    priority_arrays,
)
from payrisk.policy.ladder import NOTICE_CHANNEL, level_of
from payrisk.policy.penalties import round_cents
from payrisk.policy.planning import OpenInvoices, PortfolioArrays, formats_of, plan_portfolio
from payrisk.policy.portfolio import BundleHolder, BundleMissingError, PortfolioBundle
from payrisk.policy.state import (
    NO_DAY,
    DunningState,
    current_instalments,
    latest_day,
    plan_covers,
    state_of_columns,
)
from payrisk.policy.workdays import next_working_day
from payrisk.serving.errors import NoSnapshotError, RefusedRequestError
from payrisk.serving.plan_ids import plan_ids, planned_actions, read_plan_id
from payrisk.serving.replay import AnswerLog
from payrisk.serving.schemas import (
    CreditReviewRequest,
    CreditReviewResponse,
    CustomerProfile,
    CustomerRequest,
    CustomerStateIn,
    ScoreRequest,
    ScoreResponse,
    Status,
    TargetModel,
    WorklistItem,
    WorklistRequest,
    WorklistResponse,
)

log = logging.getLogger("payrisk.service")


def _none_if_nan(value: float) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


def cents(value: float) -> float:
    """An amount rounded to the cent, never -0.0 (running sums leave -1e-12 where 0 is meant)."""
    return round(float(value), 2) + 0.0


def open_invoices_of(
    request: ScoreRequest, today: date, scorer: PaymentRiskScorer | None = None
) -> OpenInvoices:
    """The request's invoices as arrays; refuses invoices issued after `today`, repeated ids and
    attributes the model does not declare.

    One pass over the (at most MAX_BATCH) validated models; the rest is vectorised. Amounts are
    as sent (see `currency_rates` for the conversion).
    """
    invoices = request.invoices
    ids = [invoice.invoice_id for invoice in invoices]
    issue = ordinal_days(i.issue_date for i in invoices)
    late_issue = np.flatnonzero(issue > ordinal_days([today])[0])
    if len(late_issue):
        raise RefusedRequestError(f"invoices[{late_issue[0]}].issue_date is after as_of {today}")
    if len(set(ids)) < len(ids):
        first = int(np.flatnonzero(pd.Index(ids).duplicated())[0])
        raise RefusedRequestError(f"invoices[{first}].invoice_id appears twice in the batch")
    amount = np.array([i.amount for i in invoices], dtype="float64")
    open_amount = np.array(
        [np.nan if i.open_amount is None else i.open_amount for i in invoices], dtype="float64"
    )
    given = [invoice.attributes for invoice in invoices]
    attributes = None
    if any(given):
        declared = {} if scorer is None else declared_invoice_kinds(scorer)
        for position, values in enumerate(given):
            for name, value in (values or {}).items():
                kind = declared.get(name)
                if kind is None:
                    raise RefusedRequestError(
                        f"invoices[{position}].attributes.{name} is not an invoice feature "
                        "declared by the model"
                    )
                if kind == "numeric" and isinstance(value, str):
                    raise RefusedRequestError(
                        f"invoices[{position}].attributes.{name} must be a number"
                    )
        attributes = declared_attribute_arrays(scorer, given)
    return OpenInvoices(
        invoice_id=np.array(ids, dtype=object),
        customer_id=np.array([i.customer_id for i in invoices], dtype=object),
        issue_day=issue,
        due_day=ordinal_days(i.due_date for i in invoices),
        amount=amount,
        open_amount=np.where(np.isnan(open_amount), amount, open_amount),
        # A dispute date implies an open dispute (a date after as_of is refused with the state).
        disputed=np.array([i.disputed or i.dispute_date is not None for i in invoices], bool),
        attributes=attributes,
    )


def _positions(name: str, where) -> str:
    """The first five positions of a list named in a warning (`invoices[3], ...`): positions,
    never the caller's ids."""
    return ", ".join(f"{name}[{k}]" for k in where[:5]) + (" ..." if len(where) > 5 else "")


def _day(value: date | None) -> int:
    return NO_DAY if value is None else value.toordinal() - EPOCH_ORDINAL


def request_state(
    request: ScoreRequest,
    customer_ids: np.ndarray,
    today: date,
    rate: np.ndarray | None = None,
    warnings: list[str] | None = None,
) -> DunningState:
    """The dunning state the request reports, per planned invoice (the request's first, then
    the snapshot's other open invoices of its customers: `customer_ids`), NaN / NO_DAY where it
    says nothing; a customer's state covers all its invoices;
    refuses dates after as_of where only the past can be reported, naming the field. Amounts
    in the model's currency: `rate` per request invoice (default 1), as for its open amount.

    One pass over the request's (at most MAX_BATCH) invoices to read nested lists; the rules
    that use the state are vectorised.
    """
    state = DunningState.empty(len(customer_ids))  # the request's invoices, then the snapshot's
    limit = _day(today)

    def past(value: date | None, where: str) -> int:
        day = _day(value)
        if day != NO_DAY and day > limit:
            raise RefusedRequestError(f"{where} is after as_of {today}")
        return day

    for k, invoice in enumerate(request.invoices):
        where = f"invoices[{k}]"
        reminders = invoice.reminders or []
        sent = np.array(
            [
                past(r.sent_date, f"{where}.reminders[{j}].sent_date")
                for j, r in enumerate(reminders)
            ],
            dtype="int64",
        )
        if len(sent):
            # Steps reached: the highest step reported; a list without steps counts its
            # reminders (a nudge without a step, e.g. before a promised date, adds none).
            steps = [r.step for r in reminders if r.step is not None]
            state.reminders_reported[k] = max(steps) if steps else len(sent)
            state.last_reminder_day[k] = sent.max()
            # What was sent is read by its channel: a formal notice is one because it was sent
            # as one, whatever its step number.
            channels = np.array([r.channel for r in reminders], dtype=object)
            state.top_level_sent[k] = level_of(channels).max()
            notices = sent[channels == NOTICE_CHANNEL]
            if len(notices):
                state.notice_day[k] = notices.max()
        for j, review in enumerate(invoice.reviews or []):
            done = past(review.done_on, f"{where}.reviews[{j}].done_on")
            state.review_day[k] = latest_day(state.review_day[k], done)
        promise = invoice.promise
        left = invoice.amount if invoice.open_amount is None else invoice.open_amount
        to_model = 1.0 if rate is None else float(rate[k])
        if promise is not None:
            state.promise_made_day[k] = past(promise.made_on, f"{where}.promise.made_on")
            state.promise_day[k] = _day(promise.promised_date)
            # In the model's currency, as the open amount it is weighed against.
            amount = np.nan if promise.amount is None else promise.amount
            state.promise_amount[k] = amount * to_model
        if invoice.hold is not None:
            state.hold_until_day[k] = _day(invoice.hold.until)
        if invoice.dispute_date is not None:
            state.dispute_day[k] = past(invoice.dispute_date, f"{where}.dispute_date")
        if invoice.payment_plan is not None:
            plan = invoice.payment_plan
            agreed = past(plan.agreed_on, f"{where}.payment_plan.agreed_on")
            total = sum(i.amount for i in plan.instalments)
            if warnings is not None and not plan_covers(total, left):
                warnings.append(
                    f"{where}.payment_plan: its instalments total less than the open amount: "
                    "the plan is not applied, the invoice is dunned on its normal track for "
                    "all of it (send a plan covering what is left to pay)"
                )
            instalments = len(plan.instalments)  # in due-date order (the schema checks)
            found, due, amount_left, since = current_instalments(
                np.zeros(instalments, dtype="int64"),
                ordinal_days(i.due_date for i in plan.instalments),
                np.full(instalments, agreed, dtype="int64"),
                np.array([i.amount * to_model for i in plan.instalments], dtype="float64"),
                np.array([left * to_model]),
            )
            if len(found):
                state.plan_due_day[k], state.plan_amount[k] = due[0], amount_left[0]
                state.plan_since_day[k] = since[0]
                state.plan_reminders[k] = reminders_since(reminders, sent, since[0])
    if request.customers:
        _spread_customer_state(state, request.customers, customer_ids, past)
    return state


def token_promise_warnings(
    state: DunningState, invoices: OpenInvoices, n: int, min_share: float
) -> list[str]:
    """A warning per request invoice whose promise (sent, or the snapshot's) is a token one
    (`DunningState.token_promises`: planning drops it, batch and online alike)."""
    left = np.where(np.isnan(invoices.open_amount), invoices.amount, invoices.open_amount)
    token = state.token_promises(left, min_share)[:n]
    return [
        f"invoices[{k}].promise: its amount is less than {min_share:.0%} of what is left to "
        "pay: dunning goes on for the invoice (promises.min_share)"
        for k in np.flatnonzero(token)
    ]


def plans_sent_back(
    request: ScoreRequest, basis: dict[str, np.ndarray], today: int
) -> tuple[list[dict | None], list[list[str] | None]]:
    """Per request invoice: the plan it sent back if no event changed it since (else None),
    and the events since (None where no plan was sent back). Refuses an id this service did
    not write, by position."""
    kept: list[dict | None] = []
    changes: list[list[str] | None] = []
    for k, invoice in enumerate(request.invoices):
        if invoice.planned is None:
            kept.append(None)
            changes.append(None)
            continue
        action, before = read_plan_id(invoice.planned, f"invoices[{k}].planned")
        events = changed_events(before, basis_of(basis, k))
        if not events and action["a"] == "wait" and action["d"] <= today:
            events = [EVENT_DECISION_DAY]
        kept.append(None if events else action)
        changes.append(events)
    return kept, changes


def reported_reminders(
    request: ScoreRequest, n: int, in_history: np.ndarray, snapshot_as_of: pd.Timestamp
) -> ReportedReminders:
    """The reminders the request reports that the snapshot cannot hold (all of an invoice it
    does not hold; from its as-of date on for one it does), per planned invoice (`n`: the
    request's first)."""
    cut = day_number(snapshot_as_of)
    kept = [
        (k, r)
        for k, invoice in enumerate(request.invoices)
        for r in invoice.reminders or ()
        if not in_history[k] or _day(r.sent_date) >= cut
    ]
    return ReportedReminders.of_events(
        n,
        np.array([k for k, _ in kept], dtype="int64"),
        ordinal_days(r.sent_date for _, r in kept),
        np.array([r.channel for _, r in kept], dtype=object),
        np.array([np.nan if r.step is None else r.step for _, r in kept], dtype="float64"),
    )


def customers_without_invoices(request: ScoreRequest) -> list[str]:
    """A warning for each `customers` entry whose customer has no invoice in the request: its
    state was not used (by position; ids are the caller's data)."""
    asked = {invoice.customer_id for invoice in request.invoices}
    unused = [j for j, c in enumerate(request.customers) if c.customer_id not in asked]
    if not unused:
        return []
    listed = _positions("customers", unused)
    return [f"{listed}: no invoice of this customer in the request, its state was not used"]


def reminders_since(reminders: list, sent: np.ndarray, since: int) -> float:
    """Steps of a plan's current instalment already sent: the reminders after `since` (the
    previous instalment's due day, or the agreement), or the highest step reported among them
    when higher (a step reported is never planned again)."""
    if since == NO_DAY:
        return 0.0
    after = sent > since
    steps = [r.step for r, later in zip(reminders, after, strict=True) if later and r.step]
    return float(max(int(np.count_nonzero(after)), *steps, 0))


def reminders_under_stored_plans(
    request: ScoreRequest, reported: DunningState, state: DunningState
) -> DunningState:
    """Reminders a request reports for an invoice whose plan only the snapshot knows count
    towards its current instalment too (the snapshot's count stops at the snapshot): the more
    of the two, as both may list the same reminders."""
    counts = state.plan_reminders.copy()
    stored_plan = state.on_plan() & ~reported.on_plan()
    for k, invoice in enumerate(request.invoices):
        if not invoice.reminders or not stored_plan[k]:
            continue
        sent = ordinal_days(r.sent_date for r in invoice.reminders)
        after = reminders_since(invoice.reminders, sent, state.plan_since_day[k])
        counts[k] = max(np.nan_to_num(counts[k]), after)
    return replace(state, plan_reminders=counts)


def _spread_customer_state(
    state: DunningState,
    customers: list[CustomerStateIn],
    customer_ids: np.ndarray,
    past: Callable[[date | None, str], int],
) -> None:
    """Each reported customer's state over all its planned invoices (in place): every report
    with a planned invoice read once (`past` checks its dates, in the order its customer first
    appears), then spread by array indexing, whatever its number of open invoices."""
    entry = positions(pd.Index([c.customer_id for c in customers]), customer_ids)
    contact = np.full(len(customers), NO_DAY, dtype="int64")
    held = np.full(len(customers), NO_DAY, dtype="int64")
    debit = np.full(len(customers), np.nan)
    failed = np.full(len(customers), NO_DAY, dtype="int64")
    for j in pd.unique(entry[entry >= 0]).tolist():
        customer, where = customers[j], f"customers[{j}]"
        contact[j] = past(customer.last_contact_date, f"{where}.last_contact_date")
        if customer.hold is not None:
            held[j] = _day(customer.hold.until)
        if customer.direct_debit is not None:
            debit[j] = float(customer.direct_debit)
        failed[j] = past(customer.direct_debit_failed_date, f"{where}.direct_debit_failed_date")
    rows = np.flatnonzero(entry >= 0)
    reported = entry[rows]
    state.customer_contact_day[rows] = contact[reported]
    state.hold_until_day[rows] = latest_day(state.hold_until_day[rows], held[reported])
    state.direct_debit[rows] = debit[reported]
    state.debit_failed_day[rows] = failed[reported]


def stored_state(columns: dict[str, np.ndarray], rows: np.ndarray) -> DunningState:
    """The snapshot's dunning state (the bundle's `state_...` columns) of each planned invoice,
    by bundle row; nothing known where the bundle does not hold it (row -1)."""
    stored = state_of_columns(columns, np.maximum(rows, 0))
    nothing = DunningState.empty(len(rows))
    return DunningState(
        **{
            item.name: np.where(rows >= 0, getattr(stored, item.name), getattr(nothing, item.name))
            for item in fields(DunningState)
        }
    )


def settled_warning(
    sent: OpenInvoices, sent_rows: np.ndarray, bundle: PortfolioBundle | None
) -> list[str]:
    """A warning for invoices the snapshot knows but not as open (settled or written off by its
    as-of date): they are scored as sent, as open, and the caller is told which, by position."""
    if bundle is None or sent.in_history is None:
        return []
    where = np.flatnonzero(sent.in_history & (sent_rows < 0))
    if not len(where):
        return []
    listed = _positions("invoices", where)
    return [
        f"{len(where)} invoice(s) are settled or written off in the snapshot ({listed}): scored "
        "as open, as sent; leave out an invoice paid in full"
    ]


def part_paid_warning(
    request: ScoreRequest,
    sent: OpenInvoices,
    sent_rows: np.ndarray,
    bundle: PortfolioBundle | None,
) -> list[str]:
    """A warning where the request leaves `open_amount` out (its default: the whole amount) for
    invoices the snapshot knows as part-paid: they are scored on the whole amount, as sent, and
    the caller is told which (by position: ids are the caller's data)."""
    if bundle is None:
        return []
    omitted = np.array([invoice.open_amount is None for invoice in request.invoices], dtype=bool)
    known = omitted & (sent_rows >= 0)
    if not known.any():
        return []
    stored = np.asarray(bundle.open_invoice_arrays["open_amount"], dtype="float64")
    part_paid = np.zeros(len(sent_rows), dtype=bool)
    part_paid[known] = stored[sent_rows[known]] < sent.amount[known] - 0.005
    where = np.flatnonzero(part_paid)
    if not len(where):
        return []
    listed = _positions("invoices", where)
    return [
        f"{len(where)} invoice(s) sent without open_amount are part-paid in the snapshot "
        f"({listed}): scored on their whole amount as sent; send open_amount to score what is "
        "left to pay"
    ]


def refuse_other_customers_invoices(sent: OpenInvoices, bundle: PortfolioBundle | None) -> None:
    """Refuses an invoice id the snapshot holds open under another customer: its history
    (reminders, promises, a plan) is that customer's case, never to be planned under this one.
    Named by position; neither customer is named."""
    if bundle is None:
        return
    rows = positions(bundle.invoice_index, sent.invoice_id)
    found = np.flatnonzero(rows >= 0)
    owner = bundle.open_invoice_arrays["customer_id"][rows[found]]
    other = found[owner != sent.customer_id[found]]
    if len(other):
        raise RefusedRequestError(
            f"invoices[{other[0]}].customer_id is not the customer the snapshot holds this "
            "invoice_id under: send each invoice with its own customer"
        )


def request_digest(request: ScoreRequest) -> str:
    """A request's id when it brings none: a digest of its content (the same request, the same
    id), never its values."""
    body = request.model_dump_json(exclude={"request_id"}).encode("utf-8")
    return "sha256-" + hashlib.sha256(body).hexdigest()[:32]


def currency_rates(
    currencies: list[str], dunning: DunningConfig, model_currencies: tuple[str, ...]
) -> np.ndarray:
    """Value of one unit of each invoice's currency in the model's: 1 for the model's own, the
    policy's rate for another; a currency with neither is refused, naming it."""
    rates = {code: 1.0 for code in model_currencies}  # scored as the model learned them
    if dunning.currencies.base in model_currencies:
        rates.update({k: v for k, v in dunning.currencies.rates.items() if k not in rates})
    unknown = sorted({c for c in currencies} - set(rates))
    if unknown:
        first = currencies.index(unknown[0])
        raise RefusedRequestError(
            f"invoices[{first}].currency {unknown[0]}: the model learned from amounts in "
            f"{', '.join(model_currencies)} and the policy has no rate for "
            f"{', '.join(unknown)} (currencies.rates in configs/dunning.yaml)"
        )
    return np.array([rates[c] for c in currencies], dtype="float64")


def declared_invoice_kinds(scorer: PaymentRiskScorer) -> dict[str, str]:
    """Declared invoice features of the model: name -> numeric or categorical."""
    return {
        spec.feature_name: spec.kind
        for spec in scorer.feature_settings.declared
        if spec.table == "invoices"
    }


def target_models(scorer: PaymentRiskScorer) -> list[TargetModel]:
    """/v1/status: the model of each target and whether it could be learned."""
    summary = getattr(scorer, "metadata", {}).get("registered_models")
    if summary is None:  # a scorer fitted outside `payrisk train` (tests, notebooks)
        summary = scorer.model_summary() if hasattr(scorer, "model_summary") else {}
    return [
        TargetModel(
            target=target,
            model=values["model"],
            learnable=values.get("learnable", True),
            note=values.get("not_learnable"),
        )
        for target, values in summary.items()
    ]


def _dates(values: np.ndarray) -> list:
    """datetime64 values as `datetime.date` (None for NaT), converted in one call."""
    return np.asarray(values, dtype="datetime64[D]").tolist()


def _records(fields: dict[str, list]) -> list[dict]:
    """Column lists (one Python conversion per column) as one dict per row."""
    names = list(fields)
    return [dict(zip(names, row, strict=True)) for row in zip(*fields.values(), strict=True)]


def policy_fields(take) -> dict[str, list]:
    """Which policy chose each next action, why, its expected effect and the alternatives."""
    probability = take("response_probability").astype("float64")
    effect = take("expected_effect").astype("float64")
    return {
        "policy": take("policy").tolist(),
        "policy_reason": take("policy_reason").tolist(),
        "response_days": take("response_days").astype("int64").tolist(),
        "response_probability": [None if np.isnan(p) else round(float(p), 4) for p in probability],
        "expected_effect": [None if np.isnan(e) else round(float(e), 4) for e in effect],
        "alternatives": [options or [] for options in take("alternatives").tolist()],
    }


def invoice_scores(
    columns: dict[str, np.ndarray],
    rows: np.ndarray,
    known: np.ndarray,
    currency: list[str],
    rate: np.ndarray,
    policy: DunningConfig,
    language: str,
    contacts: dict[str, list[dict]],
    continuity: dict[str, list],
) -> list[dict]:
    """The answer's invoices (`rows` of the portfolio's arrays, in the request's order; `known`,
    `currency` and `rate` per request invoice), in the worklist's order and ranked among
    themselves; amounts back in each invoice's currency. Plain records (`InvoiceScore`'s
    fields), which the answer validates in one call."""
    order = np.argsort(np.asarray(columns["priority_rank"])[rows], kind="stable")
    picked = rows[order]

    def take(name: str) -> np.ndarray:
        return np.asarray(columns[name])[picked]

    step = take("step")
    invoice_rate = rate[order]
    currencies = [currency[k] for k in order]
    penalties = penalty_records(take, invoice_rate, currencies, policy)
    kept = take("promise_kept_probability").astype("float64")
    actions = _records(  # each invoice's next action, nested in its record below
        {
            "action": take("action").tolist(),
            "step": [None if np.isnan(s) else int(s) for s in step],
            "channel": take("channel").tolist(),
            "template": take("template").tolist(),
            "actor": take("actor").tolist(),
            "action_date": _dates(take("action_date")),
            **policy_fields(take),
            "state_reason": take("state_reason").tolist(),
            "ladder_reason": take("ladder_reason").tolist(),
            "contact": contact_refs(
                contacts, take("customer_id"), take("action"), take("action_date")
            ),
            **{name: [values[k] for k in order] for name, values in continuity.items()},
            "amount_due": (take("amount_due").astype("float64") / invoice_rate).round(2).tolist(),
            "penalties": penalties,
        }
    )
    rows_out = _records(
        {
            "invoice_id": take("invoice_id").tolist(),
            "customer_id": take("customer_id").tolist(),
            "known_customer": np.asarray(known)[order].tolist(),
            "currency": currencies,
            "late_probability": np.round(take("late_probability"), 6).tolist(),
            "default_probability": np.round(take("default_probability"), 6).tolist(),
            "expected_payment_date": _dates(take("expected_payment_date")),
            "expected_payment_date_low": _dates(take("expected_payment_date_low")),
            "expected_payment_date_high": _dates(take("expected_payment_date_high")),
            "expected_days_late": take("expected_days_late").astype("int64").tolist(),
            "expected_loss": (take("expected_loss").astype("float64") / invoice_rate)
            .round(2)
            .tolist(),
            "priority_rank": list(range(1, len(picked) + 1)),
            "scenario": take("scenario").tolist(),
            "reasons": [reasons or [] for reasons in take("reasons").tolist()],
            "promise_kept_probability": [None if np.isnan(p) else round(float(p), 4) for p in kept],
            "promise_reason": promise_reasons(take, language),
            "next_action": actions,
        }
    )
    return rows_out


def penalty_records(
    take, rate: np.ndarray, currency: list[str], policy: DunningConfig
) -> list[dict | None]:
    """The penalties of each answered invoice (None where its step does not mention them), in
    its currency: amounts computed in the model's currency are converted back, the indemnity
    from the configured amount (not from its rounded base-currency value)."""
    total = take("penalty_total").astype("float64")
    mentions = ~np.isnan(total)
    if not mentions.any():
        return [None] * len(total)
    rules = policy.penalties
    interest = round_cents(np.nan_to_num(take("penalty_interest").astype("float64")) / rate)
    indemnity = np.where(
        np.nan_to_num(take("penalty_indemnity").astype("float64")) > 0,
        round_cents(policy.indemnity_in_base() / rate),
        0.0,
    )
    days = np.nan_to_num(take("penalty_days").astype("float64")).astype("int64")
    out: list[dict | None] = []
    for k in range(len(total)):
        if not mentions[k]:
            out.append(None)
            continue
        out.append(
            {
                "days_late": int(days[k]),
                "annual_rate": rules.annual_rate,
                "interest": float(interest[k]),
                "indemnity": float(indemnity[k]),
                "total": float(round_cents(interest[k] + indemnity[k])),
                "currency": currency[k],
            }
        )
    return out


def promise_reasons(take, language: str) -> list[str | None]:
    """What each open promise's P(kept) rests on, in plain words."""
    kept = take("promises_kept").astype("float64")
    resolved = take("promises_resolved").astype("float64")
    rate = take("promise_portfolio_rate").astype("float64")
    out: list[str | None] = []
    for k, r, p in zip(kept.tolist(), resolved.tolist(), rate.tolist(), strict=True):
        if np.isnan(r):
            out.append(None)
        elif language == "fr":
            out.append(
                f"{int(k)} promesse(s) tenue(s) sur {int(r)} pour ce client ; "
                f"{p:.0%} sur l'ensemble du portefeuille"
            )
        else:
            out.append(f"kept {int(k)} of {int(r)} past promises; {p:.0%} across the portfolio")
    return out


def contact_refs(
    contacts: dict[str, list[dict]], customer: np.ndarray, action: np.ndarray, day: np.ndarray
) -> list[dict | None]:
    """For each contact action, its customer's contact of that day (`ContactRef`'s fields)."""
    by_day = {
        (who, contact["action_date"]): {
            name: contact[name] for name in ("action_date", "action", "channel", "step")
        }
        for who, planned in contacts.items()
        for contact in planned
    }
    return [
        by_day.get((who, when)) if what in CONTACT_ACTIONS else None
        for who, what, when in zip(customer.tolist(), action.tolist(), _dates(day), strict=True)
    ]


def customer_contacts(invoices: dict[str, np.ndarray]) -> dict[str, list[dict]]:
    """Each customer's planned contacts (reviews left out; `Contact`'s fields), first one first;
    plain arrays, no frame (the service answers single invoices)."""
    groups = action_group_arrays(invoices)
    out: dict[str, list[dict]] = {}
    dates = _dates(groups["action_date"])
    for k, action in enumerate(np.asarray(groups["action"]).tolist()):
        if action not in CONTACT_ACTIONS:
            continue
        step = groups["step"][k]
        out.setdefault(groups["customer_id"][k], []).append(
            {
                "action_date": dates[k],
                "action": action,
                "channel": groups["channel"][k],
                "actor": groups["actor"][k],
                "step": None if np.isnan(step) else int(step),
                "invoice_ids": groups["invoice_ids"][k],
                "open_amount": float(groups["open_amount"][k]),
            }
        )
    return out


def customer_plans(
    columns: dict[str, np.ndarray],
    invoices: dict[str, np.ndarray],
    from_snapshot: np.ndarray,
    currency: str,
    contacts: dict[str, list[dict]],
) -> list[dict]:
    """The answer's customers (sorted by id; `CustomerPlan`'s fields) from the plan's arrays;
    their `contacts` (`customer_contacts` of the per-invoice plan, `invoices`), and which of
    their invoices came from the snapshot."""
    extra: dict[str, list[str]] = {}
    for customer, invoice in zip(
        np.asarray(invoices["customer_id"])[from_snapshot],
        np.asarray(invoices["invoice_id"])[from_snapshot],
        strict=True,
    ):
        extra.setdefault(customer, []).append(invoice)
    ids = np.asarray(columns["customer_id"]).tolist()
    rows = _records(
        {
            "customer_id": ids,
            "scenario": np.asarray(columns["scenario"]).tolist(),
            "late_probability": np.round(
                np.asarray(columns["late_probability"], dtype="float64"), 6
            ).tolist(),
            "default_probability": np.round(
                np.asarray(columns["default_probability"], dtype="float64"), 6
            ).tolist(),
            "open_amount": np.asarray(columns["open_amount"], dtype="float64").tolist(),
            "expected_loss": np.asarray(columns["expected_loss"], dtype="float64").tolist(),
            "next_contact_date": _dates(columns["next_contact_date"]),
            "next_contact_channel": np.asarray(columns["next_contact_channel"]).tolist(),
            "next_contact_action": np.asarray(columns["next_contact_action"]).tolist(),
            "next_contact_invoices": np.asarray(columns["next_contact_invoices"])
            .astype("int64")
            .tolist(),
        }
    )
    for row in rows:
        mine = contacts.get(row["customer_id"], [])
        row["currency"] = currency
        row["next_contact_invoice_ids"] = mine[0]["invoice_ids"] if mine else []
        row["contacts"] = mine
        row["invoices_from_snapshot"] = sorted(extra.get(row["customer_id"], []))
    return rows


SnapshotCheck = Callable[[History], None]
"""Raises SnapshotError if a loaded history cannot serve (e.g. it does not fit the scorer)."""


def usable_with(scorer: PaymentRiskScorer, dunning: DunningConfig) -> SnapshotCheck:
    """A trial run of the scoring path on a new snapshot before it replaces the old one: one
    invoice of a known customer and one of a new customer, planned without reasons. A snapshot
    that reads but lacks a stream or a column the scorer needs fails here, not in a request."""

    def check(history: History) -> None:
        known = history.customer_ids[0] if len(history.customer_ids) else "unknown"
        day = ordinal_days([history.as_of.date()])[0]
        invoices = OpenInvoices(
            invoice_id=np.array(["trial-1", "trial-2"], dtype=object),
            customer_id=np.array([known, "payrisk-trial-new-customer"], dtype=object),
            issue_day=np.array([day - 10, day - 10]),
            due_day=np.array([day + 20, day + 20]),
            amount=np.array([100.0, 100.0]),
            open_amount=np.array([100.0, 100.0]),
            disputed=np.zeros(2, dtype=bool),
        )
        try:
            plan_portfolio(scorer, history, invoices, history.as_of, dunning, 0)
        except Exception as error:  # whatever breaks, the file is the cause: refuse it
            raise SnapshotError(
                f"snapshot does not fit the model ({type(error).__name__})"
            ) from None

    return check


class SnapshotHolder:
    """The latest good snapshot; reloads when the file changes, keeps the old one if it is bad."""

    def __init__(
        self,
        path: Path | None,
        history: History | None = None,
        check: SnapshotCheck | None = None,
        model_version: str | None = None,
        model_fingerprint: str | None = None,
    ) -> None:
        """Watch the snapshot file at `path`; or, with no path, hold `history` as it is. A new
        file replaces the current snapshot only once it loads, was built by the served model
        (`model_fingerprint`, else `model_version`, when given) and passes `check`."""
        self.path = path
        self.history: History | None = history
        self.header: dict = {}
        self.problem: str | None = None
        self.check = check
        self.model_version = model_version
        self.model_fingerprint = model_fingerprint
        self._stamp: tuple[float, int] | None = None
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        if self.path is None:
            return
        try:
            stat = os.stat(self.path)
        except OSError:
            self.problem = f"{self.path.name}: snapshot file not found"
            return
        stamp = (stat.st_mtime, stat.st_size)
        if stamp == self._stamp:
            return
        with self._lock:
            if stamp == self._stamp:
                return
            try:
                history, header = load_history(self.path)
                self._same_model(header)
                if self.check is not None:
                    self.check(history)
            except SnapshotError as error:
                self._refuse(str(error))
            except Exception as error:
                self._refuse(f"{self.path.name}: not a usable snapshot ({type(error).__name__})")
            else:
                self.history, self.header, self.problem = history, header, None
                log.info("snapshot loaded: as of %s", history.as_of.date())
            self._stamp = stamp

    def _same_model(self, header: dict) -> None:
        """SnapshotError for a snapshot built by another model than the one served: its
        probabilities, plans and worklist would not be the served model's (issue 26: a new
        champion's nightly snapshot under a service still running the old one)."""
        metadata = header.get("metadata", {})
        built, version = metadata.get("model_fingerprint"), metadata.get("model_version")
        if self.model_fingerprint is not None and built is not None:
            other = built != self.model_fingerprint
        elif self.model_version is not None and version is not None:
            other = version != self.model_version
        else:
            return
        if other:
            raise SnapshotError(
                f"{self.path.name if self.path else 'snapshot'}: built by model "
                f"{str(version)[:80]!r}, not by the served model {self.model_version!r}: run "
                "`payrisk snapshot` with the served model, or restart the service to serve the "
                "new one"
            )

    @property
    def snapshot_id(self) -> str | None:
        """The id the snapshot shares with the portfolio bundle written with it."""
        return self.header.get("metadata", {}).get("snapshot_id")

    def _refuse(self, reason: str) -> None:
        self.problem = f"{reason}; still serving the snapshot of {self.as_of or 'nothing'}"
        log.error("snapshot refused: %s", reason)

    @property
    def as_of(self) -> date | None:
        return self.history.as_of.date() if self.history is not None else None


# The per-invoice columns a worklist is grouped and ranked from (`action_groups`).
WORKLIST_INPUTS = (
    "customer_id", "invoice_id", "action", "channel", "actor", "step", "template", "scenario",
    "action_date", "open_amount", "default_probability", "expected_days_late",
)  # fmt: skip


@dataclass(frozen=True)
class Planning:
    """A request planned (`ScoringEngine.planned`): the portfolio's arrays (the request's
    invoices first, `n` of them, then the customers' other open invoices) and what an answer
    says beside them."""

    when: pd.Timestamp
    language: str
    policy: DunningConfig
    portfolio: PortfolioArrays
    n: int
    known: np.ndarray
    currency: list[str]
    rate: np.ndarray
    continuity: dict
    warnings: list[str]
    freshness: dict


class ScoringEngine:
    def __init__(
        self,
        scorer: PaymentRiskScorer,
        model_version: str,
        model_source: str,
        snapshot: SnapshotHolder,
        dunning: DunningConfig,
        bundle: BundleHolder | None = None,
        max_age_days: int = 7,
        model_problem: str | None = None,
        clock: Callable[[], date] | None = None,
    ) -> None:
        """`bundle`: the portfolio bundle written with the snapshot (the customers' other open
        invoices, the worklist); `max_age_days`: a snapshot older than this at as_of is stale;
        `model_problem`: why the model is not the registry's (e.g. the registry is down);
        `clock`: today's date, the default `as_of` (None: the snapshot's day, for replays of
        a past day and for library use)."""
        self.scorer = scorer
        self.model_version = model_version
        self.model_source = model_source
        self.model_problem = model_problem
        self.snapshot = snapshot
        self.dunning = dunning
        self.bundle = bundle
        self.max_age_days = max_age_days
        self.clock = clock
        self._policy: tuple[object, DunningConfig] | None = None
        self.answers: AnswerLog[ScoreResponse] = AnswerLog()

    @property
    def model_currencies(self) -> tuple[str, ...]:
        """The currencies of the model's training data (older models: the policy's base)."""
        found = self.scorer.metadata.get("currencies") if hasattr(self.scorer, "metadata") else None
        return tuple(found) if found else (self.dunning.currencies.base,)

    def policy(self) -> DunningConfig:
        """The dunning policy, its recovery rate measured with the snapshot if not configured."""
        measured = self.snapshot.header.get("metadata", {}).get("recovery_rate")
        if self._policy is None or self._policy[0] != measured:
            self._policy = (measured, with_recovery_rate(self.dunning, measured))
        return self._policy[1]

    @property
    def workdays(self) -> np.busdaycalendar:
        return self.dunning.calendar.business_days

    def portfolio(self) -> PortfolioBundle | None:
        """The bundle written with the loaded snapshot, or None (none yet, or of another day)."""
        try:
            return self.paired_bundle()
        except BundleMissingError:
            return None

    def paired_bundle(self) -> PortfolioBundle:
        """The bundle written with the loaded snapshot (the same `snapshot_id`, or for older
        files the same day): the pages, the worklist and the plans read the pair the answers
        come from. BundleMissingError says why there is none."""
        if self.bundle is None:
            raise BundleMissingError("no portfolio bundle configured")
        if self.snapshot.history is None:
            raise BundleMissingError("no customer-history snapshot loaded yet")
        bundle = self.bundle.get(self.snapshot.snapshot_id)
        if bundle.as_of != self.snapshot.history.as_of:
            raise BundleMissingError(
                "the portfolio bundle is of another day than the snapshot: run `payrisk snapshot`"
            )
        return bundle

    def _history(self, as_of: date | None) -> tuple[History, pd.Timestamp]:
        self.snapshot.refresh()
        history = self.snapshot.history
        if history is None:
            raise NoSnapshotError("no customer-history snapshot loaded yet")
        when = pd.Timestamp(as_of) if as_of else self.today(history.as_of)
        if when < history.as_of:
            raise RefusedRequestError(
                f"as_of {when.date()} is before the snapshot's as-of date {history.as_of.date()}"
            )
        return history, when

    def today(self, snapshot_day: pd.Timestamp) -> pd.Timestamp:
        """The default `as_of`: today by the clock, a dunning system's day (a snapshot dated
        later than the clock, a ledger exported ahead of it, is answered on its own day)."""
        if self.clock is None:
            return snapshot_day
        return max(pd.Timestamp(self.clock()), snapshot_day)

    def freshness(self, history: History, when: pd.Timestamp) -> dict:
        age = int((when - history.as_of).days)
        return {
            "snapshot_as_of": history.as_of.date(),
            "snapshot_age_days": age,
            "stale": age > self.max_age_days,
        }

    def status(self) -> Status:
        self.snapshot.refresh()
        return Status(
            ready=self.snapshot.history is not None,
            model_version=self.model_version,
            model_source=self.model_source,
            model_problem=self.model_problem,
            snapshot_as_of=self.snapshot.as_of,
            snapshot_problem=self._pair_problem(),
            models=target_models(self.scorer),
        )

    def _pair_problem(self) -> str | None:
        """What is wrong with the newest snapshot file or its portfolio bundle, if anything."""
        problems = [self.snapshot.problem]
        if self.bundle is not None and self.snapshot.history is not None:
            try:
                self.paired_bundle()
            except BundleMissingError as error:
                problems.append(str(error))
            problems.append(self.bundle.problem)
        return "; ".join(dict.fromkeys(p for p in problems if p)) or None

    def _other_open_invoices(
        self, invoices: OpenInvoices, bundle: PortfolioBundle | None
    ) -> tuple[OpenInvoices | None, np.ndarray, np.ndarray]:
        """The snapshot's open invoices of the request's customers that the request did not
        send (what keeps a customer's plan the same whichever of its invoices are sent), their
        bundle rows, and the bundle row of each sent invoice (-1 where the bundle lacks it)."""
        none = np.array([], dtype="int64")
        sent_rows = np.full(len(invoices), -1, dtype="int64")
        if bundle is None:
            return None, none, sent_rows
        index = bundle.rows_of_customer
        rows = [index[c] for c in dict.fromkeys(invoices.customer_id.tolist()) if c in index]
        if not rows:
            return None, none, sent_rows
        table = bundle.open_invoice_arrays
        rows = np.concatenate(rows)
        mine = np.isin(table["invoice_id"][rows], invoices.invoice_id)
        found = rows[mine]
        sent_rows[positions(pd.Index(invoices.invoice_id), table["invoice_id"][found])] = found
        rows = rows[~mine]
        if not len(rows):
            return None, none, sent_rows
        others = OpenInvoices(
            **{name: values[rows] for name, values in table.items()},
            in_history=np.ones(len(rows), dtype=bool),
        )
        return others, rows, sent_rows

    def score(self, request: ScoreRequest) -> ScoreResponse:
        """The answer to a scoring request; a request id already answered gets the same answer
        (`AnswerLog`: ids are idempotency keys)."""
        if request.request_id is None:
            return self.plan(request)
        digest = request_digest(request)
        answer = self.answers.replay(request.request_id, digest)
        if answer is None:
            answer = self.answers.record(request.request_id, digest, self.plan(request))
        return answer

    def planned(self, request: ScoreRequest) -> Planning:
        """The batch path's `plan_portfolio` on the request's invoices and dunning state, with
        the customers' other open invoices (from the snapshot's bundle) planned with them."""
        history, when = self._history(request.as_of)
        policy = self.policy()
        language = request.language or policy.language
        sent = open_invoices_of(request, when.date(), self.scorer)
        currency = [invoice.currency for invoice in request.invoices]
        rate = currency_rates(currency, policy, self.model_currencies)
        converted = bool((rate != 1.0).any())
        if converted:
            sent = replace(sent, amount=sent.amount * rate, open_amount=sent.open_amount * rate)
        known = positions(history.customer_ids, sent.customer_id) >= 0
        sent = replace(sent, in_history=positions(history.invoice_ids, sent.invoice_id) >= 0)
        warnings: list[str] = []
        bundle = self.portfolio()
        if bundle is None:
            warnings.append(
                "no portfolio bundle for this snapshot: plans cover the invoices sent only "
                "(run `payrisk snapshot`)"
            )
        refuse_other_customers_invoices(sent, bundle)
        others, other_rows, sent_rows = self._other_open_invoices(sent, bundle)
        warnings += part_paid_warning(request, sent, sent_rows, bundle)
        warnings += settled_warning(sent, sent_rows, bundle)
        invoices = sent if others is None else _concat(sent, others)
        n = len(sent)
        requested = np.arange(len(invoices)) < n
        # What the request says of the dunning state wins over what the snapshot knew.
        state = request_state(request, invoices.customer_id, when.date(), rate, warnings)
        warnings += customers_without_invoices(request)
        if bundle is not None and bundle.state_arrays is not None:
            rows = np.concatenate([sent_rows, other_rows])
            reported = state
            state = state.over(stored_state(bundle.state_arrays, rows))
            state = reminders_under_stored_plans(request, reported, state)
        warnings += token_promise_warnings(state, invoices, n, policy.promises.min_share)
        # What each plan is decided on, and the plans sent back that no event changed.
        today = day_number(when)
        basis = bases(invoices.open_amount, state, today)
        kept, changes = plans_sent_back(request, basis, today)
        planned = planned_actions(kept, len(invoices)) if any(kept) else None
        portfolio = plan_portfolio(
            self.scorer,
            history,
            invoices,
            when,
            policy,
            language=language,
            explain=requested if request.with_reasons else np.zeros(len(invoices), dtype=bool),
            state=state,
            planned=planned,
            reported=reported_reminders(request, len(invoices), sent.in_history, history.as_of),
        )
        if planned is not None:  # a kept plan that another invoice's new plan moved says so
            moved = moved_by_others(planned, portfolio.invoices, n, today, self.workdays)
            changes = [[EVENT_CUSTOMER_PLAN] if moved[k] else c for k, c in enumerate(changes)]
        continuity = {
            "plan_id": plan_ids(portfolio.invoices, np.arange(n), basis),
            "plan_change": changes,
        }
        freshness = self.freshness(history, when)
        if freshness["stale"]:
            warnings.append(
                f"the snapshot is {freshness['snapshot_age_days']} days old at as_of: payments "
                "and invoices since are unknown to it"
            )
        if converted:
            warnings.append(
                f"amounts in {', '.join(sorted(set(currency) - {policy.currencies.base}))} "
                f"converted to {policy.currencies.base} with the policy's rates for scoring"
            )
        return Planning(
            when=when,
            language=language,
            policy=policy,
            portfolio=portfolio,
            n=n,
            known=known,
            currency=currency,
            rate=rate,
            continuity=continuity,
            warnings=warnings,
            freshness=freshness,
        )

    def plan(self, request: ScoreRequest) -> ScoreResponse:
        """Score and plan the request's invoices (`planned`), answered from the portfolio's
        arrays: a request is usually a single invoice, so no DataFrame is built for it."""
        planning = self.planned(request)
        portfolio, n, policy = planning.portfolio, planning.n, planning.policy
        contacts = customer_contacts(portfolio.invoices)
        # One validation of the whole answer: object by object, pydantic's own overhead cost
        # as much as scoring 1,000 invoices.
        return ScoreResponse.model_validate(
            {
                "request_id": request.request_id or request_digest(request),
                "model_version": self.model_version,
                "as_of": planning.when.date(),
                "language": planning.language,
                "invoices": invoice_scores(
                    portfolio.invoices,
                    np.arange(n),
                    planning.known,
                    planning.currency,
                    planning.rate,
                    policy,
                    planning.language,
                    contacts,
                    planning.continuity,
                ),
                "customers": customer_plans(
                    portfolio.customers,
                    portfolio.invoices,
                    np.arange(len(portfolio.invoices["invoice_id"])) >= n,
                    policy.currencies.base,
                    contacts,
                ),
                "warnings": planning.warnings,
                **planning.freshness,
            }
        )

    def profile(self, request: CustomerRequest) -> CustomerProfile:
        history, when = self._history(request.as_of)
        query = pd.DataFrame(
            {
                "invoice_id": ["profile"],
                "customer_id": [request.customer_id],
                "issue_date": [when],
                "due_date": [when],
                "amount": [1.0],
                "snapshot_date": [when],
                "in_history": [False],
            }
        )
        f = self.scorer.features(history, query).iloc[0]
        buckets = {
            AGED_BUCKETS[1]: f["past_due_1_30_amount"],
            AGED_BUCKETS[2]: f["past_due_31_60_amount"],
            AGED_BUCKETS[3]: f["past_due_61_90_amount"],
            AGED_BUCKETS[4]: f["past_due_over_90_amount"],
        }
        return CustomerProfile(
            model_version=self.model_version,
            as_of=when.date(),
            customer_id=request.customer_id,
            known_customer=request.customer_id in history.customer_ids,
            currency=self.dunning.currencies.base,
            settled_invoices=int(f["settled_invoices"]),
            late_share=_none_if_nan(f["late_share"]),
            mean_days_late=_none_if_nan(f["mean_days_late"]),
            recent_mean_days_late=_none_if_nan(f["recent_mean_days_late"]),
            max_days_late=_none_if_nan(f["max_days_late"]),
            dispute_rate=_none_if_nan(f["dispute_rate"]),
            open_invoices=int(f["open_invoices"]),
            open_amount=cents(f["open_amount"]),
            past_due_amount=cents(f["past_due_amount"]),
            aged_balance={k: cents(v) for k, v in buckets.items()},
            credit_limit=_none_if_nan(f["credit_limit"]),
            days_since_last_settlement=_none_if_nan(f["days_since_last_settlement"]),
            **self.freshness(history, when),
        )

    def credit_review(self, request: CreditReviewRequest) -> CreditReviewResponse:
        history, when = self._history(request.as_of)
        policy = self.policy()
        language = request.language or policy.language
        decision = review_credit(
            self.scorer,
            history,
            request.customer_id,
            request.requested_amount,
            request.terms_days,
            when,
            policy.credit_review,
            formats_of(policy, language),
            policy.legal_terms,
        )
        return CreditReviewResponse(
            model_version=self.model_version,
            as_of=when.date(),
            customer_id=request.customer_id,
            known_customer=request.customer_id in history.customer_ids,
            language=language,
            currency=policy.currencies.base,
            recommendation=decision.recommendation,
            conditions=decision.conditions,
            grounds=decision.grounds,
            max_approvable_amount=decision.max_approvable_amount,
            max_approvable_bound=decision.max_approvable_bound,
            late_probability=round(decision.late_probability, 6),
            default_probability=round(decision.default_probability, 6),
            expected_days_late=decision.expected_days_late,
            open_amount=decision.open_amount,
            exposure=decision.exposure,
            credit_limit=decision.credit_limit,
            reasons=decision.reasons,
            warnings=decision.warnings,
            **self.freshness(history, when),
        )

    def worklist(self, request: WorklistRequest) -> WorklistResponse:
        """Actions due on or before `day`, by priority, from the snapshot's portfolio bundle."""
        self.snapshot.refresh()
        bundle = self.portfolio()
        if bundle is None:
            raise NoSnapshotError(
                "no portfolio bundle for the loaded snapshot yet: run `payrisk snapshot`"
            )
        if request.day:
            day = pd.Timestamp(request.day)
        else:  # the first working day from today (or the snapshot's day): collectors' today
            start = self.today(bundle.as_of)
            first = next_working_day(np.array([day_number(start)]), self.workdays)[0]
            day = pd.Timestamp(np.datetime64(int(first), "D"))
        actions, warnings = self._worklist_actions(request, bundle, day)
        # Direct debit collects by itself: nothing for anyone to do.
        keep = (actions["action_date"] <= day) & (actions["action"] != ACTION_DIRECT_DEBIT)
        if request.actor:
            keep &= actions["actor"] == request.actor
        if request.channel:
            keep &= actions["channel"] == request.channel
        chosen = actions.loc[keep]
        total = len(chosen)
        pages = max((total + request.page_size - 1) // request.page_size, 1)
        start = (request.page - 1) * request.page_size
        items = [
            WorklistItem(
                priority_rank=int(row.priority_rank),
                customer_id=row.customer_id,
                action_date=row.action_date.date(),
                action=row.action,
                channel=row.channel,
                actor=row.actor,
                step=None if pd.isna(row.step) else int(row.step),
                template=row.template,
                scenario=row.scenario,
                invoice_ids=list(row.invoice_ids),
                open_amount=float(row.open_amount),
                expected_loss=float(row.expected_loss),
            )
            for row in chosen.iloc[start : start + request.page_size].itertuples(index=False)
        ]
        freshness = self.freshness(self.snapshot.history, max(day, bundle.as_of))
        if freshness["stale"] and not request.invoices:
            warnings.append(
                f"the snapshot is {freshness['snapshot_age_days']} days old on {day.date()}: "
                "payments and invoices since are unknown to it"
            )
        return WorklistResponse(
            model_version=self.model_version,
            as_of=bundle.as_of.date(),
            day=day.date(),
            currency=self.dunning.currencies.base,
            total=total,
            page=request.page,
            pages=pages,
            items=items,
            warnings=warnings,
            **freshness,
        )

    def _worklist_actions(
        self, request: WorklistRequest, bundle: PortfolioBundle, day: pd.Timestamp
    ) -> tuple[pd.DataFrame, list[str]]:
        """The worklist's actions and what to say of them: the snapshot's plan, where the
        request reports nothing; else the customers it names planned as of `day` with what it
        reports (`planned`, as `/v1/score` plans them), in the snapshot's plan of the others,
        ranked again all together."""
        if not request.invoices:
            if request.customers:
                raise RefusedRequestError(
                    "customers[] needs the customers' open invoices in invoices[] (their state "
                    "is planned with them)"
                )
            return bundle.actions, [
                "the worklist is the snapshot's plan: what the dunning system reported since "
                f"{bundle.as_of.date()} is not in it (send it in invoices[] and customers[])"
            ]
        planning = self.planned(
            ScoreRequest(
                invoices=request.invoices,
                customers=request.customers,
                as_of=max(day, bundle.as_of).date(),
                with_reasons=False,
            )
        )
        fresh = planning.portfolio.invoices
        table = bundle.invoices
        others = ~table["customer_id"].isin(set(fresh["customer_id"].tolist())).to_numpy()
        columns = {
            name: np.concatenate([table[name].to_numpy()[others], np.asarray(fresh[name])])
            for name in WORKLIST_INPUTS
        }
        columns.update(
            priority_arrays(
                columns["open_amount"],
                columns["default_probability"],
                columns["expected_days_late"],
                recovery_rate(planning.policy),
            )
        )
        customers = len(set(fresh["customer_id"].tolist()))
        said = (
            f"{customers} customer(s) planned as of {planning.when.date()} with what was reported"
        )
        return action_groups(pd.DataFrame(columns)), [*planning.warnings, said]


def _concat(first: OpenInvoices, second: OpenInvoices) -> OpenInvoices:
    """Two sets of open invoices as one (the first's rows first)."""

    def both(name: str) -> np.ndarray | None:
        a, b = getattr(first, name), getattr(second, name)
        if a is None and b is None:
            return None
        a = np.zeros(len(first), dtype=bool) if a is None else a
        b = np.zeros(len(second), dtype=bool) if b is None else b
        return np.concatenate([a, b])

    def attribute(name: str) -> np.ndarray:
        """A declared invoice feature over both; unknown (NaN or None) where one lacks it."""
        given = [(inv.attributes or {}).get(name) for inv in (first, second)]
        kind = next(v for v in given if v is not None)
        missing = np.nan if kind.dtype.kind == "f" else None
        return np.concatenate(
            [
                np.full(len(inv), missing, dtype=kind.dtype) if v is None else v
                for inv, v in zip((first, second), given, strict=True)
            ]
        )

    names = {*(first.attributes or {}), *(second.attributes or {})}
    return OpenInvoices(
        **{
            name: both(name)
            for name in (
                "invoice_id", "customer_id", "issue_day", "due_day", "amount", "open_amount",
                "disputed", "in_history", "snapshot_day",
            )
        },
        attributes={name: attribute(name) for name in sorted(names)} or None,
    )  # fmt: skip
