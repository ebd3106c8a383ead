"""Importing ERP exports: French conventions in, contract tables out, nothing written on error."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

from payrisk.core.config import ConfigError, default_config
from payrisk.data.importer import (
    ExportImportError,
    Mapping,
    apply_mapping,
    import_export,
    load_mapping,
    read_export,
)
from payrisk.data.loading import read_tables
from payrisk.data.parsing import ROW_COLUMN

FIXTURES = Path(__file__).parent / "fixtures"
EXPORT_FR = FIXTURES / "export_fr.csv"
MAPPING_FR = FIXTURES / "mapping_fr.yaml"
KEY_ENV = "PAYRISK_TEST_PSEUDONYM_KEY"
HEADER_FR = (
    "N° pièce;Code client;Raison sociale;Date facture;Délai (jours);Montant TTC;Litige;"
    "Délai de règlement;Agence"
)
CUSTOMER_NAMES = ("Société Générale d'Électricité", "Boulangerie Lefèvre", "Château Müller")


def dates(*days: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(days)), dtype="datetime64[ns]")


EXPECTED_FR = pd.DataFrame(
    {
        "invoice_id": pd.Series(["FA-0001", "FA-0002", "FA-0003", "FA-0004"], dtype="str"),
        "customer_id": pd.Series(["007", "C042", "007", "C100"], dtype="str"),
        "issue_date": dates("2024-01-05", "2024-01-15", "2024-01-31", "2024-02-29"),
        "due_date": dates("2024-02-04", "2024-02-29", "2024-03-01", "2024-04-29"),
        "amount": [1234.56, 12500.0, 99.9, 1_000_000.0],
        "currency": pd.Series(["EUR"] * 4, dtype="str"),
        "paid_date": dates("2024-02-06", None, "2024-01-31", "2024-04-30"),
        "disputed": pd.Series([False, True, False, False], dtype="boolean"),
        "agency": pd.Series(["Lyon", "Paris", "Lyon", "Nantes"], dtype="str"),
    }
)
# As the loader reads it back: absent optional contract columns appear, empty, before the extras.
EXPECTED_FR_READ = EXPECTED_FR.drop(columns=["agency"]).assign(
    written_off_date=dates(None, None, None, None),
    dispute_date=dates(None, None, None, None),
    dispute_resolved_date=dates(None, None, None, None),
    agency=EXPECTED_FR["agency"],
)


def mapping_fr(**changes: object) -> dict:
    """The French fixture mapping as a dict, with top-level keys replaced."""
    content = yaml.safe_load(MAPPING_FR.read_text(encoding="utf-8"))
    content.update(changes)
    return content


def write_mapping(folder: Path, content: dict, name: str = "mapping.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    return path


def write_export_fr(folder: Path, rows: list[str], name: str = "export.csv") -> Path:
    """A French export with the fixture's title line and header: data rows start at line 3."""
    path = folder / name
    lines = ["Export factures clients;;;;;;;;", HEADER_FR, *rows, "Total;;;;;0;;;"]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its content, to prove an error wrote nothing."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


GOOD_ROW = "FA-0001;007;Dupont SARL;05/01/2024;30;1 234,56;Non;32;Lyon"


# --- French conventions -------------------------------------------------------------------------


def test_french_export_gives_the_contract_rows(tmp_path: Path) -> None:
    written = import_export(EXPORT_FR, MAPPING_FR, tmp_path / "data")

    assert written == tmp_path / "data" / "invoices.csv"
    table = read_tables(tmp_path / "data")["invoices"]
    assert table.missing_columns == ()
    pd.testing.assert_frame_equal(table.frame.drop(columns=[ROW_COLUMN]), EXPECTED_FR_READ)


def test_written_file_is_in_contract_text_format(tmp_path: Path) -> None:
    written = import_export(EXPORT_FR, MAPPING_FR, tmp_path)

    lines = written.read_text(encoding="utf-8").splitlines()
    assert lines[0] == (
        "invoice_id,customer_id,issue_date,due_date,amount,currency,paid_date,disputed,agency"
    )
    assert lines[1] == "FA-0001,007,2024-01-05,2024-02-04,1234.56,EUR,2024-02-06,false,Lyon"
    assert lines[2] == "FA-0002,C042,2024-01-15,2024-02-29,12500.0,EUR,,true,Paris"
    assert len(lines) == 5  # title, blank line and total line are not rows


