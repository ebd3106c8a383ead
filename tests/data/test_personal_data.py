"""Personal data: debtors' names, e-mails and addresses go in, and never come out in logs, error
messages, MLflow (runs, registry, artifacts), the models folder, the snapshot, reports or the
service's answers. Ids can be pseudonymised on import with a keyed hash."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from payrisk.cli import app
from payrisk.data.generator import generate_history
from payrisk.data.loading import write_dataset
from tests.conftest import VALID_INVOICE, fast_train_config

pytestmark = pytest.mark.slow  # starts processes, clusters or browsers: make test-fast skips it

MARKERS = ("Zebulon Quixotte-Piimark", "zq.piimark@debtor.example", "17 Rue Piimark")
BAD_AMOUNT_LINE = 5


def leaks(text: str) -> list[str]:
    return [marker for marker in MARKERS if marker.lower() in text.lower()]


def file_text(path: Path) -> str:
    """What a reader of the file could see, decompressed where the format compresses."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path).astype(str).to_csv()
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as arrays:
            return "\n".join(
                "\n".join(map(str, arrays[name].ravel()))
                for name in arrays.files
                if arrays[name].dtype.kind in "USO"
            ) + "\n".join(arrays.files)
    return path.read_bytes().decode("utf-8", "replace")


def personal_data_dir(target: Path) -> Path:
    """A small generated ledger with names, e-mails and addresses on every customer."""
    dataset = generate_history(150, 3.0, seed=5)
    write_dataset(dataset, target)
    customers = pd.read_csv(target / "customers.csv", dtype=str, keep_default_na=False)
    customers["name"] = [f"{MARKERS[0]} {i}" for i in range(len(customers))]
    customers["email"] = [MARKERS[1].replace("@", f"{i}@") for i in range(len(customers))]
    customers["street"] = [f"{MARKERS[2]} {i}" for i in range(len(customers))]
    customers.to_csv(target / "customers.csv", index=False)
    invoices = pd.read_csv(target / "invoices.csv", dtype=str, keep_default_na=False)
    invoices["contact_email"] = MARKERS[1]
    invoices.to_csv(target / "invoices.csv", index=False)
    return target


