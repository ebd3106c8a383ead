"""MLflow run plumbing: the experiment, what identifies a run's data and code, registry aliases."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import mlflow
from mlflow import MlflowClient

from payrisk.core.config import SOURCE_ROOT
from payrisk.core.storage import TABLE_SUFFIXES


def setup(tracking_uri: str, experiment: str) -> str:
    """Point MLflow at the tracking store and make sure the experiment exists; return its id."""
    mlflow.set_tracking_uri(tracking_uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found is not None:
        return found.experiment_id
    artifact_location = None
    if tracking_uri.startswith("sqlite:///"):
        # Keep artifacts beside the embedded database rather than wherever the command ran.
        database = Path(tracking_uri.removeprefix("sqlite:///"))
        artifact_location = (database.parent / "mlartifacts").as_uri()
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
