"""The catalog: where every artifact lives and how it is loaded (as Kedro's data catalog).

Entry points build one `Catalog` from the settings and the command's options; pipelines and the
service ask it for paths, configs, the scorer, the snapshot and the portfolio bundle. No other
module derives a path or reads the registry, so a model trained under another
`registry.model_name` or in another models folder is the one scored, served and shown.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import unquote, urlsplit

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from payrisk.core.config import ConfigError, TrainConfig, default_config, load_train_config
from payrisk.core.settings import Settings, load_settings
from payrisk.core.storage import atomic_directory, atomic_file_and_folder, write_json
from payrisk.features.history import History
from payrisk.features.snapshot import checked_metadata, load_history, write_history
from payrisk.models.gate import CHALLENGER, CHAMPION
from payrisk.models.scorer import PaymentRiskScorer
from payrisk.models.training import MODEL
from payrisk.policy.config import DunningConfig, load_dunning_config
from payrisk.policy.portfolio import PortfolioBundle, read_bundle, write_bundle

log = logging.getLogger("payrisk.catalog")

SNAPSHOT_FILE = "customer_history.npz"
CHALLENGER_METRICS = ("roc_auc", "pr_auc", "brier")
SQLITE_MAGIC = b"SQLite format 3\x00"


class RegistryUnusableError(ConfigError):
    """The tracking store cannot be read (not a database, a folder in its place...)."""


class ModelUnavailableError(FileNotFoundError):
    """No model can be loaded: no champion and no local copy, or a local copy that changed."""


@dataclass(frozen=True)
class DailyPaths:
    """Where `payrisk daily` reads and writes: every path of the nightly run, in one place."""

    data_dir: Path
    staging_dir: Path  # the data directory with the night's exports, until validated
    reports_dir: Path
    scores: Path
    customers: Path
    report: Path
    train_report: Path
    summary: Path  # the latest run's summary
    runs_dir: Path  # every run's summary, by start time
    lock: Path

    def run_summary(self, run_id: str) -> Path:
        return self.runs_dir / f"{run_id}.json"


def sqlite_store_problem(uri: str) -> str | None:
    """Why an `sqlite:///PATH` tracking URI cannot be a readable MLflow store, else None.

    Checked before MLflow touches it: given a folder, MLflow retries for 100 s before failing,
    and given a file that is not a database it fails with SQLAlchemy errors of its own.
    """
    if not uri.startswith("sqlite:///"):
        return None
    raw = unquote(urlsplit(uri).path).lstrip("/")
    if raw in ("", ":memory:"):
        return None
    path = Path("/" + raw) if uri.startswith("sqlite:////") else Path(raw)  # 4 slashes: absolute
    name = path.name or str(path)
    if path.is_dir():
        return f"{name} is a folder, not an MLflow database"
    if not path.parent.is_dir():
        return f"the folder of {name} does not exist"
    if path.exists():
        try:
            with open(path, "rb") as handle:
                head = handle.read(len(SQLITE_MAGIC))
        except OSError as error:
            return f"{name} cannot be read ({error.strerror})"
        if head and head != SQLITE_MAGIC:
            return f"{name} is not an SQLite database"
    return None


def check_decision_moments(
    train: TrainConfig, train_file: Path, dunning: DunningConfig, dunning_file: Path
) -> None:
    """The learned policy decides at the moments the channel-effect models were trained for:
    train.yaml's `effects.decision_offsets` is the source, dunning.yaml's `policy.decision_offsets`
    must repeat it (an effect estimated at day 15 says nothing of a contact at day 20)."""
    trained = tuple(train.effects.decision_offsets)
    decided = tuple(dunning.policy.decision_offsets)
    if dunning.policy.mode != "learned" or not train.effects.enabled or trained == decided:
        return
    raise ConfigError(
        f"decision moments disagree: {dunning_file} policy.decision_offsets {list(decided)} "
        f"but {train_file} effects.decision_offsets {list(trained)} (the days the channel-effect "
        "models are trained at); set the same days in both files"
    )


def folder_digest(folder: Path) -> str:
    """SHA-256 over every file under `folder`: each relative path and its content, in order."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class LoadedScorer:
    scorer: PaymentRiskScorer
    version: str  # registry version, or the URI when given one
    source: str  # "registry", "local copy" or the model URI
    problem: str | None = None  # why it is not the registry's champion, when it is not


