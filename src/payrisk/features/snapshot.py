"""The customer-history snapshot on disk: what the online service scores with.

A compact `History` saved as one NumPy `.npz` file (no pickle: loading it runs no code), written
atomically. `payrisk snapshot` writes it; the service reloads it when the file changes, and keeps
the last good one if a new file is corrupt. A file is checked in full before it is used: the header
(a JSON object with the format version and an ISO as-of date), every array's type and shape, ids
unique, customer attributes of one length, each stream's keys sorted and every state column as
long as its keys, and every field of the header's `metadata` against its schema
(`SnapshotMetadata`: the model that built it, the recovery rate, the pair's id). A file that reads
but breaks any of these is refused like a corrupt one.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from payrisk.core.days import NEVER, to_days
from payrisk.core.storage import write_with
from payrisk.features.declared import DeclaredValues
from payrisk.features.history import History
from payrisk.features.streams import Stream

FORMAT_VERSION = 2  # 2: dispute streams and declared features
ATTRIBUTE_TEXT = ("customer_id", "country", "industry")
ATTRIBUTE_NUMBERS = ("credit_limit", "key_account")
EARLIEST_AS_OF = date(1990, 1, 1)
LATEST_AS_OF = date(2100, 12, 31)
STREAM_PREFIX = "stream__"
KEYS_SUFFIX = "__keys"
STATE_MARK = "__state__"
HEADER_KEYS = frozenset({"format_version", "as_of", "metadata", "declared"})


def _keys_name(stream: str) -> str:
    return f"{STREAM_PREFIX}{stream}{KEYS_SUFFIX}"


def _state_prefix(stream: str) -> str:
    return f"{STREAM_PREFIX}{stream}{STATE_MARK}"


def _stream_names(arrays: dict[str, np.ndarray]) -> list[str]:
    """The streams a file holds: one keys array each."""
    return [
        k.removeprefix(STREAM_PREFIX).removesuffix(KEYS_SUFFIX)
        for k in arrays
        if k.startswith(STREAM_PREFIX) and k.endswith(KEYS_SUFFIX)
    ]


def _declared_names(feature: str) -> tuple[str, str]:
    """The arrays of a declared feature: its values and their known_day."""
    return f"declared__{feature}__values", f"declared__{feature}__known_day"


class SnapshotError(ValueError):
    """A snapshot file is missing, unreadable or of another format."""


class SnapshotMetadata(BaseModel):
    """What `payrisk snapshot` records in the header beside the history: every field typed
    strictly (a recovery rate "0.5" or [0.5] is refused here, not by a TypeError in every
    request), nothing else accepted. All optional: a history saved without metadata has none."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    model_version: str | None = Field(None, min_length=1, max_length=512)
    # `model_fingerprint` of the scorer that built it: the service refuses another model's.
    model_fingerprint: str | None = Field(None, pattern=r"^[0-9a-f]{16,64}$")
    data_dir: str | None = Field(None, max_length=4096)
    recovery_rate: float | None = Field(None, ge=0.0, lt=1.0, allow_inf_nan=False)
    # Shared with the portfolio bundle written with it: the two form one pair.
    snapshot_id: str | None = Field(None, pattern=r"^[0-9a-f]{32}$")


def checked_metadata(metadata: object, where: str) -> SnapshotMetadata:
    """`metadata` validated, else SnapshotError naming the first bad field (never its value)."""
    try:
        return SnapshotMetadata.model_validate(metadata)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        field = ".".join(map(str, first["loc"]))
        raise SnapshotError(
            f"{where}.{field}: {first['msg']}" if field else f"{where}: {first['msg']}"
        ) from None


