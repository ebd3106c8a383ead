"""The policies `payrisk simulate` compares, each acting in the generated world (data.world).

- none: no reminder at all;
- random: the logged policy of the history (a channel, or no contact, drawn at each step);
- rules: today's segments table (payrisk.policy.dunning) on the trained scorer's risk;
- learned: the channel-effect models (payrisk.policy.learned), rules as the fallback;
- oracle: the learned policy's decision rule on the world's true response probabilities: an upper
  bound no estimate can beat;
- service: the service's own planner (`plan_portfolio`, what `/v1/score` runs: scenario, learned
  policy, dunning-state rules, the ladder, one voice a day) asked every batch as a dunning system
  asks it, with what the system sent reported as its dunning state.

Policies that read the ledger see it as a dunning system would: a point-in-time history of the
played ledger refreshed every `refresh_days` (the service's snapshot), and the invoice's own
reminders (count, last one, hardest one) as they stand, since the dunning system sent them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from payrisk.core.days import NEVER, day_number, next_business_day
from payrisk.data.contract import CHANNELS
from payrisk.data.generator import World
from payrisk.data.world import (
    CHANNEL_CODES,
    NO_CHANNEL,
    Actions,
    PlayState,
    batch_start_of,
    response_probability,
)
from payrisk.features.definitions import CHANNEL_NAMES, RESPONSE_FEATURES
from payrisk.features.history import History
from payrisk.features.reported import ReportedReminders
from payrisk.models.effects import EffectModels
from payrisk.models.scorer import PaymentRiskScorer
from payrisk.policy.config import DunningConfig
from payrisk.policy.dunning import NO_CONTACT, code_of, is_contact, plan_arrays
from payrisk.policy.ladder import LEVEL, LEVEL_NOTICE
from payrisk.policy.learned import (
    POLICY_LEARNED,
    allowed_channels,
    choose,
    respect_gap,
)
from payrisk.policy.planning import OpenInvoices, plan_portfolio
from payrisk.policy.state import NO_DAY, DunningState

POLICIES: tuple[str, ...] = ("none", "random", "rules", "learned", "oracle", "service")
CHANNEL_LEVEL = np.array([LEVEL[c.value] for c in CHANNEL_CODES])


@dataclass
class DunningView:
    """What a dunning system knows during a play: a refreshed history and its own reminders."""

    world: World
    scorer: PaymentRiskScorer
    refresh_days: int = 28
    _history: History | None = None
    _history_day: int = -(10**9)
    _ids: tuple[np.ndarray, np.ndarray] | None = None  # invoice and customer ids, as objects

    def ids(self) -> tuple[np.ndarray, np.ndarray]:
        """The world's invoice and customer ids as object arrays, converted once per play."""
        if self._ids is None:
            self._ids = (
                self.world.invoice_ids.to_numpy(dtype=object),
                self.world.customer_ids.to_numpy(dtype=object),
            )
        return self._ids

    def history(self, state: PlayState, day: int) -> History:
        """The played ledger as known at the start of `day`, rebuilt every `refresh_days`."""
        if self._history is None or day - self._history_day >= self.refresh_days:
            dataset = self.world.dataset(state, day - 1)
            as_of = pd.Timestamp(np.datetime64(day, "D"))
            self._history = self.scorer.build_history(dataset, as_of)
            self._history_day = day
        return self._history

    def features(self, state: PlayState, rows: np.ndarray, day: np.ndarray) -> dict:
        """Risk and response features of invoice `rows` at `day`, own reminders as sent."""
        invoices = self.world.invoices
        history = self.history(state, int(day.min()) if len(day) else 0)
        invoice_ids, customer_ids = self.ids()
        features = self.scorer.feature_arrays(
            history,
            features=self.scorer.feature_set.with_features(RESPONSE_FEATURES),
            invoice_ids=invoice_ids[rows],
            customer_ids=customer_ids[invoices.customer[rows]],
            issue_day=invoices.issue_day[rows],
            due_day=invoices.due_day[rows],
            amount=invoices.amount_cents[rows] / 100.0,
            snapshot_day=day,
        )
        own = own_reminders(state, rows)
        features["reminders_sent"] = own["count"].astype("float64")
        features["last_reminder_step"] = own["step"].astype("float64")
        features["days_since_last_reminder"] = np.where(
            own["count"] > 0, day - own["day"], np.nan
        ).astype("float64")
        features["last_reminder_channel"] = CHANNEL_NAMES[np.maximum(own["channel"], -1)]
        return features


