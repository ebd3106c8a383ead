"""Validation rules: each class of bad input is refused, named, and located by line and id.

Every test writes a tiny data directory, breaks one thing in it and checks that exactly the
expected rule fails, on the expected line and invoice id, and that the good rows are not listed.
"""

from __future__ import annotations

import csv
import pickle
from pathlib import Path

import pytest

from payrisk.data.loading import DataFileError, load_dataset, read_tables, validate_dataset_dir
from payrisk.data.validation import (
    DataValidationError,
    RuleFailure,
    ValidationReport,
    validate_tables,
)

# Lines in invoices.csv: INV-1 on line 2, INV-2 on line 3, INV-3 on line 4 (the header is line 1).
INVOICE_IDS = ("INV-1", "INV-2", "INV-3")


def invoice(invoice_id: str, /, **changes: str) -> dict[str, str]:
    """A valid invoice row as a CSV would hold it; `changes` breaks or completes it."""
    row = {
        "invoice_id": invoice_id,
        "customer_id": "C1",
        "issue_date": "2024-01-10",
        "due_date": "2024-02-09",
        "amount": "100.00",
        "currency": "EUR",
        "paid_date": "",
        "disputed": "false",
        "written_off_date": "",
    }
    row.update(changes)
    return row


def good_invoices(**changes_by_id: dict[str, str]) -> list[dict[str, str]]:
    return [invoice(invoice_id, **changes_by_id.get(invoice_id, {})) for invoice_id in INVOICE_IDS]


def payment(invoice_id: str, payment_date: str = "2024-02-01", amount: str = "40.00") -> dict:
    return {"invoice_id": invoice_id, "payment_date": payment_date, "amount": amount}


def reminder(invoice_id: str, sent_date: str = "2024-02-15", channel: str = "email") -> dict:
    return {"invoice_id": invoice_id, "sent_date": sent_date, "channel": channel, "step": "1"}