def test_apply_mapping_is_the_pure_conversion() -> None:
    mapping = load_mapping(MAPPING_FR)
    table = apply_mapping(read_export(EXPORT_FR, mapping), mapping, EXPORT_FR.name)

    pd.testing.assert_frame_equal(table, EXPECTED_FR)


@pytest.mark.parametrize(
    ("thousands", "decimal", "cells", "amounts"),
    [
        (
            " ",
            ",",
            ["1\u202f234,5", "1\u00a0000", "2 000 000,01", "-3,5"],
            [1234.5, 1000, 2e6 + 0.01, -3.5],
        ),
        (".", ",", ["1.234,5", "1.000", "2.000.000,01", "0,10"], [1234.5, 1000, 2e6 + 0.01, 0.1]),
        (None, ".", ["1234.5", "1000", "2000000.01", "0.1"], [1234.5, 1000, 2e6 + 0.01, 0.1]),
    ],
)
def test_number_conventions(
    thousands: str | None, decimal: str, cells: list[str], amounts: list[float]
) -> None:
    mapping = Mapping.model_validate(
        {
            "table": "payments",
            "columns": {"invoice_id": "Facture", "payment_date": "Date", "amount": "Montant"},
            "csv": {"decimal": decimal, "thousands": thousands},
        }
    )
    export = pd.DataFrame(
        {"Facture": ["F1", "F2", "F3", "F4"], "Date": ["2024-03-01"] * 4, "Montant": cells},
        dtype="str",
    )
    table = apply_mapping(export, mapping, "payments.csv")

    assert table["amount"].tolist() == amounts


def test_payment_terms_end_of_month() -> None:
    def due_dates(end_of_month: str | None) -> list[str]:
        rule = {"from_days_after": "issue_date", "days": 45, "end_of_month": end_of_month}
        mapping = mapping_fr(derive={"due_date": rule}, keep_columns=[])
        export = pd.DataFrame(
            {
                "N° pièce": ["A", "B", "C"],
                "Code client": ["C1"] * 3,
                "Date facture": ["15/01/2024", "20/01/2024", "31/12/2024"],
                "Montant TTC": ["10"] * 3,
                "Litige": [""] * 3,
            },
            dtype="str",
        )
        table = apply_mapping(export, Mapping.model_validate(mapping), "export.csv")
        return table["due_date"].dt.strftime("%Y-%m-%d").tolist()

    assert due_dates(None) == ["2024-02-29", "2024-03-05", "2025-02-14"]
    assert due_dates("after_days") == ["2024-02-29", "2024-03-31", "2025-02-28"]
    assert due_dates("before_days") == ["2024-03-16", "2024-03-16", "2025-02-14"]


def test_reminders_channel_labels_are_mapped() -> None:
    mapping = Mapping.model_validate(
        {
            "table": "reminders",
            "columns": {
                "invoice_id": "Facture",
                "sent_date": "Date relance",
                "channel": "Type",
                "step": "Niveau",
            },
            "date_format": "%d/%m/%Y",
            "values": {
                "channel": {
                    "Courrier": "letter",
                    "Mise en demeure": "formal_notice",
                    "Relance mail": "email",
                },
                "step": {"1ère relance": 1},
            },
        }
    )
    export = pd.DataFrame(
        {
            "Facture": ["F1", "F1", "F1", "F2"],
            "Date relance": ["01/02/2024", "15/02/2024", "01/03/2024", "05/03/2024"],
            "Type": ["relance MAIL", "Courrier", "Mise en demeure", "SMS"],
            "Niveau": ["1ère relance", "2", "3", ""],
        },
        dtype="str",
    )
    table = apply_mapping(export, mapping, "relances.csv")

    assert table["channel"].tolist() == ["email", "letter", "formal_notice", "sms"]
    assert table["step"].tolist() == [1, 2, 3, pd.NA]
    assert table["sent_date"].dt.strftime("%Y-%m-%d").tolist()[0] == "2024-02-01"

    export.loc[3, "Type"] = "Pigeon voyageur"
    with pytest.raises(ExportImportError, match=r"line 5, column 'Type': 'Pigeon voyageur'"):
        apply_mapping(export.set_axis(range(2, 6)), mapping, "relances.csv")


