"""The nightly run's configuration (`configs/daily.yaml`), typed and loaded once by `payrisk daily`.

Relative paths are taken from the folder the command runs in (cron: `cd` there; systemd:
`WorkingDirectory=`), as for every other command's options.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field

from payrisk.core.config import StrictModel, default_config, load_config
from payrisk.core.i18n import Language


class ExportImport(StrictModel):
    """One ERP export that lands every night and the mapping that makes it a contract table."""

    export: Path = Field(description="The export file (CSV or XLSX).")
    mapping: Path = Field(description="Its mapping file (see configs/mapping.example.yaml).")


class RetrainSettings(StrictModel):
    every_days: int | None = Field(
        7,
        ge=1,
        le=3650,
        strict=True,
        description="Retrain when the newest registered model is this many days old or more "
        "(null: only on demand, `payrisk daily --retrain`). The registry gate still decides "
        "which model serves.",
    )


class DailyConfig(StrictModel):
    data_dir: Path = Field(description="The contract data directory the run scores.")
    imports: tuple[ExportImport, ...] = Field(
        (),
        description="Exports imported into the data directory first; empty: the data "
        "directory already holds the contract tables.",
    )
    reports_dir: Path = Field(
        Path("reports/daily"), description="Scores, report and run summaries."
    )
    as_of: date | None = Field(None, description="Default: the day after the latest event.")
    retrain: RetrainSettings = RetrainSettings()
    train_config: Path | None = Field(None, description="Default: $PAYRISK_TRAIN_CONFIG.")
    dunning_config: Path | None = Field(None, description="Default: $PAYRISK_DUNNING_CONFIG.")
    language: Language | None = Field(
        None, description="The report's language (default: the policy's)."
    )
    experiment: str = Field(
        "payrisk-daily", min_length=1, max_length=200, description="MLflow experiment."
    )
    lock_file: Path | None = Field(
        None, description="Default: MODELS_DIR/daily.lock (one run at a time per models folder)."
    )


def load_daily_config(path: str | Path | None = None) -> DailyConfig:
    return load_config(path or default_config("daily.yaml"), DailyConfig)
