"""The credit desk's record on SQLite: migrations from empty, round trips of decisions, limits and
notes, the override rule, field-named refusals that never quote what was typed, and a database
written by a newer payrisk refused."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from payrisk.policy.credit import departs
from payrisk.records.store import (
    CreditDesk,
    DecisionEntry,
    RecordError,
    SchemaVersionError,
    current_revision,
    head_revision,
)


class Clock:
    """A clock that ticks one minute per reading, so that order by time is checkable."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def entry(**changes) -> DecisionEntry:
    values = dict(
        customer_id="C000321",
        author="alice",
        requested_amount=20_000.0,
        terms_days=30,
        recommendation="approve_with_conditions",
        late_probability=0.62,
        default_probability=0.08,
        exposure=95_974.28,
        max_approvable_amount=30_000.0,
        model_version="3",
        snapshot_as_of=date(2026, 10, 1),
        snapshot_id="snap-1",
        decision="approve_with_conditions",
        granted_amount=20_000.0,
        granted_terms_days=30,
        conditions=("deposit of 30% (6,000.00 EUR) before delivery",),
    )
    values.update(changes)
    return DecisionEntry(**values)


@pytest.fixture
def desk(tmp_path) -> CreditDesk:
    return CreditDesk.open(f"sqlite:///{tmp_path / 'desk.db'}", clock=Clock())


def test_migrations_from_empty_reach_the_head(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = create_engine(url)
    assert current_revision(engine) is None
    CreditDesk.open(url)
    assert current_revision(engine) == head_revision() == "0001"
    CreditDesk.open(url)  # a second start finds it migrated and changes nothing
    with engine.connect() as connection:
        tables = {
            row[0]
            for row in connection.execute(text("select name from sqlite_master where type='table'"))
        }
    assert {"credit_decisions", "credit_limits", "customer_notes", "alembic_version"} <= tables


def test_a_database_of_a_newer_payrisk_is_refused(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'newer.db'}"
    CreditDesk.open(url)
    with create_engine(url).begin() as connection:
        connection.execute(text("update alembic_version set version_num = '0099'"))
    with pytest.raises(SchemaVersionError, match="'0099', unknown to this version"):
        CreditDesk.open(url)


@pytest.mark.parametrize(
    "url",
    [
        "nosuchdialect://user:secret@host/db",  # no such database kind
        "postgresql+nosuchdriver://user:secret@host/db",  # a driver that is not installed
        "sqlite:////nonexistent-folder/secret/payrisk.db",  # a folder that does not exist
    ],
)
def test_a_database_that_cannot_be_opened_is_one_error_without_its_url(url: str) -> None:
    """The service then answers the desk's endpoints with 503 and goes on scoring."""
    with pytest.raises(SchemaVersionError, match="check PAYRISK_DATABASE_URL") as refused:
        CreditDesk.open(url)
    assert "secret" not in str(refused.value)


def test_decisions_limits_and_notes_round_trip(desk: CreditDesk) -> None:
    first = desk.record_decision(entry(credit_limit=80_000.0, previous_limit=72_000.0))
    second = desk.record_decision(
        entry(decision="decline", granted_amount=None, override_reason="court case pending",
              credit_limit=60_000.0)
    )  # fmt: skip
    desk.add_note("C000321", "bob", "CFO promised the overdue by Friday\nsecond line")
    desk.add_note("C000001", "bob", "another customer")
    record = desk.customer("C000321")
    assert [d["id"] for d in record.decisions] == [second["id"], first["id"]]  # newest first
    latest = record.decisions[0]
    assert latest["decision"] == "decline"
    assert latest["override"] is True
    assert latest["override_reason"] == "court case pending"
    assert latest["decided_at"].tzinfo is not None
    oldest = record.decisions[1]
    assert oldest["override"] is False
    assert oldest["conditions"] == ["deposit of 30% (6,000.00 EUR) before delivery"]
    assert oldest["exposure"] == 95_974.28
    assert (oldest["model_version"], oldest["snapshot_id"]) == ("3", "snap-1")
    # limit history: the data's limit before the first recorded one, then the recorded one
    assert [(x["credit_limit"], x["previous_limit"]) for x in record.limits] == [
        (60_000.0, 80_000.0),
        (80_000.0, 72_000.0),
    ]
    assert isinstance(record.limits[0]["credit_limit"], float)
    assert record.current_limit == 60_000.0
    assert [n["text"] for n in record.notes] == ["CFO promised the overdue by Friday\nsecond line"]
    assert desk.counts() == {"decisions": 2, "overrides": 1}
    assert [d["id"] for d in desk.all_decisions()] == [first["id"], second["id"]]


@pytest.mark.parametrize(
    ("recommendation", "decision", "granted", "expected"),
    [
        ("approve", "approve", 20_000.0, False),
        ("approve", "approve_with_conditions", 20_000.0, True),  # stricter is a departure too
        ("decline", "approve", 20_000.0, True),
        ("refer_to_credit_manager", "approve", 20_000.0, False),  # a referral asks a decision
        ("refer_to_credit_manager", "approve", 30_000.01, True),  # beyond the most approvable
        ("approve", "approve", 30_000.0, False),
        ("refer_to_credit_manager", "decline", None, False),
    ],
)
def test_what_departs_from_the_recommendation(recommendation, decision, granted, expected):
    assert departs(recommendation, decision, granted, 30_000.0) is expected


def test_an_override_without_its_reason_is_refused_and_nothing_written(desk: CreditDesk) -> None:
    with pytest.raises(RecordError, match=r"^override_reason: required"):
        desk.record_decision(entry(decision="approve", override_reason="   "))
    with pytest.raises(RecordError, match=r"^override_reason: required"):
        desk.record_decision(entry(granted_amount=45_000.0))
    assert desk.counts()["decisions"] == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"customer_id": ""}, "customer_id"),
        ({"customer_id": "C1\n"}, "customer_id"),
        ({"author": ""}, "author"),
        ({"decision": "refer_to_credit_manager"}, "decision"),
        ({"recommendation": "maybe"}, "recommendation"),
        ({"requested_amount": float("nan")}, "requested_amount"),
        ({"granted_amount": -1.0}, "granted_amount"),
        ({"terms_days": 5000}, "terms_days"),
        ({"late_probability": 1.5}, "late_probability"),
        ({"decision": "decline", "granted_amount": 10.0, "override_reason": "x"}, "granted_amount"),
        ({"conditions": ("x" * 201,)}, "conditions"),
        ({"conditions": ("a",) * 11}, "conditions"),
        ({"customer_id": "C\ud800"}, "customer_id"),
        (
            {"override_reason": "ok \udfff", "decision": "decline", "granted_amount": None},
            "override_reason",
        ),
    ],
)
def test_bad_fields_are_refused_by_name(desk: CreditDesk, changes: dict, field: str) -> None:
    with pytest.raises(RecordError, match=rf"^{field}: "):
        desk.record_decision(entry(**changes))


