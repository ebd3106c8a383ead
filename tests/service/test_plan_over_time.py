"""The service's answers over time are one lawful plan (issue 25).

A dunning system calls `/v1/score` every day, does what the answer says, reports back what it sent,
and asks again; the world answers with payments, promises, plans, holds and disputes. A
Hypothesis state machine plays that loop on random days and events over a few customers (two the
snapshot knows, with every open invoice of theirs sent, and a new one) and checks every answer:

- one contact per customer per day, and every invoice's next action consistent with it;
- no step at or below one reported as sent (on the same track);
- no agency, legal step or write-off review without a formal notice reported;
- no formal notice or harder on an invoice under an unbroken plan or an open promise;
- nothing inside a hold; nothing on a weekend or a French public holiday;
- the same request gives the same answer.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from payrisk.policy.config import load_dunning_config
from payrisk.policy.ladder import LEVEL
from tests.conftest import AUTH
from tests.helpers import invoice_payload

POLICY = load_dunning_config()
WORKDAYS = POLICY.calendar.business_days
LEGAL = ("escalate", "write_off_review", "credit_manager_review")
CONTACTS = ("remind", "escalate")
RUNG = {1: 1, 2: 1, 3: 2, 4: 3}  # level -> rung (reminders, notice, legal)


def is_working_day(value: date) -> bool:
    return bool(np.is_busday(np.datetime64(value, "D"), busdaycal=WORKDAYS))


def next_working_day(value: date) -> date:
    day = np.busday_offset(np.datetime64(value, "D"), 0, roll="forward", busdaycal=WORKDAYS)
    return day.astype(object)


def _known_customers(bundle, count: int, most: int = 4) -> list[str]:
    """Customers the snapshot knows with 2 to `most` open invoices, none with a stored plan,
    promise, hold or dispute (the machine reports their whole state), no notice sent yet."""
    invoices = bundle.invoices
    state = invoices[["state_promise_date", "state_plan_due_date", "state_hold_until_date"]]
    clean = state.isna().all(axis=1) & ~invoices["disputed"].astype(bool)
    if "state_notice_date" in invoices:
        clean &= invoices["state_notice_date"].isna()
    per_customer = clean.groupby(invoices["customer_id"]).agg(["all", "size"])
    fit = per_customer.loc[per_customer["all"] & per_customer["size"].between(2, most)]
    assert len(fit) >= count, "the sample has customers to play with"
    return sorted(fit.index)[:count]


def _levels(rows) -> dict[str, float]:
    """The hardest level the snapshot knows sent for each invoice (0: nothing)."""
    return dict(zip(rows["invoice_id"], rows["state_top_level_sent"].fillna(0), strict=True))


def _new_invoices(start: date) -> list[dict]:
    return [
        {
            "invoice_id": f"SIM-{k}",
            "customer_id": "SIM-NEW",
            "issue_date": (start - timedelta(days=40 - 10 * k)).isoformat(),
            "due_date": (start - timedelta(days=10 - 10 * k)).isoformat(),
            "amount": 2_400.0 + 500 * k,
            "currency": "EUR",
        }
        for k in range(2)
    ]


def check_answer(body: dict, answer: dict, levels_before: dict[str, float]) -> None:
    """Every rule an answer must keep, read against the request it answers (and the hardest
    level the snapshot knows sent for each invoice, `levels_before`)."""
    today = date.fromisoformat(answer["as_of"])
    sent = {invoice["invoice_id"]: invoice for invoice in body["invoices"]}
    holds = {c["customer_id"]: c["hold"] for c in body.get("customers", []) if c.get("hold")}
    contacts = {}
    for customer in answer["customers"]:
        days = [c["action_date"] for c in customer["contacts"]]
        assert len(days) == len(set(days)), f"two contacts of one customer on one day: {days}"
        for contact in customer["contacts"]:
            contacts[customer["customer_id"], contact["action_date"]] = contact
    for scored in answer["invoices"]:
        action = scored["next_action"]
        where = f"{scored['invoice_id']} as of {today}"
        invoice = sent[scored["invoice_id"]]
        when = date.fromisoformat(action["action_date"])
        assert when >= today, where
        assert is_working_day(when), f"{where}: {when} is not a working day"
        reminders = invoice.get("reminders") or []
        if action["action"] in CONTACTS:
            contact = contacts[scored["customer_id"], action["action_date"]]
            assert scored["invoice_id"] in contact["invoice_ids"], where
            assert action["contact"] == {
                name: contact[name] for name in ("action_date", "action", "channel", "step")
            }, where
            own = LEVEL.get(action["channel"], 4)
            assert RUNG[own] == RUNG[LEVEL.get(contact["channel"], 4)], f"{where}: mixed rungs"
            steps = [r["step"] for r in reminders if r.get("step") and _same_track(r, invoice)]
            if steps and action["step"] is not None:
                assert action["step"] > max(steps), f"{where}: step {action['step']} again"
        level = 4 if action["action"] in LEGAL else LEVEL.get(action["channel"] or "", 0)
        noticed = any(r["channel"] == "formal_notice" for r in reminders)
        if level == 4:
            assert noticed, f"{where}: {action['action']} without a formal notice"
        if level >= 3:
            assert not _on_track(invoice, today), f"{where}: {action['channel']} on track"
        if level >= 3:
            reminded = reminders or levels_before.get(scored["invoice_id"], 0) > 0
            assert reminded, f"{where}: a formal notice as first contact"
        hold = invoice.get("hold") or holds.get(scored["customer_id"])
        if hold and action["action"] in CONTACTS:
            assert when > date.fromisoformat(hold["until"]), f"{where}: contact inside a hold"


def check_continuity(before: dict, after: dict) -> None:
    """Nothing planned vanishes without a named event: an invoice whose plan was sent back and
    that no event touched keeps its action, channel and step, on its day (or today if that day
    passed unreported)."""
    previous = {i["invoice_id"]: i["next_action"] for i in before["invoices"]}
    today = after["as_of"]
    for scored in after["invoices"]:
        action, old = scored["next_action"], previous.get(scored["invoice_id"])
        if old is None:
            assert action["plan_change"] is None
            continue
        where = f"{scored['invoice_id']} as of {today}"
        assert action["plan_change"] is not None, f"{where}: the plan sent back was not read"
        if action["plan_change"]:
            continue  # an event changed it, and the answer names it
        assert old["action"] != "wait" or old["action_date"] > today, where
        for name in ("action", "channel", "step", "template"):
            assert action[name] == old[name], f"{where}: {name} changed with no event"
        due = max(old["action_date"], next_working_day(date.fromisoformat(today)).isoformat())
        assert action["action_date"] == due, f"{where}: planned for {due}, moved with no event"


def _same_track(reminder: dict, invoice: dict) -> bool:
    """A reminder of the invoice's current track: under a plan, those sent after the previous
    instalment fell due (a plan's steps count per instalment)."""
    plan = invoice.get("payment_plan")
    if not plan:
        return True
    return date.fromisoformat(reminder["sent_date"]) > _plan_since(invoice)


def _plan_since(invoice: dict) -> date:
    """The previous instalment's due day (or the agreement) of the current one."""
    plan = invoice["payment_plan"]
    paid = sum(i["amount"] for i in plan["instalments"]) - invoice["open_amount"]
    since = date.fromisoformat(plan["agreed_on"])
    for instalment in plan["instalments"]:
        paid -= instalment["amount"]
        if paid < -0.005:
            break
        since = date.fromisoformat(instalment["due_date"])
    return since


def _current_instalment_due(invoice: dict) -> date | None:
    plan = invoice["payment_plan"]
    paid = sum(i["amount"] for i in plan["instalments"]) - invoice["open_amount"]
    for instalment in plan["instalments"]:
        paid -= instalment["amount"]
        if paid < -0.005:
            return date.fromisoformat(instalment["due_date"])
    return None


def _on_track(invoice: dict, today: date) -> bool:
    promise = invoice.get("promise")
    if promise and date.fromisoformat(promise["promised_date"]) >= today:
        return True
    if invoice.get("payment_plan"):
        due = _current_instalment_due(invoice)
        return due is not None and due >= today
    return False


class DunningLoop(RuleBasedStateMachine):
    """A dunning system and its customers, day by day, against the engine's HTTP answers."""

    client = None
    start: date
    snapshot_invoices: list[dict]
    levels_before: dict[str, float]

    @initialize()
    def begin(self) -> None:
        self.today = next_working_day(self.start)
        self.invoices = {i["invoice_id"]: copy.deepcopy(i) for i in self.snapshot_invoices}
        for invoice in _new_invoices(self.today):
            self.invoices[invoice["invoice_id"]] = invoice
        for invoice in self.invoices.values():
            invoice.setdefault("open_amount", invoice["amount"])
        self.customers: dict[str, dict] = {}
        self.answer: dict = {"invoices": [], "customers": []}
        self.answer = self.ask()

    # The world's events -------------------------------------------------------------------
    def _open(self) -> list[str]:
        return sorted(self.invoices)

    @precondition(lambda self: len(self.invoices) > 1)
    @rule(pick=st.integers(0, 50), share=st.sampled_from([0.25, 0.5, 1.0]))
    def pay(self, pick: int, share: float) -> None:
        invoice_id = self._open()[pick % len(self.invoices)]
        invoice = self.invoices[invoice_id]
        left = round(invoice["open_amount"] * (1 - share), 2)
        if left < 0.01:
            del self.invoices[invoice_id]
        else:
            invoice["open_amount"] = left

    @rule(pick=st.integers(0, 50), days=st.integers(2, 20))
    def promise(self, pick: int, days: int) -> None:
        invoice = self.invoices[self._open()[pick % len(self.invoices)]]
        invoice["promise"] = {
            "made_on": self.today.isoformat(),
            "promised_date": (self.today + timedelta(days=days)).isoformat(),
        }

    @rule(pick=st.integers(0, 50), months=st.integers(2, 4))
    def agree_plan(self, pick: int, months: int) -> None:
        invoice = self.invoices[self._open()[pick % len(self.invoices)]]
        if invoice["open_amount"] < months:
            return
        share = round(invoice["open_amount"] / months, 2)
        amounts = [share] * (months - 1) + [round(invoice["open_amount"] - share * (months - 1), 2)]
        invoice.pop("promise", None)
        invoice["payment_plan"] = {
            "agreed_on": self.today.isoformat(),
            "instalments": [
                {"due_date": (self.today + timedelta(days=7 + 30 * k)).isoformat(), "amount": a}
                for k, a in enumerate(amounts)
            ],
        }

    @rule(pick=st.integers(0, 50))
    def pay_instalment(self, pick: int) -> None:
        planned = [k for k, i in sorted(self.invoices.items()) if i.get("payment_plan")]
        if not planned:
            return
        invoice = self.invoices[planned[pick % len(planned)]]
        if _current_instalment_due(invoice) is None:
            return
        plan = invoice["payment_plan"]
        paid = sum(i["amount"] for i in plan["instalments"]) - invoice["open_amount"]
        for instalment in plan["instalments"]:
            paid -= instalment["amount"]
            if paid < -0.005:
                left = round(invoice["open_amount"] + paid, 2)  # what is left after it
                break
        if left < 0.01:
            del self.invoices[planned[pick % len(planned)]]
        else:
            invoice["open_amount"] = left

    @rule(pick=st.integers(0, 50), days=st.integers(1, 12), whole=st.booleans())
    def hold(self, pick: int, days: int, whole: bool) -> None:
        invoice = self.invoices[self._open()[pick % len(self.invoices)]]
        until = {"until": (self.today + timedelta(days=days)).isoformat()}
        if whole:
            entry = self.customers.setdefault(
                invoice["customer_id"], {"customer_id": invoice["customer_id"]}
            )
            entry["hold"] = until
        else:
            invoice["hold"] = until

    @rule()
    def end_holds(self) -> None:
        for invoice in self.invoices.values():
            invoice.pop("hold", None)
        for entry in self.customers.values():
            entry.pop("hold", None)

    @rule(pick=st.integers(0, 50))
    def dispute(self, pick: int) -> None:
        invoice = self.invoices[self._open()[pick % len(self.invoices)]]
        invoice["dispute_date"] = self.today.isoformat()

    @rule()
    def resolve_disputes(self) -> None:
        for invoice in self.invoices.values():
            invoice.pop("dispute_date", None)
            invoice["disputed"] = False

    @rule(days=st.integers(1, 6))
    def next_days(self, days: int) -> None:
        """The dunning system does what today's answer says, then days pass."""
        for _ in range(days):
            self.carry_out()
            self.today += timedelta(days=1)
            self.answer = self.ask()

    # The dunning system ----------------------------------------------------------------------
    def carry_out(self) -> None:
        """Send today's contacts (each invoice reported with its customer's contact's channel
        and its own step), mark today's reviews done."""
        today = self.today.isoformat()
        for scored in self.answer["invoices"]:
            action = scored["next_action"]
            invoice = self.invoices.get(scored["invoice_id"])
            if invoice is None or action["action_date"] != today:
                continue
            if action["action"] in CONTACTS:
                reminder = {"sent_date": today, "channel": action["contact"]["channel"]}
                if action["step"] is not None:
                    reminder["step"] = action["step"]
                invoice.setdefault("reminders", []).append(reminder)
                entry = self.customers.setdefault(
                    invoice["customer_id"], {"customer_id": invoice["customer_id"]}
                )
                entry["last_contact_date"] = today
            elif action["action"] in ("write_off_review", "credit_manager_review"):
                invoice.setdefault("reviews", []).append(
                    {"done_on": today, "action": action["action"]}
                )

    def body(self) -> dict:
        """Today's request: every open invoice with its state, and the plan it was given."""
        planned = {i["invoice_id"]: i["next_action"]["plan_id"] for i in self.answer["invoices"]}
        invoices = []
        for invoice in self.invoices.values():
            out = {k: v for k, v in invoice.items() if v is not None}
            if out.get("dispute_date"):
                out["disputed"] = True
            if invoice["invoice_id"] in planned:
                out["planned"] = planned[invoice["invoice_id"]]
            invoices.append(out)
        customers = [c for c in self.customers.values() if len(c) > 1]
        return {
            "invoices": invoices,
            "customers": customers,
            "as_of": self.today.isoformat(),
            "with_reasons": False,
        }

    def ask(self) -> dict:
        body = self.body()
        response = self.client.post("/v1/score", json=body)
        assert response.status_code == 200, response.text
        answer = response.json()
        check_answer(body, answer, self.levels_before)
        check_continuity(self.answer, answer)
        again = self.client.post("/v1/score", json=body)
        assert again.json() == answer, "the same request gives the same answer"
        self.asked = {invoice["invoice_id"] for invoice in body["invoices"]}
        return answer

    @invariant()
    def every_invoice_asked_about_is_answered(self) -> None:
        answered = {i["invoice_id"] for i in self.answer["invoices"]}
        assert answered == self.asked


def started_loop(client, bundle, customers: list[str]) -> DunningLoop:
    """The loop's world set for these customers of the snapshot (every open invoice of theirs,
    and a new customer's), begun: its first answer checked."""
    rows = bundle.invoices.loc[bundle.invoices["customer_id"].isin(customers)]
    DunningLoop.client = client
    DunningLoop.start = bundle.as_of.date() + timedelta(days=1)
    DunningLoop.snapshot_invoices = invoice_payload(rows)
    DunningLoop.levels_before = _levels(rows)
    loop = DunningLoop()
    loop.begin()
    return loop


def test_day_after_day_the_answers_form_one_lawful_plan(client, bundle):
    started_loop(client, bundle, _known_customers(bundle, 2))  # sets the world up, checks day 1
    run_state_machine_as_test(
        DunningLoop,
        settings=settings(
            max_examples=6,
            stateful_step_count=14,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        ),
    )


def test_a_month_of_daily_calls_sends_each_step_once_and_the_notice_before_legal_action(
    client, bundle
):
    """The firm loop of the issue: every answer carried out, nothing else happens: by the end,
    any legal step comes after a formal notice was sent, and every step sent is new."""
    loop = started_loop(client, bundle, _known_customers(bundle, 2))
    loop.next_days(30)
    sent = [r for i in loop.invoices.values() for r in i.get("reminders", [])]
    assert sent, "a month of dunning sends something"
    for invoice in loop.invoices.values():
        channels = [r["channel"] for r in invoice.get("reminders", [])]
        if "agency" in channels:
            assert "formal_notice" in channels[: channels.index("agency")]
        steps = [r["step"] for r in invoice.get("reminders", []) if "step" in r]
        assert steps == sorted(set(steps)), f"{invoice['invoice_id']}: a step sent twice {steps}"


LOOP_EVENTS = ("pay", "promise", "agree_plan", "pay_instalment", "hold", "end_holds", "dispute")


@pytest.mark.slow
def test_a_thirty_day_loop_against_a_real_server_finds_no_violation(server, bundle):
    """The daily loop of a dunning system against `payrisk serve`: 40 customers, every kind of
    event on random invoices each day (seeded), every answer carried out and checked."""
    import httpx

    rng = np.random.default_rng(25)
    with httpx.Client(base_url=server, headers=AUTH, timeout=60) as http:
        loop = started_loop(http, bundle, _known_customers(bundle, 40, most=8))
        seen = set()
        for day in range(30):
            for event in rng.choice(LOOP_EVENTS, size=3, replace=False):
                pick = int(rng.integers(0, 1000))
                if event == "pay" and len(loop.invoices) > 1:
                    loop.pay(pick, float(rng.choice([0.25, 0.5, 1.0])))
                elif event == "promise":
                    loop.promise(pick, int(rng.integers(2, 20)))
                elif event == "agree_plan":
                    loop.agree_plan(pick, int(rng.integers(2, 5)))
                elif event == "pay_instalment":
                    loop.pay_instalment(pick)
                elif event == "hold":
                    loop.hold(pick, int(rng.integers(1, 12)), bool(rng.integers(0, 2)))
                elif event == "end_holds" and day % 5 == 0:
                    loop.end_holds()
                elif event == "dispute" and day % 7 == 0:
                    loop.dispute(pick)
                seen.add(event)
            if day % 10 == 9:
                loop.resolve_disputes()
            loop.next_days(1)
            loop.every_invoice_asked_about_is_answered()
    assert seen >= {"pay", "promise", "agree_plan", "hold"}
    sent = [r for i in loop.invoices.values() for r in i.get("reminders", [])]
    assert len(sent) > 40, "a month of dunning over 40 customers sends reminders"
