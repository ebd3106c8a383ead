"""The command line as a user meets it: exit codes and messages, no tracebacks."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from payrisk.cli import app

runner = CliRunner()
FIXTURES = Path(__file__).parents[1] / "data" / "fixtures"


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_generate_then_validate_then_summarise(tmp_path):
    data = tmp_path / "sample"
    assert (
        run("generate", "--out", data, "--customers", "30", "--years", "1", "--seed", "3").exit_code
        == 0
    )
    assert {p.name for p in data.iterdir()} >= {"invoices.csv", "customers.csv"}
    validated = run("validate", data)
    assert validated.exit_code == 0, validated.output
    assert "rules passed" in validated.output
    summary = run("summary", data, "--as-of", "2026-06-01")
    assert summary.exit_code == 0
    assert "Aged balance" in summary.output and "2026-06-01" in summary.output


def test_bad_data_exits_1_naming_the_rule_and_line(tmp_path):
    (tmp_path / "invoices.csv").write_text(
        "invoice_id,customer_id,issue_date,due_date,amount,currency,name\n"
        "I1,C1,2024-01-01,2024-01-31,-5,EUR,Jean Dupont\n"
    )
    result = run("validate", tmp_path)
    assert result.exit_code == 1
    assert "amount_positive" in result.output and "line 2" in result.output
    assert "Dupont" not in result.output
    assert "Traceback" not in result.output


def test_missing_directory_and_bad_dates_are_usage_errors(tmp_path):
    missing = run("validate", tmp_path / "nope")
    assert missing.exit_code == 1 and "does not exist" in missing.output
    bad_date = run("summary", tmp_path, "--as-of", "01/02/2026")
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.output


def test_import_a_french_export(tmp_path):
    mapping = FIXTURES / "mapping_fr.yaml"
    export = FIXTURES / "export_fr.csv"
    result = run("import", export, "--mapping", mapping, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "invoices.csv").is_file()
    again = run("import", export, "--mapping", mapping, "--out", tmp_path)
    assert again.exit_code == 2  # the table exists: refused without --overwrite


def test_training_on_too_short_a_history_says_why(tmp_path):
    data = tmp_path / "short"
    run("generate", "--out", data, "--customers", "20", "--years", "0.5", "--seed", "1")
    result = run("train", "--data", data)
    assert result.exit_code == 1
    assert "not enough history" in result.output


def test_train_and_score_refuse_bad_data_and_write_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("PAYRISK_MODELS_DIR", raising=False)
    data = tmp_path / "data"
    run("generate", "--out", data, "--customers", "20", "--years", "1", "--seed", "2")
    invoices = (data / "invoices.csv").read_text().splitlines()
    invoices[3] = invoices[3].replace(",EUR,", ",EURO,")
    (data / "invoices.csv").write_text("\n".join(invoices) + "\n")
    before = {p.relative_to(tmp_path) for p in tmp_path.rglob("*")}

    trained = run("train", "--data", data, "--report-json", tmp_path / "report.json")
    assert trained.exit_code == 1 and "currency_known" in trained.output
    scored = run("score", "--data", data, "--out", tmp_path / "scores.csv")
    assert scored.exit_code == 1 and "line 4" in scored.output
    assert {p.relative_to(tmp_path) for p in tmp_path.rglob("*")} == before


def test_keygen_prints_a_fresh_key_and_can_append_it_to_a_key_file(tmp_path):
    from payrisk.core.settings import load_settings
    from payrisk.serving.auth import configured_keys

    first, second = run("keygen"), run("keygen")
    assert first.exit_code == 0 and second.exit_code == 0
    key = first.output.strip()
    assert len(key) >= 40 and key != second.output.strip()
    key_file = tmp_path / ".payrisk" / "api_keys"
    written = run("keygen", "--out", key_file)
    assert written.exit_code == 0
    assert key_file.stat().st_mode & 0o077 == 0  # only the owner reads it
    stored = written.output.strip()
    assert key_file.read_text().split() == [stored]
    keys = configured_keys(load_settings({"PAYRISK_API_KEYS_FILE": str(key_file)}))
    assert keys.match(stored) is not None and keys.match(key) is None


def test_serve_refuses_to_start_without_an_api_key(monkeypatch):
    for name in ("PAYRISK_API_KEYS", "PAYRISK_API_KEYS_FILE", "PAYRISK_AUTH"):
        monkeypatch.delenv(name, raising=False)
    result = run("serve", "--port", "1")
    assert result.exit_code == 2
    assert "no API key configured" in result.output and "payrisk keygen" in result.output
