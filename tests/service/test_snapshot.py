"""The snapshot: saved and loaded exactly, refreshed without restart, bad files refused."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from payrisk.core.config import FeatureSettings, SnapshotSettings, TargetSettings
from payrisk.features.definitions import invoice_features
from payrisk.features.history import build_history
from payrisk.features.snapshot import SnapshotError, load_history, save_history
from payrisk.models.labels import snapshot_queries
from payrisk.serving.engine import SnapshotHolder


@pytest.fixture(scope="module")
def histories(sample_dataset):
    end = sample_dataset.invoices["issue_date"].max()
    build = lambda when: build_history(  # noqa: E731
        sample_dataset, when, TargetSettings(), FeatureSettings()
    ).compact()
    return build(end - pd.Timedelta(days=30)), build(end)


def test_a_saved_snapshot_gives_the_same_features(sample_dataset, histories, tmp_path):
    history = histories[1]
    save_history(history, tmp_path / "s.npz")
    loaded, header = load_history(tmp_path / "s.npz")
    assert header["as_of"] == history.as_of.date().isoformat()
    queries = snapshot_queries(
        sample_dataset.invoices, history.as_of + pd.Timedelta(days=60), SnapshotSettings()
    )
    queries = queries.loc[queries["snapshot_date"] >= history.as_of]
    assert len(queries) > 100
    pd.testing.assert_frame_equal(
        invoice_features(history, queries), invoice_features(loaded, queries)
    )


def test_a_new_snapshot_is_picked_up_and_a_bad_one_is_refused(histories, tmp_path):
    older, newer = histories
    path = tmp_path / "snapshot.npz"
    save_history(older, path)
    holder = SnapshotHolder(path)
    assert holder.as_of == older.as_of.date() and holder.problem is None

    save_history(newer, path)
    os.utime(path, (1e9, 2e9))  # a new modification time, whatever the clock resolution
    holder.refresh()
    assert holder.as_of == newer.as_of.date()

    path.write_bytes(b"this is not a snapshot")
    holder.refresh()
    assert holder.as_of == newer.as_of.date()  # the last good one stays
    assert "not a readable snapshot" in holder.problem

    with pytest.raises(SnapshotError):
        load_history(tmp_path / "missing.npz")


def test_snapshot_step_writes_the_portfolio_bundle(snapshot_file, trained):
    import json

    bundle = snapshot_file.with_name("portfolio")
    names = {p.name for p in bundle.iterdir()}
    assert names == {
        "invoices.parquet",
        "customers.parquet",
        "payments.parquet",
        "cash_forecast.parquet",
        "reminders.parquet",
        "kpis.json",
    }
    kpis = json.loads((bundle / "kpis.json").read_text())
    invoices = pd.read_parquet(bundle / "invoices.parquet")
    assert kpis["open_invoices"] == len(invoices)
    assert kpis["model_version"] == trained.report["registry"]["version"]
    assert kpis["predicted_dso_days"] > 0
    assert [row["bucket"] for row in kpis["aged_balance"]] == [
        "not_due",
        "1-30",
        "31-60",
        "61-90",
        "over_90",
    ]
    assert invoices["reason_1"].str.len().gt(0).any()
    # The open invoices are the ledger's: unpaid, not written off, less their payments.
    ledger = pd.read_csv(trained.data_dir / "invoices.csv")
    paid = pd.read_csv(trained.data_dir / "payments.csv").groupby("invoice_id")["amount"].sum()
    still_open = ledger.loc[ledger["paid_date"].isna() & ledger["written_off_date"].isna()]
    left = still_open["amount"] - still_open["invoice_id"].map(paid).fillna(0.0)
    assert set(invoices["invoice_id"]) == set(still_open["invoice_id"])
    assert kpis["open_amount"] == pytest.approx(left.sum(), abs=0.01)
    # The aged balance, bucketed again by days past due at the snapshot's day.
    days = (pd.Timestamp(kpis["as_of"]) - invoices["due_date"]).dt.days
    buckets = pd.cut(days, [-(10**6), 0, 30, 60, 90, 10**6], labels=False)
    for k, row in enumerate(kpis["aged_balance"]):
        mine = invoices.loc[buckets == k, "open_amount"]
        assert row["invoices"] == len(mine), row
        assert row["open_amount"] == pytest.approx(mine.sum(), abs=0.01), row
        assert row["share"] == pytest.approx(mine.sum() / left.sum())
    assert kpis["overdue_amount"] == pytest.approx(invoices.loc[days > 0, "open_amount"].sum())
    at_risk = invoices["open_amount"] * invoices["default_probability"]
    assert kpis["amount_at_risk"] == pytest.approx(at_risk.sum(), abs=0.01)
    assert kpis["expected_loss"] == pytest.approx(
        (at_risk * (1 - kpis["recovery_rate"])).sum(), abs=0.005 * len(invoices)
    )  # each invoice's expected loss is rounded to the cent


def rewrite(path, change) -> None:
    """Load a snapshot's arrays, let `change` edit them (name -> array), save them back."""
    import numpy as np

    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    change(arrays)
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def set_header(**fields):
    import json

    import numpy as np

    def change(arrays) -> None:
        header = json.loads(str(arrays["header"]))
        header.update(fields)
        arrays["header"] = np.asarray(json.dumps(header))

    return change