def model_fingerprint(card: dict) -> str:
    """A digest of a scorer's model card (its training metadata and metrics): the same for
    the registry's model and its local copy, different for any other fit. The snapshot
    records it, so that a history built by another model is recognised as such."""
    canonical = json.dumps(_canonical(card), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _canonical(value: object) -> object:
    """`value` as plain JSON, the same in every process (sets sorted, arrays as lists)."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(str(_canonical(v)) for v in value)
    if isinstance(value, np.ndarray):
        return _canonical(value.tolist())
    if isinstance(value, np.generic):
        return _canonical(value.item())
    if isinstance(value, float):
        return repr(value)  # NaN and infinities too
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def save_history(history: History, path: str | Path, metadata: dict | None = None) -> None:
    """Write the snapshot file atomically."""
    write_with(path, lambda tmp: write_history(history, tmp, metadata))


def write_history(history: History, path: Path, metadata: dict | None = None) -> None:
    """Write the snapshot to `path` as it is (the caller makes it appear atomically)."""
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
        values_name, known_name = _declared_names(name)
        arrays[values_name] = values.values.astype(dtype)
        arrays[known_name] = values.known_day
        declared[name] = {"table": values.table, "kind": values.kind}
    for stream_name, stream in history.streams.items():
        arrays[_keys_name(stream_name)] = stream.keys
        for column, values in stream.state.items():
            arrays[_state_prefix(stream_name) + column] = values
    header = {
        "format_version": FORMAT_VERSION,
        "as_of": history.as_of.date().isoformat(),
        "metadata": metadata or {},
        "declared": declared,
    }
    arrays["header"] = np.asarray(json.dumps(header))
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)


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
    as_of = _checked_header(header, path.name)
    _check_arrays(arrays, header, path.name)
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
        for stream_name in _stream_names(arrays):
            prefix = _state_prefix(stream_name)
            state = {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}
            streams[stream_name] = Stream(arrays[_keys_name(stream_name)], state)
        declared = {}
        for name, kind in header.get("declared", {}).items():
            values_name, known_name = _declared_names(name)
            values = arrays[values_name].astype(
                object if kind["kind"] == "categorical" else "float64"
            )
            declared[name] = DeclaredValues(kind["table"], kind["kind"], values, arrays[known_name])
        history = History(
            as_of=pd.Timestamp(as_of),
            customer_ids=pd.Index(arrays["customer_ids"], dtype="str"),
            invoice_ids=pd.Index(arrays["invoice_ids"], dtype="str"),
            customers=customers,
            streams=streams,
            declared=declared,
        )
    except KeyError as error:
        raise SnapshotError(f"{path.name}: snapshot lacks {error.args[0]}") from None
    return history, header


def _checked_header(header: object, name: str) -> date:
    """The header's as-of day; SnapshotError unless the header is what `save_history` writes."""
    if not isinstance(header, dict):
        raise SnapshotError(f"{name}: snapshot header is not a JSON object")
    if header.get("format_version") != FORMAT_VERSION:
        raise SnapshotError(f"{name}: snapshot format {header.get('format_version')} unsupported")
    raw = header.get("as_of")
    try:
        as_of = date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
    except ValueError:
        as_of = None
    if as_of is None or not EARLIEST_AS_OF <= as_of <= LATEST_AS_OF:
        raise SnapshotError(f"{name}: snapshot header as_of is not a date YYYY-MM-DD")
    if not isinstance(header.get("metadata", {}), dict):
        raise SnapshotError(f"{name}: snapshot header metadata is not a JSON object")
    checked_metadata(header.get("metadata", {}), f"{name}: snapshot header metadata")
    unexpected = sorted(set(header) - HEADER_KEYS)
    if unexpected:
        raise SnapshotError(
            f"{name}: snapshot header holds an unexpected field {unexpected[0][:40]!r}"
        )
    return as_of


def _check_arrays(arrays: dict[str, np.ndarray], header: dict, name: str) -> None:
    """Types, shapes and lengths of every array (the declared features' ones as the header
    names them), so that no lookup can index out of bounds."""

    def refuse(problem: str) -> SnapshotError:
        return SnapshotError(f"{name}: {problem}")

    def column(key: str, kinds: str) -> np.ndarray:
        if key not in arrays:
            raise refuse(f"snapshot lacks {key}")
        values = arrays[key]
        if values.ndim != 1 or values.dtype.kind not in kinds:
            raise refuse(f"snapshot array {key} has the wrong type or shape")
        return values

    for key in ("customer_ids", "invoice_ids"):
        if not pd.Index(column(key, "U")).is_unique:
            raise refuse(f"snapshot {key} are not unique")
    customer_columns = [column(f"customers__{c}", "U") for c in ATTRIBUTE_TEXT]
    customer_columns += [column(f"customers__{c}", "f") for c in ATTRIBUTE_NUMBERS]
    customer_columns.append(column("customers__created_date", "i"))
    if len({len(values) for values in customer_columns}) != 1:
        raise refuse("snapshot customer attribute arrays differ in length")
    known = {"customer_ids", "invoice_ids", "customers__created_date"}
    known |= {f"customers__{c}" for c in ATTRIBUTE_TEXT + ATTRIBUTE_NUMBERS}
    streams = _stream_names(arrays)
    if not streams:
        raise refuse("snapshot has no event streams")
    for stream_name in streams:
        keys_name = _keys_name(stream_name)
        keys = column(keys_name, "i")
        if len(keys) > 1 and bool(np.any(keys[1:] < keys[:-1])):
            raise refuse(f"snapshot array {keys_name} is not sorted")
        prefix = _state_prefix(stream_name)
        known.add(keys_name)
        for state_name in [k for k in arrays if k.startswith(prefix)]:
            if len(column(state_name, "biuf")) != len(keys):
                raise refuse(f"snapshot array {state_name} is not as long as its keys")
            known.add(state_name)
    declared = header.get("declared", {})
    if not isinstance(declared, dict):
        raise refuse("snapshot header declared is not a JSON object")
    rows = {"customers": len(customer_columns[0]), "invoices": len(arrays["invoice_ids"])}
    for feature, kind in declared.items():
        if (
            not isinstance(kind, dict)
            or kind.get("table") not in rows
            or kind.get("kind") not in ("numeric", "categorical")
        ):
            raise refuse(f"snapshot header declares feature {feature!r} without table and kind")
        values_name, known_name = _declared_names(feature)
        values = column(values_name, "U" if kind["kind"] == "categorical" else "f")
        if len(values) != rows[kind["table"]] or len(column(known_name, "i")) != len(values):
            raise refuse(f"snapshot arrays of declared feature {feature!r} differ in length")
        known |= {values_name, known_name}
    unexpected = sorted(set(arrays) - known)
    if unexpected:
        raise refuse(f"snapshot holds an unexpected array {unexpected[0]}")
