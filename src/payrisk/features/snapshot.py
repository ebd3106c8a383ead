"""The customer-history snapshot on disk: what the online service scores with.

A compact `History` saved as one NumPy `.npz` file (no pickle: loading it runs no code), written
atomically. `payrisk snapshot` writes it; the service reloads it when the file changes, and keeps
the last good one if a new file is corrupt.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from payrisk.core.days import NEVER, to_days
from payrisk.core.storage import write_with
from payrisk.features.declared import DeclaredValues
from payrisk.features.history import History
from payrisk.features.streams import Stream

FORMAT_VERSION = 2  # 2: dispute streams and declared features
ATTRIBUTE_TEXT = ("customer_id", "country", "industry")
ATTRIBUTE_NUMBERS = ("credit_limit", "key_account")


class SnapshotError(ValueError):
    """A snapshot file is missing, unreadable or of another format."""


def save_history(history: History, path: str | Path, metadata: dict | None = None) -> None:
    arrays: dict[str, np.ndarray] = {
        "customer_ids": history.customer_ids.to_numpy(dtype="str"),
        "invoice_ids": history.invoice_ids.to_numpy(dtype="str"),
    }
    customers = history.customers
    for name in ATTRIBUTE_TEXT:
        arrays[f"customers__{name}"] = (
            customers[name].astype("str").fillna("").to_numpy(dtype="str")
        )
    for name in ATTRIBUTE_NUMBERS:
        arrays[f"customers__{name}"] = customers[name].astype("float64").to_numpy()
    arrays["customers__created_date"] = to_days(customers["created_date"])
    declared = {}
    for name, values in history.declared.items():
        dtype = "str" if values.categorical else "float64"
        arrays[f"declared__{name}__values"] = values.values.astype(dtype)
        arrays[f"declared__{name}__known_day"] = values.known_day
        declared[name] = {"table": values.table, "kind": values.kind}
    for stream_name, stream in history.streams.items():
        arrays[f"stream__{stream_name}__keys"] = stream.keys
        for column, values in stream.state.items():
            arrays[f"stream__{stream_name}__state__{column}"] = values
    header = {
        "format_version": FORMAT_VERSION,
        "as_of": history.as_of.date().isoformat(),
        "metadata": metadata or {},
        "declared": declared,
    }
    arrays["header"] = np.asarray(json.dumps(header))

    def writer(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    write_with(path, writer)


def load_history(path: str | Path) -> tuple[History, dict]:
    """Read a snapshot; raise SnapshotError if it cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise SnapshotError(f"{path.name}: snapshot file not found")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        header = json.loads(str(arrays.pop("header")))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:
        raise SnapshotError(
            f"{path.name}: not a readable snapshot ({type(error).__name__})"
        ) from None
    if header.get("format_version") != FORMAT_VERSION:
        raise SnapshotError(
            f"{path.name}: snapshot format {header.get('format_version')} unsupported"
        )
    try:
        customers = pd.DataFrame(
            {name: arrays[f"customers__{name}"] for name in ATTRIBUTE_TEXT + ATTRIBUTE_NUMBERS}
        )
        for name in ("country", "industry"):
            customers[name] = customers[name].replace("", np.nan)
        created = arrays["customers__created_date"]
        customers["created_date"] = pd.to_datetime(
            np.where(created == NEVER, np.iinfo(np.int64).min, created).astype("datetime64[D]")
        ).astype("datetime64[ns]")
        streams: dict[str, Stream] = {}
        for name in [k for k in arrays if k.startswith("stream__") and k.endswith("__keys")]:
            stream_name = name.removeprefix("stream__").removesuffix("__keys")
            prefix = f"stream__{stream_name}__state__"
            state = {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}
            streams[stream_name] = Stream(arrays[name], state)
        declared = {
            name: DeclaredValues(
                kind["table"],
                kind["kind"],
                arrays[f"declared__{name}__values"].astype(
                    object if kind["kind"] == "categorical" else "float64"
                ),
                arrays[f"declared__{name}__known_day"],
            )
            for name, kind in header.get("declared", {}).items()
        }
        history = History(
            as_of=pd.Timestamp(header["as_of"]),
            customer_ids=pd.Index(arrays["customer_ids"], dtype="str"),
            invoice_ids=pd.Index(arrays["invoice_ids"], dtype="str"),
            customers=customers,
            streams=streams,
            declared=declared,
        )
    except KeyError as error:
        raise SnapshotError(f"{path.name}: snapshot lacks {error.args[0]}") from None
    return history, header