def test_note_errors_name_the_field_and_never_quote_the_text(desk: CreditDesk) -> None:
    secret = "Mr Dupont's private phone 06 12 34 56 78"
    for bad in (secret + "\x00", secret * 100):
        with pytest.raises(RecordError) as raised:
            desk.add_note("C1", "bob", bad)
        assert str(raised.value).startswith("text: ")
        assert "Dupont" not in str(raised.value)
    with pytest.raises(RecordError, match=r"^text: a note must say something"):
        desk.add_note("C1", "bob", "  \n ")


def test_overrides_report_counts_departures_and_how_customers_paid_since() -> None:
    import pandas as pd

    from payrisk.records.overrides import override_report

    def decision(id_, customer, recommendation, decided, override, day):
        return {"id": id_, "customer_id": customer, "recommendation": recommendation,
                "decision": decided, "override": override,
                "decided_at": datetime(2026, 3, day, 15, 0, tzinfo=UTC)}  # fmt: skip

    decisions = [
        decision(1, "A", "approve", "approve", False, 1),
        decision(2, "B", "approve", "decline", True, 1),
        decision(3, "C", "decline", "approve", True, 10),
    ]
    payments = pd.DataFrame(
        {
            "customer_id": ["A", "A", "C", "C", "C", "B"],
            # A: one settled the day of its decision (not "since"), one after, on time
            "settled_date": pd.to_datetime(
                ["2026-03-01", "2026-03-20", "2026-03-05", "2026-04-01", "2026-05-01", "2026-02-01"]
            ),
            "days_late": [40, 0, 30, 12, 45, 3],
            "written_off": [False, False, False, False, True, False],
        }
    )
    report = override_report(decisions, payments)
    assert (report["decisions"], report["overrides"]) == (3, 2)
    assert report["matrix"]["approve"] == {
        "approve": 1,
        "approve_with_conditions": 0,
        "decline": 1,
    }
    assert report["matrix"]["decline"]["approve"] == 1
    assert report["groups"]["followed"] == {
        "decisions": 1, "settled": 1, "late_share": 0.0, "mean_days_late": 0.0, "written_off": 0,
    }  # fmt: skip
    # departed: B settled nothing since; C two since 10 March (12 and 45 days late, one lost)
    assert report["groups"]["departed"] == {
        "decisions": 2, "settled": 2, "late_share": 1.0, "mean_days_late": 28.5, "written_off": 1,
    }  # fmt: skip
    assert override_report([], payments)["decisions"] == 0