def own_reminders(state: PlayState, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Per invoice row: reminders sent, the last one's day, channel and step, the hardest level."""
    log = state.reminders()
    n = len(state.world)
    last_day = np.full(n, -1, dtype=np.int64)
    last_channel = np.full(n, NO_CHANNEL, dtype=np.int64)
    last_step = np.zeros(n, dtype=np.int64)
    level = np.zeros(n, dtype=np.int64)
    notice_day = np.full(n, NEVER, dtype=np.int64)
    if len(log["row"]):
        order = np.lexsort((log["day"], log["row"]))
        r = log["row"][order]
        last = np.ones(len(r), dtype=bool)
        last[:-1] = r[1:] != r[:-1]
        last_day[r[last]] = log["day"][order][last]
        last_channel[r[last]] = log["channel"][order][last]
        np.maximum.at(last_step, log["row"], log["step"])
        np.maximum.at(level, log["row"], CHANNEL_LEVEL[log["channel"]])
        notice = CHANNEL_LEVEL[log["channel"]] == LEVEL_NOTICE
        latest = np.full(n, -1, dtype=np.int64)
        np.maximum.at(latest, log["row"][notice], log["day"][notice])
        notice_day = np.where(latest >= 0, latest, NEVER)
    return {
        "count": state.sent_count[rows],
        "day": last_day[rows],
        "channel": last_channel[rows],
        "step": last_step[rows],
        "level": level[rows],
        "notice_day": notice_day[rows],
    }


def contacts_of_batch(rows: np.ndarray, plan: dict, start: int, end: int) -> Actions:
    """The contacts a plan of invoice `rows` dates before `end`, as the batch's actions (none
    earlier than its `start`)."""
    day = plan["action_date"].astype("datetime64[D]").astype("int64")
    act = is_contact(plan["action"]) & (day < end)
    return Actions(
        rows[act],
        np.maximum(day[act], start),
        code_of(plan["channel"][act], CHANNELS),
        np.nan_to_num(plan["step"][act]).astype(np.int64),
    )


def open_period_rows(state: PlayState, first_row: int, start: int) -> np.ndarray:
    """The period's invoices issued before `start` and open at its start, as known then."""
    world = state.world
    rows = np.arange(first_row, len(world))
    return rows[(world.issue_day[rows] < start) & known_open(state, rows, start)]


def last_contact(state: PlayState) -> np.ndarray:
    """Per customer row: the day of its latest reminder (dunning.NO_CONTACT if none)."""
    world = state.world
    out = np.full(int(world.customer.max()) + 1, NO_CONTACT, dtype=np.int64)
    log = state.reminders()
    if len(log["row"]):
        np.maximum.at(out, world.customer[log["row"]], log["day"])
    return out


def known_open(state: PlayState, rows: np.ndarray, day: int) -> np.ndarray:
    """Open and not disputed as known at the start of `day`."""
    return (state.paid_day[rows] >= day) & (state.world.dispute_day[rows] >= day)


@dataclass
class PeriodPolicy:
    """`policy` for the invoices from `first_row` on (the simulated period), the logged policy
    for the history's invoices, so that every play shares the same past."""

    policy: object
    logged: object
    first_row: int

    def __call__(self, state: PlayState, start: int, end: int) -> Actions:
        return _concat(
            _rows(self.logged(state, start, end), lambda rows: rows < self.first_row),
            _rows(self.policy(state, start, end), lambda rows: rows >= self.first_row),
        )


def _concat(*parts: Actions) -> Actions:
    return Actions(
        np.concatenate([p.rows for p in parts]),
        np.concatenate([p.day for p in parts]),
        np.concatenate([p.channel for p in parts]),
        np.concatenate([p.step for p in parts]),
    )


def _rows(actions: Actions, keep) -> Actions:
    mask = keep(actions.rows)
    return Actions(actions.rows[mask], actions.day[mask], actions.channel[mask], actions.step[mask])


class NoReminders:
    def __call__(self, state: PlayState, start: int, end: int) -> Actions:
        return Actions.none()


@dataclass
class RulesPolicy:
    """The segments table: scenario per customer from its risk, the next step's channel on its
    day (payrisk.policy.dunning), recomputed at the start of every batch."""

    view: DunningView
    dunning: DunningConfig
    first_row: int

    def __call__(self, state: PlayState, start: int, end: int) -> Actions:
        return self.actions(state, start, end, None)

    def actions(self, state: PlayState, start: int, end: int, only: np.ndarray | None) -> Actions:
        world = self.view.world.invoices
        rows = open_period_rows(state, self.first_row, start)
        if only is not None:
            rows = rows[only[rows]]
        if not len(rows):
            return Actions.none()
        day = np.full(len(rows), start, dtype=np.int64)
        features = self.view.features(state, rows, day)
        scores = self.view.scorer.score_arrays(features, day)
        expected = scores["expected_payment_date"].astype("datetime64[D]").astype("int64")
        customer = world.customer[rows]
        scored = {
            "invoice_id": rows.astype(object),
            "customer_id": customer.astype(object),
            "issue_date": world.issue_day[rows].astype("datetime64[D]"),
            "due_date": world.due_day[rows].astype("datetime64[D]"),
            "open_amount": world.amount_cents[rows] / 100.0,
            "disputed": np.zeros(len(rows), dtype=bool),
            "key_account": world.key_account[rows],
            "late_probability": scores["late_probability"],
            "default_probability": scores["default_probability"],
            "expected_days_late": expected - world.due_day[rows],
            "reminders_sent": features["reminders_sent"],
        }
        # The ladder reads what the dunning system sent, by channel (the same law as online).
        own = own_reminders(state, rows)
        scored.update(top_level_sent=own["level"].astype("float64"), notice_day=own["notice_day"])
        plan = plan_arrays(scored, last_contact(state)[customer], start, self.dunning).invoices
        return contacts_of_batch(rows, plan, start, end)


@dataclass
class DecisionMoments:
    """The learned policy's moments: each period invoice at each decision offset from due."""

    offsets: tuple[int, ...]

    def in_batch(
        self, world, first_row: int, start: int, end: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, moment days, offset index) of moments falling in [start, end)."""
        rows_out, days_out, steps_out = [], [], []
        rows = np.arange(first_row, len(world))
        for k, offset in enumerate(self.offsets):
            moment = next_business_day(world.due_day[rows] + offset)
            hit = (moment >= start) & (moment < end) & (moment >= world.issue_day[rows])
            rows_out.append(rows[hit])
            days_out.append(moment[hit])
            steps_out.append(np.full(hit.sum(), k + 1, dtype=np.int64))
        return np.concatenate(rows_out), np.concatenate(days_out), np.concatenate(steps_out)


@dataclass
class ChoosingPolicy:
    """Contact or wait at each decision moment, on the channel of best expected value inside the
    escalation rules (payrisk.policy.learned). The effects come from the learned models, or
    (`effects` None: the oracle) from the world's true response probabilities."""

    view: DunningView
    dunning: DunningConfig
    first_row: int
    effects: EffectModels | None = None  # None: the oracle
    rules: RulesPolicy | None = None  # the fallback of the learned policy
    moments: DecisionMoments = field(init=False)
    handed: np.ndarray = field(init=False)  # invoices the learned policy left to the rules
    pending: Actions = field(init=False)  # contacts postponed past their batch by the gap

    def __post_init__(self) -> None:
        self.moments = DecisionMoments(self.dunning.policy.decision_offsets)
        self.handed = np.zeros(len(self.view.world.invoices), dtype=bool)
        self.pending = Actions.none()

    def __call__(self, state: PlayState, start: int, end: int) -> Actions:
        world = self.view.world.invoices
        rows, day, step = self.moments.in_batch(world, self.first_row, start, end)
        keep = known_open(state, rows, start) & ~self.handed[rows]
        rows, day, step = rows[keep], day[keep], step[keep]
        if not len(rows):
            now = self.pending.day < end
            due, self.pending = (
                _rows(self.pending, lambda _: now),
                _rows(self.pending, lambda _: ~now),
            )
            return _concat(due, self._fallback(state, start, end))
        amount = world.amount_cents[rows] / 100.0
        own = own_reminders(state, rows)
        default = None
        if self.effects is None:
            response, new_customer, worth_it = self._truth(state, rows, day, start, amount)
        else:
            features = self.view.features(state, rows, day)
            model = self.effects.for_days(self.dunning.policy.response_days)
            response = model.response(features)
            new_customer = features["is_new_customer"] > 0
            default = self.view.scorer.predict_arrays(features)["default_probability"]
            worth_it = self.dunning.escalation.worth_it(amount, default)
        allowed = allowed_channels(
            day < world.due_day[rows], own["level"], world.key_account[rows], worth_it,
            np.zeros(len(rows), dtype=bool),
        )  # fmt: skip
        choice = choose(
            response,
            amount,
            allowed,
            new_customer,
            self.dunning,
            weigh_costs=self.effects is not None,
            explain=False,
        )
        channel = code_of(choice.channel, CHANNELS)
        contact = (channel != NO_CHANNEL) & (choice.policy == POLICY_LEARNED)
        self.handed[rows[choice.policy != POLICY_LEARNED]] = self.rules is not None
        planned = _concat(
            Actions(rows[contact], day[contact], channel[contact], step[contact]), self.pending
        )
        planned = Actions(
            planned.rows,
            self._respect_gap(state, planned.rows, planned.day),
            planned.channel,
            planned.step,
        )
        now = planned.day < end
        self.pending = _rows(planned, lambda _: ~now)
        return _concat(_rows(planned, lambda _: now), self._fallback(state, start, end))

    def _truth(self, state: PlayState, rows, day, start, amount):
        """The oracle's view: each channel's true chance of working on this customer now
        (archetype, before or after due, fatigue), not the invoice's natural payment day."""
        world = self.view.world.invoices
        recent = state.recent_counts(world.customer[rows], batch_start_of(start))
        before_due = day < world.due_day[rows]
        response = {"none": np.zeros(len(rows))}
        for code, channel in enumerate(CHANNELS):
            code_array = np.full(len(rows), code)
            p = response_probability(world.archetype[rows], code_array, before_due, recent)
            response[channel] = p
            response[f"{channel}_effect"] = p
        defaulting = (world.natural_day[rows] == NEVER).astype("float64")
        return (
            response,
            np.zeros(len(rows), dtype=bool),
            self.dunning.escalation.worth_it(amount, defaulting),
        )

    def _respect_gap(self, state: PlayState, rows, day) -> np.ndarray:
        customer = self.view.world.invoices.customer[rows]
        gap = self.dunning.contact.min_days_between_contacts
        return respect_gap(customer, day, last_contact(state)[customer], gap)

    def _fallback(self, state: PlayState, start: int, end: int) -> Actions:
        """The rules table's actions on the invoices handed over to it (they stay there)."""
        if self.rules is None or not self.handed.any():
            return Actions.none()
        return self.rules.actions(state, start, end, self.handed)


@dataclass
class ServicePolicy:
    """The service's planner played as a dunning system plays it: every batch, every open
    invoice of the period is planned by `plan_portfolio` (what `/v1/score` runs) on the refreshed
    history, with the reminders the system sent reported (steps, days, channels: the ladder reads
    them; the features count those the history lacks); the contacts dated in the batch are sent."""

    view: DunningView
    dunning: DunningConfig
    first_row: int
    effects: EffectModels | None = None

    def __post_init__(self) -> None:
        scorer = copy.copy(self.view.scorer)
        scorer.effects = self.effects  # as a registered scorer carries them
        self.scorer = scorer

    def __call__(self, state: PlayState, start: int, end: int) -> Actions:
        world = self.view.world.invoices
        rows = open_period_rows(state, self.first_row, start)
        if not len(rows):
            return Actions.none()
        history = self.view.history(state, start)
        invoice_ids, customer_ids = self.view.ids()
        amount = world.amount_cents[rows] / 100.0
        n = len(rows)
        invoices = OpenInvoices(
            invoice_id=invoice_ids[rows],
            customer_id=customer_ids[world.customer[rows]],
            issue_day=world.issue_day[rows],
            due_day=world.due_day[rows],
            amount=amount,
            open_amount=amount,
            disputed=np.zeros(n, dtype=bool),
        )
        own = own_reminders(state, rows)
        sent = own["count"] > 0
        contacted = last_contact(state)[world.customer[rows]]
        no_promise = np.full(n, NEVER, dtype=np.int64)
        promised = no_promise if state.promise_made is None else state.promise_made[rows]
        promise_day = no_promise if state.promise_day is None else state.promise_day[rows]
        has_promise = promised != NEVER
        reported = replace(
            DunningState.empty(n),
            reminders_reported=np.where(sent, np.maximum(own["step"], own["count"]), np.nan),
            last_reminder_day=np.where(sent, own["day"], NEVER),
            customer_contact_day=np.where(contacted != NO_CONTACT, contacted, NEVER),
            top_level_sent=np.where(sent, own["level"], np.nan).astype("float64"),
            notice_day=own["notice_day"],
            # The promises its calls brought, as a dunning system records and reports them.
            promise_made_day=np.where(has_promise, promised, NO_DAY),
            promise_day=np.where(has_promise, promise_day, NO_DAY),
            promise_amount=np.where(has_promise, amount, np.nan),
        )
        lacking = self._lacking(state, rows, int(day_number(history.as_of)))
        portfolio = plan_portfolio(
            self.scorer,
            history,
            invoices,
            pd.Timestamp(np.datetime64(start, "D")),
            self.dunning,
            explain=np.zeros(n, dtype=bool),
            state=reported,
            reported=lacking,
        )
        return contacts_of_batch(rows, portfolio.invoices, start, end)

    def _lacking(self, state: PlayState, rows: np.ndarray, since: int) -> ReportedReminders:
        """The reminders of `rows` sent on or after `since` (what the refreshed history lacks)."""
        log = state.reminders()
        recent = log["day"] >= since
        position = pd.Index(rows).get_indexer(log["row"][recent])
        mine = position >= 0
        return ReportedReminders.of_events(
            len(rows),
            position[mine],
            log["day"][recent][mine],
            np.asarray(CHANNELS, dtype=object)[log["channel"][recent][mine]],
            log["step"][recent][mine].astype("float64"),
        )