def first_state(arrays) -> str:
    return next(name for name in sorted(arrays) if "__state__" in name)


def first_keys(arrays) -> str:
    return next(name for name in sorted(arrays) if name.endswith("__keys"))


def _header_list(arrays) -> None:
    import numpy as np

    arrays["header"] = np.asarray('["format_version", 1]')


MALFORMED = {
    "as_of not a date": (set_header(as_of="not-a-date"), "as_of is not a date"),
    "as_of a date-time": (set_header(as_of="2026-10-01T00:00:00"), "as_of is not a date"),
    "as_of a number": (set_header(as_of=20261001), "as_of is not a date"),
    "header a list": (_header_list, "header is not a JSON object"),
    "metadata a string": (set_header(metadata="x"), "metadata is not a JSON object"),
    "state array shortened": (
        lambda a: a.update({first_state(a): a[first_state(a)][:-1]}),
        "is not as long as its keys",
    ),
    "state array of text": (
        lambda a: a.update({first_state(a): a[first_state(a)].astype("str")}),
        "wrong type or shape",
    ),
    "keys out of order": (
        lambda a: a.update({first_keys(a): a[first_keys(a)][::-1].copy()}),
        "is not sorted",
    ),
    "keys two-dimensional": (
        lambda a: a.update({first_keys(a): a[first_keys(a)].reshape(1, -1)}),
        "wrong type or shape",
    ),
    "customer attributes of two lengths": (
        lambda a: a.update({"customers__country": a["customers__country"][:-1]}),
        "differ in length",
    ),
    "repeated customer ids": (
        lambda a: a.update(
            {"customer_ids": a["customer_ids"][[0, 0, *range(2, len(a["customer_ids"]))]]}
        ),
        "customer_ids are not unique",
    ),
    "declared feature without its arrays": (
        set_header(declared={"sector": {"table": "customers", "kind": "categorical"}}),
        "snapshot lacks declared__sector__values",
    ),
    "declared feature of no known table": (
        set_header(declared={"sector": {"table": "elsewhere", "kind": "numeric"}}),
        "declares feature 'sector' without table and kind",
    ),
    "unexpected array": (lambda a: a.update({"surprise": a["customer_ids"]}), "unexpected"),
    # Issue 26: every field of the metadata against its schema, named, never its value.
    "recovery_rate a text": (
        set_header(metadata={"recovery_rate": "0.5"}),
        "metadata.recovery_rate: Input should be a valid number",
    ),
    "recovery_rate a list": (
        set_header(metadata={"recovery_rate": [0.5]}),
        "metadata.recovery_rate: Input should be a valid number",
    ),
    "recovery_rate of 1 or more": (
        set_header(metadata={"recovery_rate": 1.0}),
        "metadata.recovery_rate: Input should be less than 1",
    ),
    "model_version a number": (set_header(metadata={"model_version": 3}), "metadata.model_version"),
    "snapshot_id not hex": (set_header(metadata={"snapshot_id": "../x"}), "metadata.snapshot_id"),
    "unknown metadata field": (set_header(metadata={"surprise": 1}), "metadata.surprise"),
    "unknown header field": (set_header(surprise=1), "unexpected field 'surprise'"),
    "no streams": (
        lambda a: [a.pop(k) for k in [k for k in a if k.startswith("stream__")]],
        "no event streams",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_snapshot_that_reads_but_is_malformed_is_refused_and_the_last_good_one_kept(
    histories, tmp_path, case
):
    change, problem = MALFORMED[case]
    older, newer = histories
    path = tmp_path / "snapshot.npz"
    save_history(older, path)
    holder = SnapshotHolder(path)

    save_history(newer, path)
    rewrite(path, change)
    os.utime(path, (1e9, 2e9))
    with pytest.raises(SnapshotError, match=problem):
        load_history(path)
    holder.refresh()
    assert holder.as_of == older.as_of.date()  # the last good one stays
    assert problem in holder.problem and "still serving" in holder.problem


def test_a_snapshot_without_what_the_model_needs_is_refused_before_it_serves(
    histories, tmp_path, trained
):
    from payrisk.serving.engine import usable_with
    from tests.conftest import project_catalog

    catalog = project_catalog(trained)
    check = usable_with(catalog.load_scorer().scorer, catalog.dunning_config)
    older, newer = histories
    check(older)  # a complete snapshot passes the trial run
    path = tmp_path / "snapshot.npz"
    save_history(older, path)
    holder = SnapshotHolder(path, check=check)
    assert holder.problem is None

    save_history(newer, path)  # well formed, but a stream the features read is gone
    rewrite(path, lambda a: [a.pop(k) for k in [k for k in a if k.startswith("stream__open__")]])
    os.utime(path, (1e9, 2e9))
    load_history(path)  # reads: the format alone cannot tell
    holder.refresh()
    assert holder.as_of == older.as_of.date()
    assert "does not fit the model" in holder.problem


def test_snapshot_and_bundle_are_replaced_together_or_not_at_all(
    trained, snapshot_file, tmp_path, monkeypatch
):
    """Before: `payrisk snapshot` wrote the new bundle, then failed writing the snapshot (a 50 MB
    id made it allocate 503 GiB), leaving a bundle that no longer matched its snapshot."""
    import json
    import shutil

    import pipelines.catalog
    from pipelines.scoring import write_snapshot
    from tests.conftest import project_catalog

    path = tmp_path / "customer_history.npz"
    shutil.copy2(snapshot_file, path)
    shutil.copytree(snapshot_file.with_name("portfolio"), tmp_path / "portfolio")
    before = {p.name: p.read_bytes() for p in [path, *(tmp_path / "portfolio").iterdir()]}

    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(pipelines.catalog, "write_history", no_memory)
    with pytest.raises(MemoryError):
        write_snapshot(project_catalog(trained), trained.data_dir, path)
    after = {p.name: p.read_bytes() for p in [path, *(tmp_path / "portfolio").iterdir()]}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["customer_history.npz", "portfolio"]

    monkeypatch.undo()
    write_snapshot(project_catalog(trained), trained.data_dir, path)
    _, header = load_history(path)
    kpis = json.loads((tmp_path / "portfolio" / "kpis.json").read_text())
    assert header["metadata"]["snapshot_id"] == kpis["snapshot_id"]  # one pair
