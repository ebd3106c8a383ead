"""MLflow run plumbing: the experiment, what identifies a run's data and code, the whole config as
parameters, a run name that says what changed, registry aliases and version tags."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from payrisk.core.config import SOURCE_ROOT
from payrisk.core.storage import TABLE_SUFFIXES

# What a saved scorer needs to load and predict (pinned to the versions installed here), besides
# payrisk itself. Given to MLflow rather than inferred: its inference imports the model in a
# subprocess (about 13 s per save, twice per training) and missed numba and babel.
MODEL_DISTRIBUTIONS = (
    "mlflow", "cloudpickle", "lightgbm", "numba", "llvmlite", "numpy", "pandas", "pyarrow",
    "scikit-learn", "scipy", "babel", "pydantic",
)  # fmt: skip


def model_requirements() -> list[str]:
    """`pip_requirements` of a saved scorer: MODEL_DISTRIBUTIONS at their installed versions."""
    pins = []
    for name in MODEL_DISTRIBUTIONS:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def setup(tracking_uri: str, experiment: str) -> str:
    """Point MLflow at the tracking store and make sure the experiment exists; return its id.

    An embedded SQLite store is created (its tables, the experiment) under a lock on its
    folder: two first `payrisk train` runs of a project used to race there, and one of them
    failed after its whole fit with alembic's CommandError."""
    mlflow.set_tracking_uri(tracking_uri)
    if not tracking_uri.startswith("sqlite:///"):
        return _experiment_id(experiment, None)
    database = Path(tracking_uri.removeprefix("sqlite:///"))
    # Keep artifacts beside the embedded database rather than wherever the command ran.
    with _folder_lock(database.parent):
        return _experiment_id(experiment, (database.parent / "mlartifacts").as_uri())


def _experiment_id(experiment: str, artifact_location: str | None) -> str:
    found = mlflow.get_experiment_by_name(experiment)
    if found is not None:
        return found.experiment_id
    return mlflow.create_experiment(experiment, artifact_location=artifact_location)


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock on `folder` itself (flock on its descriptor: no lock file left)."""
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def data_fingerprint(data_dir: str | Path) -> str:
    """SHA-256 over the contract files of a data directory (names and bytes)."""
    digest = hashlib.sha256()
    for path in sorted(Path(data_dir).iterdir()):
        if path.suffix.lower() in TABLE_SUFFIXES and path.is_file():
            digest.update(path.name.encode())
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def code_version() -> dict[str, str]:
    """payrisk's version, and the git commit when it runs from a source checkout."""
    from payrisk import __version__

    version = {"package": __version__, "git_commit": "unknown", "git_dirty": "unknown"}
    if not (SOURCE_ROOT / ".git").exists():
        return version
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=SOURCE_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
        if commit.returncode == 0:
            version["git_commit"] = commit.stdout.strip()
            status = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=SOURCE_ROOT,
                capture_output=True,
                text=True,
                timeout=5,
            )
            version["git_dirty"] = str(bool(status.stdout.strip())).lower()
    except (OSError, subprocess.SubprocessError):
        pass
    return version


def set_alias(model_name: str, version: str, alias: str) -> None:
    MlflowClient().set_registered_model_alias(model_name, alias, version)


MAX_PARAM_LENGTH = 6000  # MLflow's limit on a parameter value


def flatten(config: Mapping, prefix: str = "") -> dict[str, str]:
    """A nested config as MLflow parameters: "models.lightgbm.num_leaves" -> "15" (lists and
    tuples as JSON), so that the compare view shows every setting side by side."""
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{name}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            out[name] = text[:MAX_PARAM_LENGTH]
    return out


def log_params(params: Mapping[str, str]) -> None:
    """Every parameter, in batches of MLflow's limit of 100 per call."""
    items = sorted(params.items())
    for start in range(0, len(items), 100):
        mlflow.log_params(dict(items[start : start + 100]))


def previous_params(experiment_id: str) -> dict[str, str] | None:
    """The parameters of the experiment's latest finished run, None if it has none."""
    runs = MlflowClient().search_runs(
        [experiment_id],
        filter_string="attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return dict(runs[0].data.params) if runs else None


def changes(before: Mapping[str, str] | None, after: Mapping[str, str]) -> list[str]:
    """What differs between two runs' parameters, as "lightgbm.num_leaves 15→31"."""
    if before is None:
        return []
    out = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key, "–"), after.get(key, "–")
        if old != new:
            short = ".".join(key.split(".")[-2:])
            out.append(f"{short} {old}→{new}")
    return out


def run_name(as_of: str, before: Mapping[str, str] | None, after: Mapping[str, str]) -> str:
    """A run name that says what is new in it: the settings that changed since the previous
    run (at most three, then how many more), or that only the data did, or that it is the
    first run of the experiment."""
    if before is None:
        return f"{as_of} first run"
    changed = changes(before, after)
    if not changed:
        return f"{as_of} same settings"
    shown = ", ".join(changed[:3])
    more = f" +{len(changed) - 3} more" if len(changed) > 3 else ""
    return f"{as_of} {shown}{more}"[:250]


def describe_version(model_name: str, version: str, decision: Mapping) -> None:
    """The registry's own record of the gate: tags with the decision, metric and both values,
    and a description in words, on the model version."""
    client = MlflowClient()
    tags = {
        "gate_decision": decision["alias"],
        "gate_metric": decision["metric"],
        "gate_new_value": f"{decision['new_value']:.6f}",
        "gate_champion_version": str(decision.get("champion_version") or "none"),
        "gate_champion_value": "not measured"
        if decision.get("champion_value") is None
        else f"{decision['champion_value']:.6f}",
    }
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version, key, value)
    client.update_model_version(
        model_name,
        version,
        description=f"{decision['alias']}: {decision['reason']} "
        f"({decision['metric']} {decision['new_value']:.4f}"
        + (
            ""
            if decision.get("champion_value") is None
            else f" vs champion v{decision['champion_version']} {decision['champion_value']:.4f}"
        )
        + ")",
    )
