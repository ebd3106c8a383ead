"""Scoring open invoices: scores, reasons and the dunning plan, for batch and online alike.

Batch scoring (`payrisk score`) calls `score_and_plan` on a frame of open invoices, the service
calls `plan_portfolio` on the arrays of a request; the first is a thin frame wrapper around the
second, so both run the same features, models, rules and reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from payrisk.core.days import day_number, to_days
from payrisk.core.i18n import Formats
from payrisk.data.contract import CHANNELS
from payrisk.data.loading import Dataset
from payrisk.data.receivables import open_invoices
from payrisk.features.definitions import RESPONSE_FEATURES, FeatureSet
from payrisk.features.history import History
from payrisk.features.promises import promise_record
from payrisk.features.reported import ReportedReminders, with_reported
from payrisk.models.encoding import Columns, frame_columns
from payrisk.models.scorer import PaymentRiskScorer
from payrisk.policy.config import DunningConfig
from payrisk.policy.continuity import PlannedActions
from payrisk.policy.dunning import (
    ACTION_ESCALATE,
    ACTION_REMIND,
    ACTION_SCENARIO_DONE,
    ACTION_WAIT,
    NO_CONTACT,
    CustomerCodes,
    earliest_contact,
    frame,
    is_contact,
    plan_arrays,
)
from payrisk.policy.ladder import LEGAL_CHANNEL, level_of
from payrisk.policy.learned import (
    POLICY_LEARNED,
    POLICY_RULES,
    POLICY_WORDS,
    alternatives,
    decide,
    next_moments,
    respect_gap,
    template_and_actor,
)
from payrisk.policy.penalties import penalty_arrays
from payrisk.policy.reasons import LOWERING_COUNT, REASON_COUNT, reason_lists
from payrisk.policy.state import (
    NO_DAY,
    DunningState,
    amount_due,
    constrain,
    promise_kept_probability,
    scenario_inputs,
    state_columns,
    state_of_columns,
    state_of_dataset,
)
from payrisk.policy.workdays import next_working_day


def formats_of(dunning: DunningConfig, language: str | None = None) -> Formats:
    """The language (asked for, else the policy's) and currency reasons are written in."""
    return Formats(language or dunning.language, dunning.currencies.base)


def open_invoice_queries(dataset: Dataset, as_of: pd.Timestamp) -> pd.DataFrame:
    """Every invoice open at `as_of`, as a scoring query dated `as_of`."""
    frame = open_invoices(dataset, as_of)
    keep = ["invoice_id", "customer_id", "issue_date", "due_date", "amount", "open_amount"]
    queries = frame[[*keep, "disputed"]].reset_index(drop=True)
    queries["snapshot_date"] = as_of
    queries["in_history"] = True
    dated = {"dispute_date": frame["dispute_date"].to_numpy()} if "dispute_date" in frame else {}
    state = state_of_dataset(dataset, queries.assign(**dated), as_of)
    return pd.concat([queries, pd.DataFrame(state_columns(state))], axis=1)


def score_invoices(
    scorer: PaymentRiskScorer,
    history: History,
    queries: pd.DataFrame,
    explain: np.ndarray | None = None,
    formats: Formats | None = None,
    features: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Scores, expected dates and top reasons of each query invoice (features computed once;
    `features`: the queries' `scorer.features` if the caller has them already).

    Reasons come from TreeSHAP contributions, which cost far more than the scores (about half a
    millisecond an invoice on 2 cores); `explain` (a boolean mask over `queries`) limits them to
    the invoices someone will read. None explains every invoice.
    """
    table = scorer.features(history, queries) if features is None else features
    features = frame_columns(table, scorer.feature_columns)
    scores = scored_columns(
        scorer, features, to_days(queries["snapshot_date"]), to_days(queries["due_date"])
    )
    wanted = np.ones(len(queries), dtype=bool) if explain is None else np.asarray(explain, bool)
    scores["reasons"] = explain_arrays(scorer, features, scores["reason_target"], wanted, formats)
    return frame(scores, queries.index)


def scored_columns(
    scorer: PaymentRiskScorer, features: Columns, snapshot_day: np.ndarray, due_day: np.ndarray
) -> dict[str, np.ndarray]:
    """Scores, expected dates and what the dunning rules read from the features, per invoice."""
    scores = scorer.score_arrays(features, snapshot_day)
    expected = scores["expected_payment_date"].astype("datetime64[D]").astype("int64")
    scores["expected_days_late"] = expected - np.asarray(due_day, dtype="int64")
    # Past due, the question is whether it will be paid at all; before, whether it will be late.
    past_due = np.asarray(features["days_past_due"]) > scorer.targets.late_after_days
    scores["reason_target"] = np.where(past_due, "default", "late").astype(object)
    scores["reasons"] = np.full(len(past_due), None, dtype=object)
    scores["reminders_sent"] = np.asarray(features["reminders_sent"])
    scores["days_since_customer_contact"] = np.asarray(features["days_since_customer_contact"])
    scores["days_since_last_reminder"] = np.asarray(features["days_since_last_reminder"])
    scores["is_new_customer"] = np.asarray(features["is_new_customer"]) > 0
    return scores


def explain_arrays(
    scorer: PaymentRiskScorer,
    features: Columns,
    reason_target: np.ndarray,
    wanted: np.ndarray,
    formats: Formats | None = None,
) -> np.ndarray:
    """Reasons per row where `wanted` (None elsewhere), from the model that answers its
    question: the late model before the due date, the default model after."""
    explained = np.full(len(wanted), None, dtype=object)
    for target in ("late", "default"):
        rows = np.flatnonzero(wanted & (np.asarray(reason_target) == target))
        if len(rows) == 0:
            continue
        subset = {name: np.asarray(values)[rows] for name, values in features.items()}
        matrix = scorer.contribution_matrix(subset, target)[:, :-1]  # without the bias
        names = scorer.contribution_names(target)
        entries = reason_lists(matrix, names, subset, formats, REASON_COUNT, LOWERING_COUNT)
        for row, entry in zip(rows, entries, strict=True):
            explained[row] = entry
    return explained


@dataclass(frozen=True)
class OpenInvoices:
    """Open invoices to score, as plain arrays (days since 1970): what a request or a frame
    of queries carries."""

    invoice_id: np.ndarray  # object
    customer_id: np.ndarray  # object
    issue_day: np.ndarray  # int64
    due_day: np.ndarray  # int64
    amount: np.ndarray  # float64
    open_amount: np.ndarray  # float64
    disputed: np.ndarray  # bool
    in_history: np.ndarray | None = None  # bool; None: in the history if its id is there
    snapshot_day: np.ndarray | None = None  # int64; None: the as-of day
    attributes: dict[str, np.ndarray] | None = None  # declared invoice features not in history

    def __len__(self) -> int:
        return len(self.invoice_id)

    def take(self, rows: np.ndarray) -> OpenInvoices:
        """These rows of every array (and of the declared attributes)."""
        return OpenInvoices(
            **{
                item.name: None if value is None else value[rows]
                for item in fields(self)
                if item.name != "attributes"
                for value in (getattr(self, item.name),)
            },
            attributes=(
                None
                if self.attributes is None
                else {name: values[rows] for name, values in self.attributes.items()}
            ),
        )

    @classmethod
    def of(cls, queries: pd.DataFrame) -> OpenInvoices:
        amount = queries["amount"].to_numpy(dtype="float64")
        open_amount = (
            queries["open_amount"].to_numpy(dtype="float64", na_value=np.nan)
            if "open_amount" in queries
            else amount
        )
        return cls(
            invoice_id=queries["invoice_id"].to_numpy(dtype=object),
            customer_id=queries["customer_id"].to_numpy(dtype=object),
            issue_day=to_days(queries["issue_date"]),
            due_day=to_days(queries["due_date"]),
            amount=amount,
            open_amount=open_amount,
            disputed=(
                queries["disputed"].fillna(False).to_numpy(dtype="bool")
                if "disputed" in queries
                else np.zeros(len(queries), dtype=bool)
            ),
            in_history=(
                queries["in_history"].to_numpy(dtype="bool") if "in_history" in queries else None
            ),
            snapshot_day=to_days(queries["snapshot_date"]) if "snapshot_date" in queries else None,
        )


@dataclass(frozen=True)
class PortfolioArrays:
    invoices: dict[str, np.ndarray]  # per invoice, in input order
    customers: dict[str, np.ndarray]  # per customer, sorted by id


def plan_portfolio(
    scorer: PaymentRiskScorer,
    history: History,
    invoices: OpenInvoices,
    as_of: pd.Timestamp,
    dunning: DunningConfig,
    explain_top: int | None = None,
    language: str | None = None,
    explain: np.ndarray | None = None,
    state: DunningState | None = None,
    planned: PlannedActions | None = None,
    reported: ReportedReminders | None = None,
) -> PortfolioArrays:
    """Score open invoices and plan their dunning as known at `as_of`, on plain arrays.

    `state` is what the dunning system knows beyond the ledger (reminders sent, promises, plans,
    holds, direct debit, disputes), per invoice: it shapes the next actions
    (`payrisk.policy.state`). `planned`: next actions planned before that no event changed
    since, kept (`payrisk.policy.continuity`), under the ladder like the rest. `reported`: the
    reminders a dunning system reports that the history lacks, counted in the features as the
    history would (scored today only).

    Reasons are given for the `explain_top` invoices first on the collectors' worklist (all when
    None) among those `explain` allows (all when None): they are what collectors and credit
    managers read, and what reasons cost. They are written in `language` (default: the policy's).
    """
    today = day_number(as_of)
    n = len(invoices)
    at_today = invoices.snapshot_day is None or bool(np.all(invoices.snapshot_day == today))
    snapshot_day = np.full(n, today, dtype="int64") if at_today else invoices.snapshot_day
    # Scored today (the service, `payrisk score`), the response history is read in the same pass.
    features = invoice_feature_arrays(
        scorer,
        history,
        invoices,
        snapshot_day,
        scorer.feature_set.with_features(RESPONSE_FEATURES) if at_today else None,
    )
    customers = CustomerCodes.of(invoices.customer_id)  # once for every rule below
    if reported is not None and at_today:
        features = with_reported(features, reported, customers.codes, today)
    scores = scored_columns(scorer, features, snapshot_day, invoices.due_day)
    open_amount = np.where(np.isnan(invoices.open_amount), invoices.amount, invoices.open_amount)
    contact = scores["days_since_customer_contact"]
    scored = {
        "invoice_id": invoices.invoice_id,
        "customer_id": invoices.customer_id,
        "issue_date": invoices.issue_day.astype("datetime64[D]"),
        "due_date": invoices.due_day.astype("datetime64[D]"),
        "open_amount": open_amount,
        "disputed": invoices.disputed,
        "key_account": history.key_account_flags(invoices.customer_id),
        **scores,
    }
    state = DunningState.empty(n) if state is None else state
    state = state.without(state.token_promises(open_amount, dunning.promises.min_share))
    # The customer's latest reminder: the same day for each of its invoices (a customer feature),
    # or later where the dunning system reports a reminder or contact the history lacks.
    last_contact = np.where(
        np.isnan(contact), NO_CONTACT, today - np.nan_to_num(contact).astype("int64")
    )
    own = scores["days_since_last_reminder"]
    last_reminder = np.where(np.isnan(own), NO_CONTACT, today - np.nan_to_num(own).astype("int64"))
    last_reminder = np.maximum(last_reminder, _reported(state.last_reminder_day))
    last_contact = np.maximum.reduce(
        [last_contact, last_reminder, _reported(state.customer_contact_day)]
    )
    has_promise = state.promise_day != NO_DAY
    promised = np.flatnonzero(has_promise)  # the record is read for open promises only
    record = promise_record(history, invoices.customer_id[promised], today)
    promise_columns = {
        name: _on_rows(values, promised, n)  # NaN for the invoices without an open promise
        for name, values in {
            "promises_kept": record.kept,
            "promises_resolved": record.resolved,
            "promise_portfolio_rate": record.portfolio_rate,
            "promise_kept_probability": promise_kept_probability(
                record.kept, record.resolved, record.portfolio_rate, dunning
            ),
        }.items()
    }
    kept = promise_columns["promise_kept_probability"]
    inputs = scenario_inputs(scored, state, last_reminder, today)
    # What the ladder reads: the hardest level sent, by channel (the history's last reminder, the
    # snapshot's and the request's reports), the notice's day, reviews, a plan or promise on track.
    top_level = np.fmax(
        level_of(features["last_reminder_channel"]).astype("float64"), state.top_level_sent
    )
    inputs.update(
        top_level_sent=top_level,
        notice_day=state.notice_day,
        review_day=state.review_day,
        on_track=state.on_track(today),
        paused_until=state.paused_until(today),
    )
    # After a broken promise the learned policy picks the channel (never softer than what was
    # sent, at once: the state's rules date it); the state decides the rest it knows of.
    broken = state.broken_promise(today, last_reminder, to_days(inputs["due_date"]))
    learned = LearnedNextActions(
        scorer, history, invoices, scored, last_contact, today, dunning,
        ruled=state.decides(today, last_reminder) & ~broken, customers=customers,
        language=formats_of(dunning, language).language, top_level_sent=top_level,
        broken=broken,
    )  # fmt: skip
    contacted = customers.latest(last_contact)
    due = to_days(inputs["due_date"])

    def next_actions(actions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        actions = learned(actions)
        actions = constrain(
            actions, state, customers, contacted, due, last_reminder, kept, today, dunning
        )
        if planned is None:
            return actions
        words = POLICY_WORDS[formats_of(dunning, language).language]["kept"]
        return planned.over(actions, today, dunning.calendar.business_days, words)

    plan = plan_arrays(
        inputs, last_contact, today, dunning, adjust=next_actions, customers=customers
    )
    _plan_payment_dates(scored, plan.invoices, dunning, scorer.targets.late_after_days)
    plan.invoices.update(dunning_amounts(plan.invoices, open_amount, due, state, kept, dunning))
    for name in ("promises_kept", "promises_resolved", "promise_portfolio_rate"):
        plan.invoices[name] = promise_columns[name]
    rank = plan.invoices["priority_rank"]
    wanted = rank <= (n if explain_top is None else explain_top)
    if explain is not None:
        wanted &= np.asarray(explain, dtype=bool)
    scored["reasons"] = explain_arrays(
        scorer, features, scores["reason_target"], wanted, formats_of(dunning, language)
    )
    responses = response_history(
        scorer, history, invoices, today, customers, features if at_today else None
    )
    return PortfolioArrays(
        invoices={**scored, **plan.invoices}, customers={**plan.customers, **responses}
    )


def _reported(days: np.ndarray) -> np.ndarray:
    """Reported days as contact days (NO_CONTACT where none)."""
    return np.where(days == NO_DAY, NO_CONTACT, days)


def _on_rows(values: np.ndarray | float, rows: np.ndarray, n: int) -> np.ndarray:
    """`values` at `rows` of n, NaN elsewhere."""
    out = np.full(n, np.nan)
    out[rows] = values
    return out


def dunning_amounts(
    plan: dict[str, np.ndarray],
    open_amount: np.ndarray,
    due_day: np.ndarray,
    state: DunningState,
    kept: np.ndarray,
    dunning: DunningConfig,
) -> dict[str, np.ndarray]:
    """What each next action asks for (the instalment under a plan), P(promise kept), and the
    penalties owed on its day where its template mentions them (NaN elsewhere), in the base
    currency like the open amounts."""
    rules = dunning.penalties
    due_now = amount_due(open_amount, state)
    day = to_days(plan["action_date"])
    owed = penalty_arrays(due_now, due_day, day, rules, indemnity=dunning.indemnity_in_base())
    mentions = np.isin(plan["template"], rules.templates) & is_contact(plan["action"])
    out = {name: np.where(mentions, values, np.nan) for name, values in owed.items()}
    out["amount_due"] = due_now.round(2)
    out["promise_kept_probability"] = kept
    return out


def invoice_feature_arrays(
    scorer: PaymentRiskScorer,
    history: History,
    invoices: OpenInvoices,
    snapshot_day: np.ndarray,
    features: FeatureSet | None = None,
) -> Columns:
    """The open invoices' features at `snapshot_day` (the scorer's own set, or `features`)."""
    return scorer.feature_arrays(
        history,
        invoice_ids=invoices.invoice_id,
        customer_ids=invoices.customer_id,
        issue_day=invoices.issue_day,
        due_day=invoices.due_day,
        amount=invoices.amount,
        snapshot_day=snapshot_day,
        in_history=invoices.in_history,
        disputed=invoices.disputed,
        attributes=invoices.attributes,
        features=features,
    )


def response_history(
    scorer: PaymentRiskScorer,
    history: History,
    invoices: OpenInvoices,
    today: int,
    customers: CustomerCodes | None = None,
    today_features: Columns | None = None,
) -> dict[str, np.ndarray]:
    """Per customer (sorted ids): its reminders by channel whose answer is known today and the
    share followed by payment within the window: what its channel effects rest on.
    `today_features`: the invoices' features at `today` with RESPONSE_FEATURES, if computed."""
    responses = today_features
    if responses is None:
        today_days = np.full(len(invoices), today, dtype="int64")
        responses = invoice_feature_arrays(
            scorer, history, invoices, today_days, FeatureSet(RESPONSE_FEATURES)
        )
    responses = {f.name: responses[f.name] for f in RESPONSE_FEATURES}
    if customers is None:
        customers = CustomerCodes.of(invoices.customer_id)
    _, first = np.unique(customers.codes, return_index=True)
    return {name: np.asarray(values)[first] for name, values in responses.items()}


POLICY_COLUMNS = (
    "policy",
    "policy_reason",
    "response_days",
    "response_probability",
    "expected_effect",
    "alternatives",
)


class LearnedNextActions:
    """The learned policy's say on the rules plan's next actions (`plan_arrays(adjust=...)`).

    For each invoice the rules would contact, the next decision moment on or after today (and
    after the customer's contact gap) is weighed with the scorer's channel-effect models: contact
    on the best allowed channel, or wait until the moment after. Where effects cannot be
    estimated (new customer, no overlap), with `policy: rules` or a scorer without effect models,
    the rules' action stays. Every row says which policy chose it and why.
    """

    def __init__(
        self,
        scorer: PaymentRiskScorer,
        history: History,
        invoices: OpenInvoices,
        scored: dict[str, np.ndarray],
        last_contact: np.ndarray,
        today: int,
        dunning: DunningConfig,
        ruled: np.ndarray | None = None,
        customers: CustomerCodes | None = None,
        language: str = "en",
        top_level_sent: np.ndarray | None = None,
        broken: np.ndarray | None = None,
    ) -> None:
        """`ruled`: invoices whose next action the dunning state decides (kept out);
        `customers`: the invoices' customer codes, if the caller has them; `language`: of the
        policy's words (`policy_reason`); `top_level_sent`: the hardest level sent per invoice
        (default: its last reminder's, from the history); `broken`: invoices whose promise was
        broken: a contact at once, no softer than the hardest sent (never a wait)."""
        self.broken = np.zeros(len(invoices), dtype=bool) if broken is None else broken
        self.language = language
        self.top_level_sent = top_level_sent
        self.ruled = np.zeros(len(invoices), dtype=bool) if ruled is None else ruled
        self.customers = CustomerCodes.of(invoices.customer_id) if customers is None else customers
        self.scorer, self.history, self.invoices = scorer, history, invoices
        self.scored, self.last_contact = scored, last_contact
        self.today, self.dunning = today, dunning

    def __call__(self, actions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(self.invoices)
        days = self.dunning.policy.response_days
        effects = getattr(self.scorer, "effects", None)
        words = POLICY_WORDS[self.language]
        why = (
            words["rules_config"]
            if self.dunning.policy.mode != POLICY_LEARNED
            else words["rules_no_effects"]
        )
        out = {
            **actions,
            "policy": np.full(n, POLICY_RULES, dtype=object),
            "policy_reason": np.full(n, why, dtype=object),
            "response_days": np.full(n, days, dtype="int64"),
            "response_probability": np.full(n, np.nan),
            "expected_effect": np.full(n, np.nan),
            "alternatives": _empty_lists(n),
            "legal_pays": np.ones(n, dtype=bool),
        }
        if self.dunning.policy.mode != POLICY_LEARNED or effects is None or n == 0:
            return out
        out["policy_reason"][:] = words["rules_step"]
        # A scenario that ran out (a credit manager's review) is weighed too: at a decision
        # moment still ahead, like any contact (the policy's moments, not the scenario's step
        # count, say when it may act); past them, only whether the agency pays for itself
        # (`legal_pays`: the ladder turns the review into the agency after the notice there).
        ran_out = actions["action"] == ACTION_SCENARIO_DONE
        inv = self.invoices
        gap = self.dunning.contact.min_days_between_contacts
        earliest = np.maximum.reduce(
            [
                np.full(n, self.today),
                inv.issue_day,
                earliest_contact(self.last_contact, self.today, gap),
            ]
        )
        offsets = self.dunning.policy.decision_offsets
        moment, _, following = next_moments(inv.due_day, earliest, offsets)
        # Past the last decision moment the scenario's later steps (the formal notice, the
        # agency) are weighed like any contact, on their own day: no moment follows, so a
        # wait is weighed again when the service is next asked.
        contact = is_contact(actions["action"]) | (ran_out & (moment >= 0))
        later = (contact | ran_out) & (moment < 0)
        moment = np.where(later, np.maximum(to_days(actions["action_date"]), earliest), moment)
        following = np.where(later, -1, following)
        rows = np.flatnonzero((contact | ran_out) & ~self.ruled)
        if not len(rows):
            return out
        self._decide(out, rows, moment[rows], following[rows], contact[rows], effects, days)
        contacts = np.flatnonzero(is_contact(out["action"]))
        # Nobody acts on a day off: the learned days move to the next working day of the policy's
        # calendar, before and after the gap is kept (bundled contacts share a working day).
        workdays = self.dunning.calendar.business_days
        day = next_working_day(out["action_date"].astype("datetime64[D]").astype("int64"), workdays)
        codes = self.customers.codes
        day[contacts] = respect_gap(
            codes[contacts], day[contacts], self.last_contact[contacts], gap
        )
        day = next_working_day(day, workdays)
        out["action_date"] = day.astype("datetime64[D]").astype("datetime64[ns]")
        return out

    def _decide(self, out, rows, moment, following, contact, effects, days) -> None:
        """The learned choice on the contacts among `rows`; on every row, whether the agency
        pays for itself (`legal_pays`: its expected value, the rules' say where the policy has
        none)."""
        inv = self.invoices
        features = invoice_feature_arrays(
            self.scorer,
            self.history,
            inv.take(rows),
            moment,
            self.scorer.feature_set.with_features(RESPONSE_FEATURES),
        )
        model = effects.for_days(days)
        response = model.response(features)
        amount = np.asarray(self.scored["open_amount"], dtype="float64")[rows]
        choice = decide(
            response,
            features,
            amount,
            # The hardest level sent (reported ones too): the ladder's own reading.
            self._levels_sent(rows, features),
            np.asarray(self.scored["default_probability"])[rows],
            np.zeros(len(rows), dtype=bool),
            self.dunning,
            self.language,
            broken_promise=self.broken[rows],
        )
        weighed = choice.policy == POLICY_LEARNED
        agency = CHANNELS.index(LEGAL_CHANNEL)
        out["legal_pays"][rows] = ~weighed | (choice.worth[:, agency] > 0)
        mine = weighed & contact
        chosen = rows[mine]
        channel = choice.channel[mine]
        waits = np.array([c is None for c in channel], dtype=bool)
        template, actor = template_and_actor(
            channel, moment[mine] < inv.due_day[chosen], self.history.key_account_flags(
                inv.customer_id[chosen]
            ),
        )  # fmt: skip
        out["channel"][chosen] = channel
        out["template"][chosen] = template
        out["actor"][chosen] = np.where(waits, "automatic", actor)
        out["action"][chosen] = np.where(
            waits, ACTION_WAIT, np.where(channel == "agency", ACTION_ESCALATE, ACTION_REMIND)
        )
        # The step stays the invoice's place in its count (the rules'): never one already sent.
        out["step"][chosen] = np.where(waits, np.nan, out["step"][chosen])
        wait_until = np.where(following[mine] >= 0, following[mine], moment[mine])
        action_day = np.where(waits, wait_until, moment[mine])
        day = out["action_date"].astype("datetime64[D]").astype("int64")
        day[chosen] = action_day
        out["action_date"] = day.astype("datetime64[D]").astype("datetime64[ns]")
        asked = rows[contact]  # what the policy answered for (a review stays the rules')
        out["policy"][asked] = choice.policy[contact]
        out["policy_reason"][asked] = choice.why[contact]
        out["response_probability"][asked] = choice.probability[contact]
        out["expected_effect"][asked] = choice.effect[contact]
        options = alternatives(response, choice)
        for i in np.flatnonzero(contact):
            out["alternatives"][rows[i]] = options[i]

    def _levels_sent(self, rows: np.ndarray, features: Columns) -> np.ndarray:
        """The hardest level sent of each decided invoice: the given one, else its last
        reminder's at the decision moment."""
        own = level_of(features["last_reminder_channel"])
        if self.top_level_sent is None:
            return own
        given = np.nan_to_num(np.asarray(self.top_level_sent, dtype="float64")[rows])
        return np.maximum(own, given.astype("int64"))


def _empty_lists(n: int) -> np.ndarray:
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = []
    return out


def _plan_payment_dates(
    scored: dict[str, np.ndarray],
    plan: dict[str, np.ndarray],
    dunning: DunningConfig,
    late_after_days: int,
) -> None:
    """The expected payment date under the recommended plan: where the learned policy contacts
    and its chance of payment within the window is at least one half, the median payment date
    falls inside that window (at its middle), and the interval's low end after the contact.

    Never earlier than the probabilities allow: an invoice more likely late than not keeps its
    date after the due date (+ `late_after_days`), as the scorer's own dates do."""
    contact = (plan["policy"] == POLICY_LEARNED) & is_contact(plan["action"])
    likely = contact & (np.nan_to_num(plan["response_probability"]) >= 0.5)
    if not likely.any():
        return
    action = plan["action_date"].astype("datetime64[D]").astype("int64")
    window = dunning.policy.response_days
    central = scored["expected_payment_date"].astype("datetime64[D]").astype("int64")
    low = scored["expected_payment_date_low"].astype("datetime64[D]").astype("int64")
    due = np.asarray(scored["due_date"], dtype="datetime64[D]").astype("int64")
    planned = action + (window + 1) // 2
    late = np.asarray(scored["late_probability"], dtype="float64") > 0.5
    planned = np.where(late, np.maximum(planned, due + late_after_days + 1), planned)
    moved = likely & (central > planned)
    central = np.where(moved, planned, central)
    low = np.where(moved, np.minimum(low, action + 1), low)
    scored["expected_payment_date"] = central.astype("datetime64[D]").astype("datetime64[ns]")
    scored["expected_payment_date_low"] = low.astype("datetime64[D]").astype("datetime64[ns]")
    scored["expected_days_late"] = central - due


DUNNING_COLUMNS = (
    "state_reason",
    "ladder_reason",
    "amount_due",
    "promise_kept_probability",
    "penalty_days",
    "penalty_interest",
    "penalty_indemnity",
    "penalty_total",
    "promises_kept",
    "promises_resolved",
    "promise_portfolio_rate",
)

PLAN_COLUMNS = frozenset(
    {"scenario", "action", "step", "channel", "template", "actor", "action_date"}
    | {"expected_recovery", "expected_loss", "priority_rank"}
    | set(POLICY_COLUMNS)
    | set(DUNNING_COLUMNS)
)


SCORED_INPUTS = frozenset(
    {"invoice_id", "customer_id", "issue_date", "due_date", "open_amount", "disputed"}
    | {"key_account"}
)


@dataclass(frozen=True)
class ScoredPortfolio:
    invoices: pd.DataFrame  # one row per open invoice: scores, reasons, next action, priority
    customers: pd.DataFrame  # one row per customer: risk, scenario, next contact


def score_and_plan(
    scorer: PaymentRiskScorer,
    history: History,
    queries: pd.DataFrame,
    as_of: pd.Timestamp,
    dunning: DunningConfig,
    explain_top: int | None = None,
    language: str | None = None,
) -> ScoredPortfolio:
    """`plan_portfolio` on a frame of queries; invoices sorted by the collectors' priority."""
    queries = queries.reset_index(drop=True)
    portfolio = plan_portfolio(
        scorer,
        history,
        OpenInvoices.of(queries),
        as_of,
        dunning,
        explain_top,
        language,
        state=state_of_columns(queries),
    )
    columns = portfolio.invoices
    # The queries' own columns as they are, then what scoring adds (in the order it adds them).
    added = [n for n in columns if n not in SCORED_INPUTS and n not in PLAN_COLUMNS]
    added += [name for name in ("open_amount", "disputed") if name not in queries]
    added.append("key_account")
    added += [name for name in columns if name in PLAN_COLUMNS]
    computed = {name: columns[name] for name in dict.fromkeys(added)}
    invoices = pd.concat([queries, frame(computed, queries.index)], axis=1)
    order = np.argsort(portfolio.invoices["priority_rank"], kind="stable")
    invoices = invoices.take(order).reset_index(drop=True)
    return ScoredPortfolio(invoices=invoices, customers=frame(portfolio.customers))