@pytest.fixture(scope="module")
def pii_run(tmp_path_factory: pytest.TempPathFactory):
    """validate, train, score, snapshot and report on data full of personal details; every
    output in one folder, every log line and message captured."""
    root = tmp_path_factory.mktemp("pii")
    data = personal_data_dir(root / "data")
    work = root / "work"
    work.mkdir()
    config = yaml.safe_load(fast_train_config())
    config["models"]["lightgbm"]["n_estimators"] = 20
    (root / "train.yaml").write_text(yaml.safe_dump(config))
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Collect(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root_logger = logging.getLogger()
    previous = root_logger.level
    root_logger.addHandler(handler)
    root_logger.setLevel(logging.DEBUG)
    outputs: dict[str, str] = {}
    runner = CliRunner()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(work)  # MLflow's default artifact folder lands in work/ too
            patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{work / 'mlflow.db'}")
            patch.setenv("PAYRISK_MODELS_DIR", str(work / "models"))
            steps = {
                "validate": ["validate", data],
                "train": ["train", "--data", data, "--config", root / "train.yaml",
                          "--report-json", work / "reports" / "train.json"],
                "score": ["score", "--data", data, "--out", work / "reports" / "scores.csv"],
                "snapshot": ["snapshot", "--data", data, "--out",
                             work / "models" / "snapshot" / "customer_history.npz"],
                "report": ["report", "--data", data, "--out", work / "reports" / "report.html"],
            }  # fmt: skip
            for name, args in steps.items():
                result = runner.invoke(app, [str(a) for a in args])
                assert result.exit_code == 0, (name, result.output)
                outputs[name] = result.output
            bad = root / "bad"
            bad.mkdir()
            for table in data.iterdir():
                (bad / table.name).write_bytes(table.read_bytes())
            invoices = pd.read_csv(bad / "invoices.csv", dtype=str, keep_default_na=False)
            invoices.loc[BAD_AMOUNT_LINE - 2, "amount"] = f"-{MARKERS[1]}"
            invoices.loc[BAD_AMOUNT_LINE - 1, "customer_id"] = ""
            invoices.to_csv(bad / "invoices.csv", index=False)
            for name in ("validate", "score"):
                args = ["validate", bad] if name == "validate" else [
                    "score", "--data", bad, "--out", work / "refused.csv"]  # fmt: skip
                result = runner.invoke(app, [str(a) for a in args])
                assert result.exit_code == 1, result.output
                assert f"line {BAD_AMOUNT_LINE}" in result.output
                outputs[f"{name} refused"] = result.output
    finally:
        root_logger.removeHandler(handler)
        root_logger.setLevel(previous)
    return work, outputs, records


def test_no_personal_data_in_messages_or_logs(pii_run):
    _, outputs, records = pii_run
    for name, output in outputs.items():
        assert not leaks(output), (name, leaks(output))
    assert records, "nothing was logged: the scan would prove nothing"
    assert not leaks("\n".join(records))


def test_no_personal_data_in_any_file_payrisk_or_mlflow_wrote(pii_run):
    work, _, _ = pii_run
    files = [path for path in work.rglob("*") if path.is_file()]
    written = {path.suffix for path in files}
    assert {".db", ".json", ".csv", ".npz", ".parquet", ".html", ".pkl"} <= written, written
    assert any("mlartifacts" in path.parts or "mlruns" in path.parts for path in files)
    found = {str(path.relative_to(work)): leaks(file_text(path)) for path in files}
    assert not {name: hit for name, hit in found.items() if hit}


def test_the_service_never_echoes_personal_data(client, caplog):
    with caplog.at_level(logging.DEBUG):
        answers = [
            client.post("/v1/score", json={"invoices": [{**VALID_INVOICE, "name": MARKERS[0]}]}),
            client.post("/v1/score", json={"invoices": [{**VALID_INVOICE, "amount": MARKERS[1]}]}),
            client.post("/v1/customer", json={"customer_id": MARKERS[2] + "\x07"}),
            client.post("/v1/credit-review", json={"customer_id": "C1", "note": MARKERS[0]}),
            client.post("/v1/score", content=f'{{"invoices": [{{"x": "{MARKERS[1]}'.encode()),
        ]
    assert [answer.status_code for answer in answers] == [400] * len(answers)
    for answer in answers:
        assert not leaks(answer.text), answer.text
    assert not leaks(caplog.text)


def test_customer_ids_can_be_pseudonymised_on_import(tmp_path, monkeypatch):
    from payrisk.data.loading import read_tables

    export = tmp_path / "export.csv"
    export.write_text(
        "invoice,client,name,issued,due,amount\n"
        f"I1,C-17,{MARKERS[0]},2024-01-05,2024-02-04,120.00\n"
        f"I2,C-17,{MARKERS[0]},2024-02-05,2024-03-06,80.00\n"
        "I3,C-99,Someone Else,2024-02-07,2024-03-08,50.00\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        yaml.safe_dump(
            {
                "table": "invoices",
                "columns": {
                    "invoice_id": "invoice",
                    "customer_id": "client",
                    "issue_date": "issued",
                    "due_date": "due",
                    "amount": "amount",
                },
                "default_currency": "EUR",
                "pseudonymise_ids": {"key_env": "PII_TEST_KEY", "columns": ["customer_id"]},
            }
        )
    )
    runner = CliRunner()
    monkeypatch.setenv("PII_TEST_KEY", "a-secret-key-of-enough-length")
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    for out in (out_a, out_b):
        result = runner.invoke(
            app, ["import", str(export), "--mapping", str(mapping), "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
    imported = read_tables(out_a)["invoices"].frame
    ids = imported["customer_id"].tolist()
    assert "C-17" not in ids and "C-99" not in ids
    assert ids[0] == ids[1] != ids[2]  # same customer, same pseudonym
    assert (out_a / "invoices.csv").read_bytes() == (out_b / "invoices.csv").read_bytes()
    assert not any(leaks(path.read_text()) for path in out_a.iterdir())
    monkeypatch.setenv("PII_TEST_KEY", "another-secret-key-of-enough-length")
    other = tmp_path / "c"
    assert (
        runner.invoke(
            app, ["import", str(export), "--mapping", str(mapping), "--out", str(other)]
        ).exit_code
        == 0
    )
    assert read_tables(other)["invoices"].frame["customer_id"].iloc[0] != ids[0]  # keyed
