"""The command line as a user meets it: exit codes and messages, no tracebacks."""

from __future__ import annotations

from pathlib import Path

import pytest
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


def test_keygen_makes_an_existing_world_readable_key_file_private(tmp_path):
    """Before (issue 26): `--out` appended to an existing 0644 key file and left it 0644."""
    key_file = tmp_path / "api_keys"
    key_file.write_text("# keys\n")
    key_file.chmod(0o644)
    written = run("keygen", "--out", key_file)
    assert written.exit_code == 0, written.output
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.read_text().splitlines()[1] == written.output.strip()


def test_keygen_refuses_a_link_as_its_key_file(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("")
    (tmp_path / "api_keys").symlink_to(target)
    refused = run("keygen", "--out", tmp_path / "api_keys")
    assert refused.exit_code == 2 and "error: --out" in refused.output
    assert target.read_text() == ""


def test_a_negative_seed_is_a_usage_error_not_a_traceback(tmp_path):
    """Before (issue 26): `payrisk generate --seed -1` ended in numpy's traceback."""
    result = run("generate", "--out", tmp_path / "s", "--customers", "5", "--seed", "-1")
    assert result.exit_code == 2 and "--seed" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "s").exists()


def test_a_full_disk_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    """Before (issue 26): `payrisk snapshot` on a full disk (ENOSPC) printed a raw traceback
    (the old pair stayed intact: tests/service/test_snapshot.py)."""
    import errno

    import pipelines.scoring

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.npz.tmp"))

    monkeypatch.setattr(pipelines.scoring, "write_snapshot", full)
    result = run("snapshot", "--data", tmp_path)
    assert result.exit_code == 1, result.output
    assert "No space left on device" in result.output and "nothing was replaced" in result.output
    assert isinstance(result.exception, SystemExit)


def test_each_service_keeps_its_metrics_in_a_folder_of_its_own(tmp_path, monkeypatch):
    """Before (issue 26): every BentoML service of a user shared ~/bentoml's Prometheus folder
    and wiped it at start, so /metrics showed another service's counters."""
    from payrisk.cli import private_bentoml_home

    monkeypatch.chdir(tmp_path)
    first = private_bentoml_home({"PATH": "/bin"}, 3000)["BENTOML_HOME"]
    second = private_bentoml_home({"PATH": "/bin"}, 3001)["BENTOML_HOME"]
    assert first != second and Path(first).is_relative_to(tmp_path / ".payrisk")
    assert private_bentoml_home({"BENTOML_HOME": "/srv/b"}, 3000)["BENTOML_HOME"] == "/srv/b"


def test_the_services_time_zone_is_checked_at_start_and_gives_todays_date():
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from payrisk.core.config import ConfigError
    from payrisk.core.settings import load_settings

    with pytest.raises(ConfigError, match=r"PAYRISK_TIMEZONE.*not a known time zone"):
        load_settings({"PAYRISK_TIMEZONE": "Europe/Pariss"})
    # Kiritimati is 14 hours ahead of UTC, Niue 11 hours behind: never the same day.
    days = {}
    for zone in ("Pacific/Kiritimati", "Pacific/Niue"):
        before = datetime.now(ZoneInfo(zone)).date()
        days[zone] = load_settings({"PAYRISK_TIMEZONE": zone}).today()
        assert before <= days[zone] <= before + timedelta(days=1)
    assert days["Pacific/Kiritimati"] > days["Pacific/Niue"]
    assert load_settings({}).timezone == "Europe/Paris"