def test_currency_column_with_symbols() -> None:
    mapping = Mapping.model_validate(
        {
            "table": "invoices",
            "columns": {
                "invoice_id": "id",
                "customer_id": "client",
                "issue_date": "date",
                "due_date": "échéance",
                "amount": "montant",
                "currency": "devise",
            },
            "default_currency": "EUR",
            "currency_map": {"€": "eur", "$": "USD"},
        }
    )
    export = pd.DataFrame(
        {
            "id": ["1", "2", "3", "4"],
            "client": ["C1"] * 4,
            "date": ["2024-01-01"] * 4,
            "échéance": ["2024-01-31"] * 4,
            "montant": ["1"] * 4,
            "devise": ["€", " $ ", "chf", ""],
        },
        dtype="str",
    )
    assert apply_mapping(export, mapping, "x.csv")["currency"].tolist() == [
        "EUR",
        "USD",
        "CHF",
        "EUR",
    ]

    export.loc[1, "devise"] = "Dollars"
    with pytest.raises(ExportImportError, match="'Dollars' is not an ISO 4217 currency code"):
        apply_mapping(export, mapping, "x.csv")


# --- Errors -------------------------------------------------------------------------------------


def test_missing_source_column_names_the_mapping_key(tmp_path: Path) -> None:
    mapping = write_mapping(
        tmp_path, mapping_fr(columns={**mapping_fr()["columns"], "amount": "Montant HT"})
    )
    with pytest.raises(ExportImportError) as caught:
        import_export(EXPORT_FR, mapping, tmp_path / "data")

    message = str(caught.value)
    assert (
        "mapping.columns.amount: source column 'Montant HT' not found in export_fr.csv" in message
    )
    assert "'Montant TTC'" in message  # the columns found, and the likely one
    assert not (tmp_path / "data").exists()


def test_unparseable_date_names_line_and_column(tmp_path: Path) -> None:
    rows = [GOOD_ROW] * 4 + ["FA-0005;C1;Dupont SARL;31/02/2024;30;10,00;Non;;Lyon"]
    export = write_export_fr(tmp_path, rows)
    out = tmp_path / "data"
    out.mkdir()
    (out / "customers.csv").write_text("customer_id\nC1\n", encoding="utf-8")
    before = snapshot(out)

    with pytest.raises(ExportImportError) as caught:
        import_export(export, write_mapping(tmp_path, mapping_fr()), out)

    assert str(caught.value) == (
        "export.csv line 7, column 'Date facture': '31/02/2024' is not a date in format %d/%m/%Y"
    )
    assert snapshot(out) == before


def test_many_bad_cells_are_counted_and_names_never_shown(tmp_path: Path) -> None:
    bad_amounts = [
        f"FA-{i};C1;{CUSTOMER_NAMES[0]};05/01/2024;30;douze;Peut-être;x;Lyon" for i in range(10)
    ]
    export = write_export_fr(tmp_path, bad_amounts)

    with pytest.raises(ExportImportError) as caught:
        import_export(export, write_mapping(tmp_path, mapping_fr()), tmp_path / "data")

    message = str(caught.value)
    assert message.startswith("export.csv: 30 cell(s) cannot be converted")
    assert "export.csv line 3, column 'Montant TTC': 'douze' is not a number" in message
    assert "7 more line(s) in column 'Montant TTC' with the same problem (10 in all)" in message
    assert "column 'Litige': 'Peut-être' is not a true/false spelling" in message
    assert "column 'Délai de règlement': 'x' is not a whole number of days" in message
    assert CUSTOMER_NAMES[0] not in message
    assert not (tmp_path / "data").exists()


def test_wrong_encoding_is_explained(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, mapping_fr(csv={**mapping_fr()["csv"], "encoding": "utf-8"}))
    with pytest.raises(ExportImportError, match=r"not valid utf-8 text; set csv.encoding"):
        import_export(EXPORT_FR, mapping, tmp_path / "data")