def customer(customer_id: str, /, **changes: str) -> dict[str, str]:
    row = {"customer_id": customer_id, "country": "FR", "credit_limit": "5000", "key_account": "no"}
    row.update(changes)
    return row


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    """Columns are the union of the rows' keys, in first-seen order; absent keys are empty."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def data_dir(
    root: Path,
    invoices: list[dict[str, str]] | None = None,
    payments: list[dict[str, str]] | None = None,
    reminders: list[dict[str, str]] | None = None,
    customers: list[dict[str, str]] | None = None,
) -> Path:
    """A data directory with the given tables; optional tables are written only when given."""
    tables = {
        "invoices": good_invoices() if invoices is None else invoices,
        "payments": payments,
        "reminders": reminders,
        "customers": customers,
    }
    for name, rows in tables.items():
        if rows is not None:
            write_csv(root / f"{name}.csv", rows)
    return root


def failure(report: ValidationReport, rule: str, table: str = "invoices") -> RuleFailure:
    found = [f for f in report.failures if f.rule == rule and f.table == table]
    assert len(found) == 1, report.render()
    return found[0]


def failed_rules(report: ValidationReport) -> set[tuple[str, str]]:
    return {(f.table, f.rule) for f in report.failures}


def assert_only_failure(
    report: ValidationReport,
    table: str,
    rule: str,
    examples: list[tuple[int, str | None]],
    column: str | None = None,
) -> RuleFailure:
    """The report fails on this rule alone, lists exactly these rows, and says so in its text."""
    assert not report.success
    assert failed_rules(report) == {(table, rule)}, report.render()
    found = failure(report, rule, table)
    assert found.examples == examples
    assert found.failing_rows == len(examples)
    if column is not None:
        assert found.column == column
    text = report.render()
    assert rule in text
    assert f"{table}.csv" in text
    for line, key_id in examples:
        assert f"line {line} ({found.key} {key_id or 'missing'})" in text
    assert text.splitlines()[-1] == "1 rule failed on 1 table"
    return found


def test_clean_dataset_passes(tmp_path: Path) -> None:
    root = data_dir(
        tmp_path,
        invoices=good_invoices(**{"INV-1": {"paid_date": "2024-02-01", "written_off_date": ""}}),
        payments=[payment("INV-1", amount="60.00"), payment("INV-1", amount="40.00")],
        reminders=[reminder("INV-2"), reminder("INV-3", channel="formal_notice")],
        customers=[customer("C1"), customer("C2", credit_limit="0")],
    )
    report = validate_dataset_dir(root)
    assert report.success, report.render()
    assert report.failures == []
    assert report.checked == {"invoices": 3, "payments": 2, "customers": 2, "reminders": 2}
    text = report.render()
    assert text.startswith(f"all {report.rules_run} rules passed on invoices (3 rows)")
    assert "payments (2 rows)" in text
    report.raise_for_failures()


def test_invoices_alone_pass(tmp_path: Path) -> None:
    report = validate_dataset_dir(data_dir(tmp_path))
    assert report.success, report.render()
    assert report.checked == {"invoices": 3}


def test_missing_column_is_named_and_dependent_rules_are_skipped(tmp_path: Path) -> None:
    rows = [{k: v for k, v in row.items() if k != "issue_date"} for row in good_invoices()]
    report = validate_dataset_dir(
        data_dir(tmp_path, invoices=rows, payments=[payment("INV-1")], reminders=[reminder("X")])
    )
    assert failed_rules(report) == {("invoices", "column_present"), ("reminders", "invoice_known")}
    missing = failure(report, "column_present")
    assert missing.column == "issue_date"
    assert missing.source == "invoices.csv"
    assert missing.failing_rows == 3
    assert "rule column_present (issue_date)" in report.render()
    assert "the column is not in the file (3 rows)" in report.render()
    # the reminder's invoice rule still runs: it needs invoice ids, not issue dates
    assert failure(report, "invoice_known", "reminders").examples == [(2, "X")]


def test_missing_key_column_does_not_break_other_tables(tmp_path: Path) -> None:
    rows = [{k: v for k, v in row.items() if k != "invoice_id"} for row in good_invoices()]
    report = validate_dataset_dir(data_dir(tmp_path, invoices=rows, payments=[payment("INV-1")]))
    assert failed_rules(report) == {("invoices", "column_present")}
    assert failure(report, "column_present").column == "invoice_id"


@pytest.mark.parametrize(
    ("column", "bad_value"),
    [
        ("issue_date", "10/01/2024"),
        ("due_date", "2024-02-30"),
        ("amount", "1.234,50"),
        ("disputed", "maybe"),
    ],
)
def test_unparseable_value(tmp_path: Path, column: str, bad_value: str) -> None:
    invoices = good_invoices(**{"INV-2": {column: bad_value}})
    report = validate_dataset_dir(data_dir(tmp_path, invoices=invoices))
    assert_only_failure(report, "invoices", "parseable", [(3, "INV-2")], column=column)


def test_empty_required_value_is_missing_not_unparseable(tmp_path: Path) -> None:
    invoices = good_invoices(**{"INV-3": {"due_date": ""}})
    report = validate_dataset_dir(data_dir(tmp_path, invoices=invoices))
    assert_only_failure(report, "invoices", "value_present", [(4, "INV-3")], column="due_date")


def test_missing_invoice_id_is_reported_by_line(tmp_path: Path) -> None:
    invoices = good_invoices(**{"INV-2": {"invoice_id": ""}})
    report = validate_dataset_dir(data_dir(tmp_path, invoices=invoices))
    found = assert_only_failure(report, "invoices", "value_present", [(3, None)])
    assert found.column == "invoice_id"
    assert "line 3 (invoice_id missing)" in report.render()


def test_unparseable_step_in_reminders(tmp_path: Path) -> None:
    reminders = [reminder("INV-1"), {**reminder("INV-2"), "step": "1.5"}]
    report = validate_dataset_dir(data_dir(tmp_path, reminders=reminders))
    assert_only_failure(report, "reminders", "parseable", [(3, "INV-2")], column="step")


def test_date_out_of_range(tmp_path: Path) -> None:
    invoices = good_invoices(**{"INV-1": {"issue_date": "1989-12-31"}})
    invoices.append(invoice("INV-4", due_date="2101-01-01"))  # line 5
    report = validate_dataset_dir(data_dir(tmp_path, invoices=invoices))
    assert failed_rules(report) == {("invoices", "date_in_range")}
    by_column = {f.column: f.examples for f in report.failures}
    assert by_column == {"issue_date": [(2, "INV-1")], "due_date": [(5, "INV-4")]}
    assert "1990-01-01 and 2100-12-31" in report.render()


def test_duplicate_invoice_id(tmp_path: Path) -> None:
    invoices = [*good_invoices(), invoice("INV-2", customer_id="C2")]
    report = validate_dataset_dir(data_dir(tmp_path, invoices=invoices))
    assert_only_failure(report, "invoices", "unique_id", [(3, "INV-2"), (5, "INV-2")])


def test_duplicate_customer_id(tmp_path: Path) -> None:
    customers = [customer("C1"), customer("C2"), customer("C1", country="BE")]
    report = validate_dataset_dir(data_dir(tmp_path, customers=customers))
    assert_only_failure(report, "customers", "unique_id", [(2, "C1"), (4, "C1")])
    assert "line 2 (customer_id C1)" in report.render()


def test_negative_invoice_amount(tmp_path: Path) -> None:
    invoices = good_invoices(**{"INV-2": {"amount": "-10.00"}})
    report = validate_dataset_dir(data_dir(tmp_path, invoices=invoices))
    assert_only_failure(report, "invoices", "amount_positive", [(3, "INV-2")])


def test_negative_payment_amount(tmp_path: Path) -> None:
    payments = [payment("INV-1"), payment("INV-2", amount="-5")]
    report = validate_dataset_dir(data_dir(tmp_path, payments=payments))
    assert_only_failure(report, "payments", "amount_positive", [(3, "INV-2")])


def test_negative_credit_limit_and_step_below_one(tmp_path: Path) -> None:
    customers = [customer("C1"), customer("C2", credit_limit="-1")]
    reminders = [{**reminder("INV-1"), "step": "0"}, reminder("INV-2")]
    report = validate_dataset_dir(data_dir(tmp_path, customers=customers, reminders=reminders))
    assert failed_rules(report) == {
        ("customers", "credit_limit_not_negative"),
        ("reminders", "step_positive"),
    }
    assert failure(report, "credit_limit_not_negative", "customers").examples == [(3, "C2")]
    assert failure(report, "step_positive", "reminders").examples == [(2, "INV-1")]


def test_due_date_before_issue_date(tmp_path: Path) -> None:
    invoices = good_invoices(**{"INV-3": {"due_date": "2024-01-09"}})
    report = validate_dataset_dir(data_dir(tmp_path, invoices=invoices))
    assert_only_failure(report, "invoices", "due_date_not_before_issue_date", [(4, "INV-3")])


def test_due_date_on_issue_date_is_fine(tmp_path: Path) -> None:
    invoices = good_invoices(**{"INV-3": {"due_date": "2024-01-10"}})
    assert validate_dataset_dir(data_dir(tmp_path, invoices=invoices)).success


def test_paid_date_before_issue_date(tmp_path: Path) -> None:
    invoices = good_invoices(
        **{"INV-1": {"paid_date": "2024-01-20"}, "INV-2": {"paid_date": "2023-12-31"}}
    )
    report = validate_dataset_dir(data_dir(tmp_path, invoices=invoices))
    assert_only_failure(report, "invoices", "paid_date_not_before_issue_date", [(3, "INV-2")])


def test_written_off_date_before_issue_date(tmp_path: Path) -> None:
    invoices = good_invoices(**{"INV-1": {"written_off_date": "2024-01-09"}})
    report = validate_dataset_dir(data_dir(tmp_path, invoices=invoices))
    assert_only_failure(
        report, "invoices", "written_off_date_not_before_issue_date", [(2, "INV-1")]
    )


def test_dispute_dates_are_checked(tmp_path: Path) -> None:
    invoices = good_invoices(
        **{
            "INV-1": {"dispute_date": "2024-01-05"},  # before the invoice existed
            "INV-2": {"dispute_date": "2024-02-20", "dispute_resolved_date": "2024-02-10"},
        }
    )
    report = validate_dataset_dir(data_dir(tmp_path, invoices=invoices))
    assert failed_rules(report) == {
        ("invoices", "dispute_date_not_before_issue_date"),
        ("invoices", "dispute_resolved_date_not_before_dispute_date"),
    }
    assert failure(report, "dispute_date_not_before_issue_date").examples == [(2, "INV-1")]
    resolved = failure(report, "dispute_resolved_date_not_before_dispute_date")
    assert resolved.examples == [(3, "INV-2")]


def test_a_resolution_needs_its_dispute_date(tmp_path: Path) -> None:
    invoices = good_invoices(**{"INV-3": {"dispute_resolved_date": "2024-02-10"}})
    report = validate_dataset_dir(data_dir(tmp_path, invoices=invoices))
    assert_only_failure(report, "invoices", "dispute_date_with_resolution", [(4, "INV-3")])


def test_a_dated_dispute_is_a_dispute(tmp_path: Path) -> None:
    invoices = good_invoices(**{"INV-2": {"dispute_date": "2024-02-01", "disputed": "false"}})
    loaded = load_dataset(data_dir(tmp_path, invoices=invoices))
    assert loaded.invoices["disputed"].tolist() == [False, True, False]


@pytest.mark.parametrize("bad_code", ["EURO", "XXY", "€"])
def test_unknown_currency_code(tmp_path: Path, bad_code: str) -> None:
    invoices = good_invoices(**{"INV-1": {"currency": "usd"}, "INV-2": {"currency": bad_code}})
    report = validate_dataset_dir(data_dir(tmp_path, invoices=invoices))
    assert_only_failure(report, "invoices", "currency_known", [(3, "INV-2")])


def test_reminder_for_unknown_invoice(tmp_path: Path) -> None:
    reminders = [reminder("INV-1"), reminder("INV-404"), reminder("INV-3")]
    report = validate_dataset_dir(data_dir(tmp_path, reminders=reminders))
    assert_only_failure(report, "reminders", "invoice_known", [(3, "INV-404")])


def test_payment_for_unknown_invoice(tmp_path: Path) -> None:
    payments = [payment("INV-9"), payment("INV-2")]
    report = validate_dataset_dir(data_dir(tmp_path, payments=payments))
    assert_only_failure(report, "payments", "invoice_known", [(2, "INV-9")])


def test_payments_over_invoice_amount(tmp_path: Path) -> None:
    payments = [
        payment("INV-1", amount="60.00"),  # line 2
        payment("INV-2", amount="33.33"),  # INV-2: 3 x 33.33 + 0.01 = 100.00 exactly
        payment("INV-1", amount="30.00"),  # line 4: INV-1 at 90.00
        payment("INV-2", amount="33.33"),
        payment("INV-2", amount="33.33"),
        payment("INV-1", amount="10.01"),  # line 7: INV-1 at 100.01, over by a cent
        payment("INV-2", amount="0.01"),
        payment("INV-1", amount="5.00"),  # line 9: later, but not the first one over
    ]
    report = validate_dataset_dir(data_dir(tmp_path, payments=payments))
    found = assert_only_failure(
        report, "payments", "payments_within_invoice_amount", [(7, "INV-1")]
    )
    assert found.source == "payments.csv"


def test_payment_before_issue_date(tmp_path: Path) -> None:
    payments = [payment("INV-1", payment_date="2024-01-10"), payment("INV-2", "2024-01-09")]
    report = validate_dataset_dir(data_dir(tmp_path, payments=payments))
    assert_only_failure(report, "payments", "payment_date_not_before_issue_date", [(3, "INV-2")])


def test_reminder_sent_before_issue_date(tmp_path: Path) -> None:
    reminders = [reminder("INV-1", sent_date="2024-01-09"), reminder("INV-2")]
    report = validate_dataset_dir(data_dir(tmp_path, reminders=reminders))
    assert_only_failure(report, "reminders", "sent_date_not_before_issue_date", [(2, "INV-1")])


def test_unknown_channel(tmp_path: Path) -> None:
    reminders = [reminder("INV-1", channel="SMS"), reminder("INV-2", channel="fax")]
    report = validate_dataset_dir(data_dir(tmp_path, reminders=reminders))
    assert_only_failure(report, "reminders", "channel_known", [(3, "INV-2")])


def test_examples_are_capped_at_five(tmp_path: Path) -> None:
    invoices = [invoice(f"INV-{n}", amount="0") for n in range(1, 9)]
    report = validate_dataset_dir(data_dir(tmp_path, invoices=invoices))
    found = failure(report, "amount_positive")
    assert found.failing_rows == 8
    assert [line for line, _ in found.examples] == [2, 3, 4, 5, 6]
    assert "8 failing rows" in report.render()


def test_load_dataset_raises_on_bad_data(tmp_path: Path) -> None:
    invoices = good_invoices(**{"INV-2": {"amount": "-1"}})
    with pytest.raises(DataValidationError) as raised:
        load_dataset(data_dir(tmp_path, invoices=invoices))
    error = raised.value
    assert isinstance(error, ValueError)
    assert str(error) == error.report.render()
    assert "line 3 (invoice_id INV-2)" in str(error)
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_load_dataset_accepts_clean_data(tmp_path: Path) -> None:
    dataset = load_dataset(data_dir(tmp_path, payments=[payment("INV-1")]))
    assert len(dataset.invoices) == 3
    assert len(dataset.payments) == 1


def test_customer_names_never_appear_in_the_report(tmp_path: Path) -> None:
    secrets = ["Jeanne Secretname", "jeanne@example.org", "Société Cachée SARL"]
    invoices = good_invoices(**{"INV-2": {"amount": "-3", "due_date": "2023-01-01"}})
    for row, name in zip(invoices, [secrets[0], secrets[2], secrets[0]], strict=True):
        row["customer_name"] = name
    customers = [
        customer("C1", name=secrets[0], email=secrets[1]),
        customer("C1", name=secrets[2], email=secrets[1], credit_limit="-5"),
    ]
    root = data_dir(tmp_path, invoices=invoices, customers=customers)
    report = validate_tables(read_tables(root))
    assert failed_rules(report) == {
        ("invoices", "amount_positive"),
        ("invoices", "due_date_not_before_issue_date"),
        ("customers", "unique_id"),
        ("customers", "credit_limit_not_negative"),
    }
    text = report.render() + repr(report)
    for secret in secrets:
        assert secret not in text
        assert secret.split()[0] not in text
    assert "line 3 (invoice_id INV-2)" in text
    assert "line 3 (customer_id C1)" in text
    assert report.render().splitlines()[-1] == "4 rules failed on 2 tables"


def test_missing_invoices_file_is_a_data_file_error(tmp_path: Path) -> None:
    write_csv(tmp_path / "payments.csv", [payment("INV-1")])
    with pytest.raises(DataFileError):
        validate_dataset_dir(tmp_path)


def test_parquet_rows_are_called_rows(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(good_invoices(**{"INV-2": {"amount": "-1"}}))
    frame.to_parquet(tmp_path / "invoices.parquet", index=False)
    report = validate_dataset_dir(tmp_path)
    assert failure(report, "amount_positive").examples == [(2, "INV-2")]
    assert "row 2 (invoice_id INV-2)" in report.render()


def test_header_only_tables_pass(tmp_path: Path) -> None:
    headers = {
        "invoices": "invoice_id,customer_id,issue_date,due_date,amount,currency",
        "payments": "invoice_id,payment_date,amount",
        "reminders": "invoice_id,sent_date,channel",
        "customers": "customer_id,name",
    }
    for name, header in headers.items():
        (tmp_path / f"{name}.csv").write_text(header + "\n")
    report = validate_dataset_dir(tmp_path)
    assert report.success, report.render()
    assert set(report.checked.values()) == {0}


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,amount,currency\n"
        "I1,C1,2024-01-01,2024-01-31,10,EUR\n"
        "\n"
        "I2,C1,2024-01-01,2023-01-31,10,EUR\n"
    )
    report = validate_dataset_dir(tmp_path)
    assert failure(report, "due_date_not_before_issue_date").examples == [(4, "I2")]


def test_truncated_csv_is_refused(tmp_path: Path) -> None:
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,amount,currency\n"
        "I1,C1,2024-01-01,2024-01-31,10,EUR\n"
        "I2,C1,2024-01-0"
    )
    with pytest.raises(DataFileError, match="truncated"):
        read_tables(tmp_path)


def test_ids_and_text_are_bounded_and_free_of_control_characters(tmp_path: Path) -> None:
    """Before: a 50 MB invoice id passed validate, and `snapshot` then tried to allocate
    503 GiB; ids with a tab or a line break were accepted."""
    huge = "X" * 5_000_000
    report = validate_dataset_dir(
        data_dir(
            tmp_path,
            invoices=[
                invoice("INV-1"),
                invoice("INV\t2"),
                invoice(huge),
                invoice("INV-4", customer_id="C\u00851"),  # NEL, a C1 control character
                invoice("\u00e9" * 64),  # any script, 64 characters: fine
            ],
            customers=[customer("C1", industry="I" * 129), customer("C2", note="n" * 1001)],
        )
    )
    ids = next(f for f in report.failures if f.rule == "text_fits" and f.column == "invoice_id")
    assert [line for line, _ in ids.examples] == [3, 4]
    text = report.render()
    assert "INV\\x092" in text and "(5,000,000 characters)" in text
    assert huge[:100] not in text and "\t" not in text.replace("\n", "")
    by_column = {(f.table, f.column) for f in report.failures if f.rule == "text_fits"}
    assert by_column == {
        ("invoices", "invoice_id"),
        ("invoices", "customer_id"),
        ("customers", "industry"),
    }
    extra = failure(report, "extra_text_fits", table="customers")
    assert extra.examples == [(3, "C2")]


@pytest.mark.parametrize("second", ["amount", " amount"])
def test_a_duplicated_header_is_refused_not_renamed(tmp_path: Path, second: str) -> None:
    """Before: the second `amount` became `amount.1`, kept as an extra column."""
    (tmp_path / "invoices.csv").write_text(
        f"invoice_id,customer_id,issue_date,due_date,amount,currency,{second}\n"
        "I1,C1,2024-01-01,2024-01-31,10,EUR,20\n"
    )
    with pytest.raises(DataFileError, match=r"duplicated column header\(s\) \['amount'\]"):
        read_tables(tmp_path)


@pytest.mark.parametrize(
    ("encode", "message"),
    [
        (lambda text: text.encode("utf-16"), "UTF-16 encoded, not utf-8"),
        (lambda text: text.encode("utf-16-le"), "NUL bytes"),
        (lambda text: text.replace("\n", "\r").encode(), "CR alone"),
    ],
)
def test_utf16_and_cr_only_files_are_named_for_what_they_are(tmp_path: Path, encode, message):
    """Before: both were reported as "looks truncated"."""
    text = "invoice_id,customer_id,issue_date,due_date,amount,currency\n" + "".join(
        f"I{n},C1,2024-01-01,2024-01-31,10,EUR\n" for n in range(3000)
    )
    (tmp_path / "invoices.csv").write_bytes(encode(text)[:-3])  # cut short too
    with pytest.raises(DataFileError, match=message) as refused:
        read_tables(tmp_path)
    assert "truncated" not in str(refused.value)


def test_ids_that_look_like_formulas_survive_a_write_and_a_read(tmp_path: Path) -> None:
    from payrisk.data.loading import write_dataset

    ids = ["=1+1", "@SUM(A1:A9)", "-INV", "+33 6 12", "-12", "INV-1"]
    rows = [invoice(i, customer_id=i) for i in ids]
    (tmp_path / "in").mkdir()
    dataset = load_dataset(data_dir(tmp_path / "in", invoices=rows))
    write_dataset(dataset, tmp_path / "out")
    with open(tmp_path / "out" / "invoices.csv", encoding="utf-8") as handle:
        written = [row[0] for row in list(csv.reader(handle))[1:]]
    assert written == ["'=1+1", "'@SUM(A1:A9)", "'-INV", "'+33 6 12", "-12", "INV-1"]
    assert load_dataset(tmp_path / "out").invoices["invoice_id"].tolist() == ids