@dataclass(frozen=True)
class Catalog:
    """Paths, URIs and loaders of one run, from the settings and the command's options."""

    settings: Settings = field(default_factory=load_settings)
    train_config_path: Path | None = None  # --config, else PAYRISK_TRAIN_CONFIG, else shipped
    dunning_config_path: Path | None = None  # --dunning-config, else PAYRISK_DUNNING_CONFIG

    # --- configuration, loaded once -------------------------------------------------------------
    @property
    def train_config_file(self) -> Path:
        return Path(
            self.train_config_path or self.settings.train_config or default_config("train.yaml")
        )

    @property
    def dunning_config_file(self) -> Path:
        return Path(
            self.dunning_config_path
            or self.settings.dunning_config
            or default_config("dunning.yaml")
        )

    @cached_property
    def train_config(self) -> TrainConfig:
        return load_train_config(self.train_config_file)

    @cached_property
    def dunning_config(self) -> DunningConfig:
        """The dunning config, whose decision moments must be those the effects are trained at."""
        dunning = load_dunning_config(self.dunning_config_file)
        check_decision_moments(
            self.train_config, self.train_config_file, dunning, self.dunning_config_file
        )
        return dunning

    @property
    def model_name(self) -> str:
        return self.train_config.registry.model_name

    # --- where things are -----------------------------------------------------------------------
    @property
    def tracking_uri(self) -> str:
        """MLFLOW_TRACKING_URI if set, else an embedded SQLite file in the working directory."""
        return self.settings.tracking_uri or f"sqlite:///{self.default_database}"

    @property
    def database_url(self) -> str:
        """The credit desk's record: PAYRISK_DATABASE_URL, else an SQLite file in the project
        folder (beside models/)."""
        if self.settings.database_url is not None:
            return self.settings.database_url.get_secret_value()
        return f"sqlite:///{self.models_dir.parent / 'payrisk.db'}"

    @property
    def default_database(self) -> Path:
        return Path.cwd() / "mlflow.db"

    @property
    def has_registry(self) -> bool:
        """False where no tracking server is set and no embedded database exists (e.g. a Bento):
        the local copy is then the champion, and no empty database is created by looking."""
        return self.settings.tracking_uri is not None or self.default_database.is_file()

    @property
    def models_dir(self) -> Path:
        return self.settings.models_dir

    @property
    def snapshot_path(self) -> Path:
        return self.settings.snapshot or self.models_dir / "snapshot" / SNAPSHOT_FILE

    def portfolio_dir(self, snapshot: Path | None = None) -> Path:
        """The portfolio bundle lives beside its snapshot file."""
        return (snapshot or self.snapshot_path).with_name("portfolio")

    def daily_paths(
        self, data_dir: Path, reports_dir: Path, lock_file: Path | None = None
    ) -> DailyPaths:
        """The nightly run's paths: its outputs under `reports_dir`, its lock beside the models
        (two runs on one models folder would replace each other's snapshot)."""
        return DailyPaths(
            data_dir=data_dir,
            staging_dir=data_dir.with_name(f".{data_dir.name}.incoming"),
            reports_dir=reports_dir,
            scores=reports_dir / "scores.csv",
            customers=reports_dir / "scores.customers.csv",
            report=reports_dir / "report.html",
            train_report=reports_dir / "train.json",
            summary=reports_dir / "summary.json",
            runs_dir=reports_dir / "runs",
            lock=lock_file or self.models_dir / "daily.lock",
        )

    def local_copy_dir(self, version: str) -> Path:
        return self.models_dir / self.model_name / f"version-{version}"

    @property
    def local_champion_pointer(self) -> Path:
        return self.models_dir / self.model_name / "champion.json"

    # --- the registry -----------------------------------------------------------------------------
    def check_registry(self) -> None:
        """RegistryUnusableError for a local tracking store that cannot be one (touches nothing)."""
        problem = sqlite_store_problem(self.tracking_uri)
        if problem is not None:
            raise RegistryUnusableError(f"MLFLOW_TRACKING_URI: {problem}")

    def client(self) -> MlflowClient:
        """The tracking client; RegistryUnusableError for a local store that cannot be one."""
        self.check_registry()
        mlflow.set_tracking_uri(self.tracking_uri)
        return MlflowClient(self.tracking_uri)

    def champion_version(self) -> str | None:
        """The registry's champion version; None without one, or without a registry."""
        if not self.has_registry:
            return None
        try:
            return str(self.client().get_model_version_by_alias(self.model_name, CHAMPION).version)
        except MlflowException:
            return None

    def last_registered(self) -> pd.Timestamp | None:
        """When the newest version of the model was registered (UTC); None without one."""
        if not self.has_registry:
            return None
        try:
            versions = self.client().search_model_versions(f"name = '{self.model_name}'")
        except MlflowException:
            return None
        if not versions:
            return None
        newest = max(int(version.creation_timestamp) for version in versions)
        return pd.Timestamp(newest, unit="ms", tz="UTC")

    def serving_snapshot(self) -> dict | None:
        """What the service serves now: the snapshot's day, id and model version, read from the
        bundle beside it (cheap: no history loaded); None if there is none."""
        kpis = self.portfolio_dir() / "kpis.json"
        if not self.snapshot_path.is_file() or not kpis.is_file():
            return None
        try:
            header = json.loads(kpis.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return {
            "path": str(self.snapshot_path),
            **{k: header.get(k) for k in ("as_of", "snapshot_id", "model_version")},
        }

    def load_scorer(self, model_uri: str | None = None) -> LoadedScorer:
        """The given model, else the registry's champion, else the local copy of the champion.

        Whatever goes wrong with the registry (unreachable, not a database, a folder in place of
        the file, a model that does not load), the local copy is served and `problem` says why;
        nothing is retried, so a service never crash-loops on a broken registry.
        """
        model_uri = model_uri or self.settings.model_uri
        if model_uri:
            mlflow.set_tracking_uri(self.tracking_uri)
            model = mlflow.pyfunc.load_model(model_uri)
            return LoadedScorer(model.unwrap_python_model().scorer, model_uri, model_uri)
        problem = None
        try:
            version = self.champion_version()
            if version is not None:
                model = mlflow.pyfunc.load_model(f"models:/{self.model_name}@{CHAMPION}")
                return LoadedScorer(model.unwrap_python_model().scorer, version, "registry")
            problem = f"no {CHAMPION} {self.model_name!r} in the model registry"
        except RegistryUnusableError as error:
            problem = f"model registry unusable: {error}"
        except Exception as error:
            problem = f"model registry unusable ({type(error).__name__})"
        local = self.local_champion_path()
        if local is None:
            raise ModelUnavailableError(
                f"no champion model {self.model_name!r} ({problem}) and no local copy: "
                "train one first (payrisk train --data DIR)"
            )
        tampered = self.local_copy_problem()
        if tampered is not None:
            raise ModelUnavailableError(f"{problem}, and {tampered}")
        log.warning("%s; serving the local copy", problem)
        model = mlflow.pyfunc.load_model(str(local))
        version = local.parent.name.removeprefix("version-")
        return LoadedScorer(model.unwrap_python_model().scorer, version, "local copy", problem)

    def model_available(self) -> str | None:
        """Why no model could be served (None if one can): checked by `payrisk serve` before it
        starts a server whose workers would otherwise fail at start, again and again."""
        if self.settings.model_uri:
            return None
        if self.local_champion_path() is not None:
            tampered = self.local_copy_problem()
            if tampered is None or self._champion_in_registry():
                return None
            return tampered
        try:
            if self.champion_version() is not None:
                return None
        except Exception as error:
            return f"the model registry is unusable ({error}) and there is no local copy"
        return (
            f"no champion model {self.model_name!r} in the registry or under {self.models_dir}: "
            "train one first (payrisk train --data DIR)"
        )

    def _champion_in_registry(self) -> bool:
        try:
            return self.champion_version() is not None
        except Exception:
            return False

    def load_champion_for_gate(self) -> tuple[str | None, PaymentRiskScorer | None]:
        """The champion's version and scorer; the scorer is None if it cannot be loaded (e.g.
        saved by an older payrisk), so that the gate says so instead of stopping training."""
        version = self.champion_version()
        if version is None:
            return None, None
        try:
            model = mlflow.pyfunc.load_model(f"models:/{self.model_name}@{CHAMPION}")
            return version, model.unwrap_python_model().scorer
        except (MlflowException, OSError, ImportError, AttributeError, EOFError) as error:
            log.warning("champion v%s cannot be loaded: %s", version, type(error).__name__)
            return version, None

    def save_local_copy(self, version: str, python_model: object, **kwargs) -> Path:
        """Keep the registered scorer on local disk too, so that serving survives a tracking
        outage. Written before the registry alias moves (and pointed at by
        `point_local_champion` after), so a run killed at any point never leaves a champion
        without its local copy."""
        target = self.local_copy_dir(version)
        with atomic_directory(target) as tmp:
            mlflow.pyfunc.save_model(str(tmp / "model"), python_model=python_model, **kwargs)
        return target

    def point_local_champion(self, version: str) -> None:
        """Make the local copy of `version` the one served when the registry is unreachable,
        with the digest of its files: a copy changed since (a replaced `python_model.pkl`
        would run its code when loaded) is refused before it is unpickled."""
        model = self.local_copy_dir(version) / "model"
        write_json(
            self.local_champion_pointer,
            {"version": version, "path": f"version-{version}", "sha256": folder_digest(model)},
        )

    def local_champion_path(self) -> Path | None:
        pointer = self.local_champion_pointer
        if not pointer.is_file():
            return None
        entry = json.loads(pointer.read_text())
        path = self.models_dir / self.model_name / entry["path"] / "model"
        return path if path.is_dir() else None

    def local_copy_problem(self) -> str | None:
        """Why the local copy must not be loaded (its files differ from the digest recorded
        when it was registered), or None. A pointer without a digest (written before digests
        were recorded) is loaded as before."""
        path = self.local_champion_path()
        if path is None:
            return None
        recorded = json.loads(self.local_champion_pointer.read_text()).get("sha256")
        if recorded is not None and folder_digest(path) != recorded:
            return (
                f"the local copy {path.parent.name} of {self.model_name!r} differs from the one "
                "registered (its files changed since): refused, it could run any code when loaded"
            )
        return None

    def challenger_summary(self, card: dict) -> dict | None:
        """The registry's `challenger` version and its holdout metrics beside the champion's,
        like with like: the per-age headline (what the gate judges) where both have it, else
        both pooled over ages (cards and runs from before the headline).

        Cheap: one alias lookup and one run read (the metrics logged at training), no model
        load. None when there is no challenger or the registry cannot be reached.
        """
        if not self.has_registry:
            return None
        try:
            client = self.client()
            version = client.get_model_version_by_alias(self.model_name, CHALLENGER)
            metrics = client.get_run(version.run_id).data.metrics if version.run_id else {}
        except Exception:
            return None
        rows = []
        for target in ("late", "default"):
            headline = card.get("headline", {}).get(target, {}).get(MODEL)
            per_age = headline is not None and any(
                key.startswith(f"headline_{target}_{MODEL}_") for key in metrics
            )
            if per_age:
                prefix, basis, champion = "headline", "per age", headline
            else:
                prefix, basis = "holdout", "pooled"
                champion = card.get("holdout_metrics", {}).get(target, {}).get(MODEL, {})
            for metric in CHALLENGER_METRICS:
                key = f"{prefix}_{target}_{MODEL}_{metric}"
                if key in metrics:
                    mine = champion.get(metric)
                    rows.append(
                        (
                            f"{target} {metric.replace('_', ' ')} ({basis})",
                            f"{metrics[key]:.3f}",
                            "–" if mine is None else f"{mine:.3f}",
                        )
                    )
        created = pd.Timestamp(version.creation_timestamp, unit="ms").date().isoformat()
        return {"version": str(version.version), "created": created, "metrics": rows}

    # --- the service's snapshot and the portfolio bundle beside it -------------------------------
    def save_snapshot(
        self,
        history: History,
        bundle: PortfolioBundle,
        metadata: dict,
        path: Path | None = None,
    ) -> Path:
        """The snapshot file and the bundle folder as one unit: both are written in full to
        temporary names first, and neither replaces the old one unless both were written (a
        snapshot that cannot be written leaves the old bundle in place, and the reverse). Both
        carry the same `snapshot_id`."""
        target = path or self.snapshot_path
        metadata = {**metadata, "snapshot_id": uuid.uuid4().hex}
        checked_metadata(metadata, "snapshot metadata")  # the service would refuse it
        with atomic_file_and_folder(target, self.portfolio_dir(target)) as (snapshot, folder):
            write_bundle(bundle, folder, metadata)
            write_history(history, snapshot, metadata)
        return target

    def load_snapshot(self, path: Path | None = None) -> tuple[History, dict]:
        return load_history(path or self.snapshot_path)

    def read_bundle(self, snapshot: Path | None = None) -> PortfolioBundle:
        return read_bundle(self.portfolio_dir(snapshot))