def test_unknown_mapping_key_is_refused_with_its_path(tmp_path: Path) -> None:
    content = mapping_fr(colums={"invoice_id": "N° pièce"})
    content["csv"]["separtor"] = ","
    with pytest.raises(ConfigError) as caught:
        load_mapping(write_mapping(tmp_path, content))

    message = str(caught.value)
    assert "colums: Extra inputs are not permitted" in message
    assert "csv.separtor: Extra inputs are not permitted" in message


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"csv": {"skip_rows": "two"}}, "csv.skip_rows"),
        ({"table": "orders"}, "table"),
        ({"date_format": "dd/mm/yyyy"}, "not a strftime date format"),
        ({"derive": {}}, "columns.due_date: table invoices requires it; map it, or derive it"),
        ({"default_currency": "EURO"}, "default_currency"),
        (
            {"columns": {**mapping_fr()["columns"], "total": "Montant"}},
            "columns.total: not a column",
        ),
        ({"keep_columns": [{"Agence": "amount"}]}, "keep_columns: 'amount' is a contract column"),
        ({"booleans": {"true": ["Oui"], "false": ["oui"]}}, "listed as both true and false"),
    ],
)
def test_wrong_mapping_values_are_refused(tmp_path: Path, changes: dict, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_mapping(write_mapping(tmp_path, mapping_fr(**changes)))


def test_yaml_booleans_in_mapping(tmp_path: Path) -> None:
    text = MAPPING_FR.read_text(encoding="utf-8")
    unquoted = tmp_path / "unquoted.yaml"
    unquoted.write_text(
        text.replace('true: [Oui, O, "1"]', "true: [Yes, Oui, 1]").replace(
            'false: [Non, N, "0", ""]', 'false: [No, Non, 0, ""]'
        ),
        encoding="utf-8",
    )
    spellings = load_mapping(unquoted).booleans
    assert {"yes", "Oui", "1"} <= set(spellings.true)
    assert {"no", "Non", "0", ""} <= set(spellings.false)

    header = tmp_path / "header.yaml"
    header.write_text(text.replace('invoice_id: "N° pièce"', "invoice_id: No"), encoding="utf-8")
    with pytest.raises(ConfigError, match="put the text in quotes"):
        load_mapping(header)


def test_example_mapping_loads() -> None:
    mapping = load_mapping(default_config("mapping.example.yaml"))

    assert mapping.table == "invoices"
    assert mapping.csv.separator == ";"


def test_undated_dispute_flags_are_dated_only_when_told(tmp_path: Path) -> None:
    """A yes/no dispute flag says nothing of when: it gets the day the mapping says it was known
    (never the issue date by default), or the issue date when the invoice is newer."""
    out = tmp_path / "data"
    import_export(EXPORT_FR, MAPPING_FR, out)
    undated = read_tables(out)["invoices"].frame
    assert undated["dispute_date"].isna().all()  # unset: the flag stays undated

    told = write_mapping(tmp_path, mapping_fr(undated_disputes_known_from="2024-01-20"))
    import_export(EXPORT_FR, told, out, overwrite=True)
    frame = read_tables(out)["invoices"].frame.set_index("invoice_id")
    assert frame.loc["FA-0002", "dispute_date"] == pd.Timestamp("2024-01-20")
    assert frame["dispute_date"].notna().sum() == 1  # only the flagged invoice

    early = write_mapping(tmp_path, mapping_fr(undated_disputes_known_from="2024-01-01"))
    import_export(EXPORT_FR, early, out, overwrite=True)
    frame = read_tables(out)["invoices"].frame.set_index("invoice_id")
    assert frame.loc["FA-0002", "dispute_date"] == pd.Timestamp("2024-01-15")  # its issue date


def test_undated_disputes_need_a_disputed_column(tmp_path: Path) -> None:
    content = mapping_fr(undated_disputes_known_from="2024-01-20")
    del content["columns"]["disputed"]
    with pytest.raises(ConfigError, match="undated_disputes_known_from"):
        load_mapping(write_mapping(tmp_path, content))


# --- Writing ------------------------------------------------------------------------------------


def test_existing_table_needs_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "data"
    out.mkdir()
    (out / "invoices.csv").write_text("old\n", encoding="utf-8")

    with pytest.raises(FileExistsError, match=r"invoices\.csv already exists"):
        import_export(EXPORT_FR, MAPPING_FR, out)
    assert (out / "invoices.csv").read_text(encoding="utf-8") == "old\n"

    import_export(EXPORT_FR, MAPPING_FR, out, overwrite=True)
    assert (out / "invoices.csv").read_text(encoding="utf-8").startswith("invoice_id,")


def test_parquet_output_replaces_the_csv_table(tmp_path: Path) -> None:
    out = tmp_path / "data"
    import_export(EXPORT_FR, MAPPING_FR, out)
    parquet = write_mapping(tmp_path, mapping_fr(format="parquet"))

    written = import_export(EXPORT_FR, parquet, out, overwrite=True)

    assert sorted(p.name for p in out.iterdir()) == ["invoices.parquet"]
    frame = read_tables(out)["invoices"].frame.drop(columns=[ROW_COLUMN])
    pd.testing.assert_frame_equal(frame, EXPECTED_FR_READ)
    assert written.suffix == ".parquet"


def test_several_exports_fill_one_data_directory(tmp_path: Path) -> None:
    out = tmp_path / "data"
    import_export(EXPORT_FR, MAPPING_FR, out)
    payments = tmp_path / "reglements.csv"
    payments.write_text("Pièce;Date;Montant\nFA-0001;06/02/2024;1 234,56\n", encoding="utf-8")
    mapping = {
        "table": "payments",
        "columns": {"invoice_id": "Pièce", "payment_date": "Date", "amount": "Montant"},
        "csv": {"separator": ";", "decimal": ",", "thousands": " "},
        "date_format": "%d/%m/%Y",
    }
    import_export(payments, write_mapping(tmp_path, mapping, "payments.yaml"), out)

    tables = read_tables(out)
    assert sorted(tables) == ["invoices", "payments"]
    assert tables["payments"].frame["amount"].tolist() == [1234.56]


# --- Data minimisation and pseudonymisation -----------------------------------------------------


def test_customer_names_are_dropped_unless_kept(tmp_path: Path) -> None:
    written = import_export(EXPORT_FR, MAPPING_FR, tmp_path / "default")
    content = written.read_text(encoding="utf-8")
    assert not any(name in content for name in CUSTOMER_NAMES)

    keep = mapping_fr(keep_columns=["Agence", {"Raison sociale": "customer_name"}])
    written = import_export(EXPORT_FR, write_mapping(tmp_path, keep), tmp_path / "kept")
    frame = pd.read_csv(written, dtype=str)
    assert frame.columns[-2:].tolist() == ["Agence", "customer_name"]
    assert frame["customer_name"].iloc[0] == CUSTOMER_NAMES[0]


def test_pseudonymised_ids_are_stable_and_keyed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapping = write_mapping(tmp_path, mapping_fr(pseudonymise_ids={"key_env": KEY_ENV}))

    def imported_customer_ids(key: str, folder: str) -> list[str]:
        monkeypatch.setenv(KEY_ENV, key)
        written = import_export(EXPORT_FR, mapping, tmp_path / folder)
        content = written.read_text(encoding="utf-8")
        assert ",007," not in content and "C042" not in content and "C100" not in content
        return read_tables(tmp_path / folder)["invoices"].frame["customer_id"].tolist()

    first = imported_customer_ids("a-long-enough-secret-key", "one")
    again = imported_customer_ids("a-long-enough-secret-key", "two")
    other = imported_customer_ids("another-secret-key-entirely", "three")

    assert first == again
    assert first[0] == first[2]  # the same customer keeps one pseudonym
    assert len(set(first)) == 3
    assert not set(first) & set(other)
    assert all(value.startswith("ps-") for value in first)

    customers = tmp_path / "clients.csv"
    customers.write_text("Code;Pays\n007;FR\nC042;BE\n", encoding="utf-8")
    customer_mapping = {
        "table": "customers",
        "columns": {"customer_id": "Code", "country": "Pays"},
        "csv": {"separator": ";"},
        "pseudonymise_ids": {"key_env": KEY_ENV},
    }
    monkeypatch.setenv(KEY_ENV, "a-long-enough-secret-key")
    import_export(customers, write_mapping(tmp_path, customer_mapping, "c.yaml"), tmp_path / "one")
    joined = read_tables(tmp_path / "one")["customers"].frame["customer_id"].tolist()
    assert joined == [first[0], first[1]]  # the tables still join on the pseudonyms


def test_pseudonymisation_without_key_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    mapping = write_mapping(tmp_path, mapping_fr(pseudonymise_ids={"key_env": KEY_ENV}))

    with pytest.raises(ConfigError, match=f"environment variable {KEY_ENV} is not set"):
        import_export(EXPORT_FR, mapping, tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_pseudonymised_id_cannot_be_kept(tmp_path: Path) -> None:
    content = mapping_fr(
        pseudonymise_ids={"key_env": KEY_ENV}, keep_columns=[{"Code client": "code"}]
    )
    with pytest.raises(ConfigError, match="holds pseudonymised ids"):
        load_mapping(write_mapping(tmp_path, content))


# --- Excel --------------------------------------------------------------------------------------


def test_xlsx_export(tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Extraction du 31/03/2024"])
    sheet.append(
        ["N° pièce", "Code client", "Raison sociale", "Date facture", "Délai (jours)",
         "Montant TTC", "Litige", "Délai de règlement", "Agence"]
    )  # fmt: skip
    sheet.append(["FA-0001", "007", "Dupont", datetime(2024, 1, 5), 30, 1234.56, False, 32, "Lyon"])
    sheet.append(["FA-0002", 42, "Martin", date(2024, 1, 15), 45, 12500, True, None, "Paris"])
    sheet.append(["FA-0003", "C9", "Durand", "31/01/2024", "30", "99,90", "Non", "0", None])
    sheet.append([])
    sheet.append(["Total", None, None, None, None, 13834.46])
    path = tmp_path / "export.xlsx"
    workbook.save(path)
    mapping = mapping_fr(excel={"skip_rows": 1, "skip_footer": 1})

    written = import_export(path, write_mapping(tmp_path, mapping), tmp_path / "data")

    frame = read_tables(written.parent)["invoices"].frame
    assert frame["invoice_id"].tolist() == ["FA-0001", "FA-0002", "FA-0003"]
    assert frame["customer_id"].tolist() == ["007", "42", "C9"]
    assert frame["issue_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-01-05",
        "2024-01-15",
        "2024-01-31",
    ]
    assert frame["amount"].tolist() == [1234.56, 12500.0, 99.9]
    assert frame["disputed"].tolist() == [False, True, False]
    assert frame["paid_date"].isna().tolist() == [False, True, False]
    assert "Raison sociale" not in frame.columns


@pytest.mark.parametrize("reader", ["import", "load"])
def test_a_header_of_thousands_of_columns_is_refused_at_once(tmp_path: Path, reader) -> None:
    """Before (issue 26): the duplicate-header checks compared every column with every other
    (40,000 columns: 42 s to import); now the column limit is checked first, named in the error.
    (How fast is a benchmark's concern, not a timed test's: the box is shared.)"""
    from payrisk.data.importer import ExportImportError, load_mapping, read_export
    from payrisk.data.loading import DataFileError

    columns = 20_000
    if reader == "import":
        path = tmp_path / "export.csv"
        path.write_text(
            ";".join(f"c{k}" for k in range(columns)) + "\n" + ";" * (columns - 1) + "\n"
        )
        with pytest.raises(ExportImportError, match="20,000 columns, more than the 2,000"):
            read_export(path, load_mapping(MAPPING_FR))
    else:
        path = tmp_path / "invoices.csv"
        path.write_text(
            ",".join(f"c{k}" for k in range(columns)) + "\n" + "," * (columns - 1) + "\n"
        )
        with pytest.raises(DataFileError, match="20,000 columns, more than the 2,000"):
            read_tables(tmp_path)


def test_many_duplicated_headers_are_listed_briefly(tmp_path: Path) -> None:
    from payrisk.data.importer import ExportImportError, load_mapping, read_export

    path = tmp_path / "export.csv"
    header = ";".join(f"c{k % 900}" for k in range(1800))
    row = "1" + ";" * 1799
    path.write_text("\n".join(["export", header, row, row, "total"]) + "\n")  # skip_rows=1
    with pytest.raises(ExportImportError, match=r"and 890 more") as refused:
        read_export(path, load_mapping(MAPPING_FR))
    assert len(str(refused.value)) < 400
