"""MLflow plumbing: where runs go, the registry gate, and the local copy of registered scorers."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from payrisk.core.config import PROJECT_ROOT
from payrisk.core.storage import TABLE_SUFFIXES, atomic_directory, write_json

CHAMPION = "champion"
CHALLENGER = "challenger"


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI if set, else an embedded SQLite file in the working directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def models_dir() -> Path:
    return Path(os.environ.get("PAYRISK_MODELS_DIR", Path.cwd() / "models"))


def setup(experiment: str) -> str:
    """Point MLflow at the tracking store and make sure the experiment exists; return its id."""
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found is not None:
        return found.experiment_id
    artifact_location = None
    if uri.startswith("sqlite:///"):
        # Keep artifacts beside the embedded database rather than wherever the command ran.
        artifact_location = (Path(uri.removeprefix("sqlite:///")).parent / "mlartifacts").as_uri()
    return mlflow.create_experiment(experiment, artifact_location=artifact_location)


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
    from payrisk import __version__

    version = {"package": __version__, "git_commit": "unknown", "git_dirty": "unknown"}
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
        if commit.returncode == 0:
            version["git_commit"] = commit.stdout.strip()
            status = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=PROJECT_ROOT,
                capture_output=True,
                text=True,
                timeout=5,
            )
            version["git_dirty"] = str(bool(status.stdout.strip())).lower()
    except (OSError, subprocess.SubprocessError):
        pass
    return version


def champion_version(model_name: str) -> str | None:
    try:
        return str(MlflowClient().get_model_version_by_alias(model_name, CHAMPION).version)
    except MlflowException:
        return None


@dataclass(frozen=True)
class GateDecision:
    alias: str
    metric: str
    new_value: float
    champion_version: str | None
    champion_value: float | None
    reason: str

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def decide(
    metric: str,
    new_value: float,
    champion: str | None,
    champion_value: float | None,
    min_improvement: float,
    basis: str = "",
    newer: bool = True,
) -> GateDecision:
    """Champion only if there is none, or the new model beats it on the same snapshots.

    `basis` says which snapshots both were measured on, or why the champion could not be; an
    unmeasurable champion gives way only to a model trained on data at least as recent (`newer`).
    """
    on = f" on {basis}" if basis and champion_value is not None else ""
    if champion is None:
        return GateDecision(CHAMPION, metric, new_value, None, None, "no champion yet")
    if champion_value is None:
        return GateDecision(
            CHAMPION if newer else CHALLENGER,
            metric,
            new_value,
            champion,
            None,
            basis or "the current champion cannot be measured",
        )
    if new_value > champion_value + min_improvement:
        return GateDecision(
            CHAMPION,
            metric,
            new_value,
            champion,
            champion_value,
            f"beats champion by {new_value - champion_value:.4f}{on}",
        )
    return GateDecision(
        CHALLENGER,
        metric,
        new_value,
        champion,
        champion_value,
        f"does not beat champion ({new_value:.4f} vs {champion_value:.4f}, "
        f"margin required {min_improvement}){on}",
    )


def set_alias(model_name: str, version: str, alias: str) -> None:
    MlflowClient().set_registered_model_alias(model_name, alias, version)


def save_local_copy(model_name: str, version: str, python_model: object, **kwargs) -> Path:
    """Keep the registered scorer on local disk too, so that serving survives a tracking outage.

    Written before the registry alias moves (and pointed at by `point_local_champion` after), so
    that a run killed at any point never leaves a champion without its local copy.
    """
    target = models_dir() / model_name / f"version-{version}"
    with atomic_directory(target) as tmp:
        mlflow.pyfunc.save_model(str(tmp / "model"), python_model=python_model, **kwargs)
    return target


def point_local_champion(model_name: str, version: str) -> None:
    """Make the local copy of `version` the one served when the registry is unreachable."""
    write_json(
        models_dir() / model_name / "champion.json",
        {"version": version, "path": f"version-{version}"},
    )


def local_champion_path(model_name: str) -> Path | None:
    pointer = models_dir() / model_name / "champion.json"
    if not pointer.is_file():
        return None
    entry = json.loads(pointer.read_text())
    path = models_dir() / model_name / entry["path"] / "model"
    return path if path.is_dir() else None
