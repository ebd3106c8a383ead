"""Typed configuration: YAML files in `configs/`, loaded once at the entry point.

Each config file has a pydantic model; a wrong value is refused with the file, the dotted field
path and the reason, before any work starts.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

# A source checkout: src/payrisk/core/config.py -> the project folder (with .git).
SOURCE_ROOT = Path(__file__).resolve().parents[3]


def default_config_dir() -> Path:
    """The shipped configs, package data of payrisk: the same in a checkout (where the top-level
    configs/ links to them), an installed wheel and a Bento."""
    return Path(str(resources.files("payrisk") / "configs"))


def default_config(name: str) -> Path:
    """A shipped config file, e.g. default_config("train.yaml")."""
    return default_config_dir() / name


ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file is missing, not YAML, or has a wrong value."""


class StrictModel(BaseModel):
    """Base for config sections: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def format_validation_error(error: ValidationError, source: str) -> str:
    lines = [f"{source}: {error.error_count()} invalid value(s)"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  - {where}: {item['msg']}")
    return "\n".join(lines)


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path.name}: not valid YAML{where}") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"{path.name}: expected a mapping of keys to values at the top level")
    return content


def load_config(path: str | Path, model: type[ModelT]) -> ModelT:
    """Load a YAML file into `model`, with field-level messages on error."""
    content = load_yaml(path)
    try:
        return model.model_validate(content)
    except ValidationError as error:
        raise ConfigError(format_validation_error(error, Path(path).name)) from None


# --- Training configuration (configs/train.yaml) -------------------------------------------------


class TargetSettings(StrictModel):
    """What counts as late and as a default; see README 'Targets'."""

    late_after_days: int = Field(
        0, ge=0, le=365, description="Late: paid more than this many days after the due date."
    )
    default_after_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="Default: still unpaid this many days after due, or written off.",
    )
    payment_quantiles: tuple[float, float, float] = Field(
        (0.1, 0.5, 0.9), description="Lower, central and upper quantile of the payment date."
    )

    @field_validator("payment_quantiles")
    @classmethod
    def _ordered(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if not 0 < value[0] < value[1] < value[2] < 1:
            raise ValueError("quantiles must be increasing and strictly between 0 and 1")
        return value

    @model_validator(mode="after")
    def _default_is_late(self) -> TargetSettings:
        """Outcomes are nested: a default must be a late payment too."""
        if self.default_after_days < self.late_after_days:
            raise ValueError("default_after_days must be at least late_after_days")
        return self


class DeclaredFeature(StrictModel):
    """A column of your own customers or invoices table used as a feature (README "Your own
    features"). Values are read from the data directory at training, scoring and snapshot time."""

    column: str = Field(min_length=1, description="Column of the table (an extra column).")
    table: Literal["customers", "invoices"] = Field(description="customers or invoices.")
    kind: Literal["numeric", "categorical"] = Field(
        description="numeric (numbers, '.' decimals) or categorical (text labels)."
    )
    known_from: str | None = Field(
        None,
        min_length=1,
        description="Date column of the same table: the day the value took effect (for values "
        "that change). Before it the feature is unknown. Unset: customer values are known "
        "always; an invoice value needs it or known_at: issue.",
    )
    known_at: Literal["issue"] | None = Field(
        None,
        description="Invoice values without a date column: 'issue' says the value is set when "
        "the invoice is issued (a sales channel), so it may be read from the issue date on.",
    )
    name: str | None = Field(
        None,
        pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
        description="Feature name (default: the column), shown in reasons and the model page.",
    )
    description: str | None = Field(None, description="What it means, for the model page.")

    @property
    def feature_name(self) -> str:
        return self.name or self.column

    @model_validator(mode="after")
    def _dated(self) -> DeclaredFeature:
        """An undated invoice column is refused: nothing says it was known at issue, and a flag
        filled in later (a dispute, a collection status) read back to the issue date teaches
        the model the future. The README's rule: undated flags are never features."""
        where = f"{self.table}.{self.column}"
        if self.known_from is not None and self.known_at is not None:
            raise ValueError(f"{where}: give known_from or known_at, not both")
        if self.known_at is not None and self.table != "invoices":
            raise ValueError(
                f"{where}: known_at: issue is for invoice columns; a customer value is known "
                "always unless known_from names its date column"
            )
        if self.table == "invoices" and self.known_from is None and self.known_at is None:
            raise ValueError(
                f"{where} has no date: an invoice column may have been filled in after the "
                "invoice was issued (a dispute flag, a collection status), and read back to the "
                "issue date it would teach the model the future. Name the date column its value "
                "took effect (known_from: <column>), or, if the value is set when the invoice is "
                "issued (a sales channel, a payment method), say so with known_at: issue"
            )
        return self


class FeatureSettings(StrictModel):
    recent_half_life_days: float = Field(
        90, ge=30, le=3650, description="Half-life of the recency-weighted history."
    )
    long_half_life_days: float = Field(365, ge=30, le=3650)
    recent_settlements: int = Field(
        10, ge=2, le=100, description="Window of the rolling median of days late."
    )
    severe_late_days: int = Field(30, ge=1, le=365)
    response_days: int = Field(
        7,
        ge=1,
        le=90,
        description="A reminder 'worked' if the invoice was paid in full within this many days "
        "after it: the window of the customer's response history by channel.",
    )
    declared: tuple[DeclaredFeature, ...] = Field(
        (), description="Your own feature columns of the customers or invoices table."
    )

    @field_validator("declared")
    @classmethod
    def _distinct_names(cls, value: tuple[DeclaredFeature, ...]) -> tuple[DeclaredFeature, ...]:
        names = [d.feature_name for d in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"feature name(s) {twice} declared twice (set name: to tell apart)")
        return value


class SnapshotSettings(StrictModel):
    """Ages at which each invoice is seen in training, so open invoices of any age score right."""

    at_issue: bool = True
    days_past_due: tuple[int, ...] = Field(
        (0, 15, 30, 45, 60, 90), description="0 is the due date."
    )


class LightGBMSettings(StrictModel):
    n_estimators: int = Field(400, ge=10, le=20000)
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(15, ge=2, le=4096)
    min_child_samples: int = Field(100, ge=1)
    subsample: float = Field(0.8, gt=0, le=1)
    subsample_freq: int = Field(1, ge=0)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    reg_lambda: float = Field(1.0, ge=0)
    early_stopping_rounds: int = Field(50, ge=1)
    n_jobs: int = Field(2, ge=1)


MODEL_TARGETS = ("late", "default", "payment")


class ModelSettings(StrictModel):
    lightgbm: LightGBMSettings = LightGBMSettings()
    per_target: dict[str, dict[str, float | int]] = Field(
        default_factory=lambda: {
            "default": {"num_leaves": 7, "min_child_samples": 200, "reg_lambda": 5.0}
        },
        description="LightGBM settings that differ for one target (late, default, payment).",
    )
    calibration: str = Field("sigmoid", description="sigmoid (Platt, on the log-odds) or isotonic.")
    balance_classes: bool = Field(
        False, description="Weight the rare class up; calibration undoes the bias."
    )
    calibration_fraction: float = Field(
        0.2,
        gt=0.05,
        lt=0.5,
        description="Latest share of training snapshots used for early stopping and calibration.",
    )
    monotone_increasing: tuple[str, ...] = Field(
        ("days_past_due", "late_share", "default_share", "mean_days_late"),
        description="Features whose increase may never lower a late or default probability.",
    )
    logistic_c: float = Field(
        1.0, gt=0, description="Inverse regularisation of the logistic regressions."
    )
    candidates: tuple[Literal["lightgbm", "logistic", "blend", "prior"], ...] = Field(
        ("lightgbm", "logistic", "blend", "prior"),
        min_length=1,
        description="Models compared for each target on the latest training slice; the best "
        "(out-of-fold log loss) is registered.",
    )
    reference_examples: int | None = Field(
        20_000,
        ge=100,
        description="The LightGBM settings are for this many training examples or more; fewer "
        "scale min_child_samples down linearly and num_leaves by the square root. null: as set.",
    )
    min_class_examples: int = Field(
        20,
        ge=1,
        description="A target is learnable only with at least this many examples of each class "
        "before and after the calibration cut; otherwise its calibrated prior is used.",
    )
    payment_horizon_days: int = Field(
        365,
        ge=30,
        le=3650,
        description="Payment dates are modelled up to this many days past due; later is 'not "
        "within the horizon'.",
    )
    payment_max_snapshots: int = Field(
        300_000,
        ge=1000,
        description="The payment-date model learns from a time-ordered sample of at most this "
        "many snapshots (each becomes one row per band of days it was watched through).",
    )

    @field_validator("calibration")
    @classmethod
    def _known_calibration(cls, value: str) -> str:
        if value not in ("sigmoid", "isotonic"):
            raise ValueError("use sigmoid or isotonic")
        return value

    @model_validator(mode="after")
    def _overrides_are_settings(self) -> ModelSettings:
        for target, override in self.per_target.items():
            if target not in MODEL_TARGETS:
                raise ValueError(f"per_target.{target}: use one of {list(MODEL_TARGETS)}")
            LightGBMSettings(**{**self.lightgbm.model_dump(), **override})
        return self

    def lightgbm_for(self, target: str) -> LightGBMSettings:
        """The shared LightGBM settings with the target's own overrides applied."""
        return LightGBMSettings(**{**self.lightgbm.model_dump(), **self.per_target.get(target, {})})


class EvaluationSettings(StrictModel):
    holdout_days: int = Field(
        180, ge=14, description="Length of the latest period held out for testing."
    )
    label_maturity_days: int = Field(
        120, ge=0, description="Gap before the data end so that holdout outcomes are known."
    )
    backtest_folds: int = Field(
        2, ge=0, le=12, description="Extra rolling cut-offs before the holdout."
    )
    backtest_step_days: int = Field(120, ge=14)
    top_shares: tuple[float, ...] = (0.1, 0.2)
    calibration_bins: int = Field(10, ge=3, le=50)


class RegistrySettings(StrictModel):
    model_name: str = Field("payrisk-scorer", min_length=1)
    experiment: str = Field("payrisk", min_length=1)
    gate_metric: str = Field(
        "default_roc_auc", description="Holdout metric the challenger must beat (higher is better)."
    )
    min_improvement: float = Field(0.0, ge=0)
    refit_on_full_history: bool = Field(
        True, description="Refit the registered models on all data after evaluation."
    )


class ComputeSettings(StrictModel):
    """Where features, training and batch scoring run: in this process, or on a Dask cluster.

    The Dask path partitions the data by customer and runs the same feature and scoring code on
    each partition (see `payrisk.scaleout`); only where the work runs changes, not the results.
    """

    backend: Literal["local", "dask"] = Field(
        "local", description="local (one process) or dask (partitions by customer on a cluster)."
    )
    scheduler_address: str | None = Field(
        None,
        min_length=1,
        description="Dask scheduler, e.g. tcp://10.0.0.5:8786; null starts a local cluster "
        "(the DASK_SCHEDULER_ADDRESS environment variable is used when this is null).",
    )
    partitions: int | None = Field(
        None, ge=1, le=100_000, description="Customer partitions; null: 2 per worker thread."
    )
    workers: int = Field(2, ge=1, le=256, description="Workers of a local cluster.")
    threads_per_worker: int = Field(1, ge=1, le=256, description="Threads of each local worker.")


class EffectSettings(StrictModel):
    """Channel effects (uplift) learned from the reminder history: payrisk.models.effects."""

    enabled: bool = Field(True, description="Fit channel-effect models with the risk models.")
    response_days: tuple[int, ...] = Field(
        (7, 14),
        min_length=1,
        description="A reminder works if the invoice is paid in full within this many days.",
    )
    decision_offsets: tuple[int, ...] = Field(
        (-4, 5, 15, 30, 45, 75),
        min_length=1,
        description="Days relative to due at which the dunning system decides (contact or wait):"
        " moments without a reminder around them are the 'no contact' examples.",
    )
    control_window_days: int = Field(
        3, ge=0, le=30, description="No reminder this close to a moment: a no-contact example."
    )
    min_propensity: float = Field(
        0.03,
        gt=0,
        lt=0.5,
        description="Below this estimated chance of a channel in a context there is no overlap:"
        " no effect is claimed there; propensities are clipped to it in the estimators.",
    )
    min_units: int = Field(200, ge=10, description="Fewer examples of a channel: not modelled.")
    folds: int = Field(2, ge=2, le=10, description="Cross-fitting folds (grouped by customer).")
    n_estimators: int = Field(150, ge=10, le=5000)
    learning_rate: float = Field(0.08, gt=0, le=1)
    num_leaves: int = Field(15, ge=2, le=1024)
    min_child_samples: int = Field(100, ge=1)
    final_num_leaves: int = Field(7, ge=2, le=1024)
    final_min_child_samples: int = Field(300, ge=1)
    final_n_estimators: int = Field(80, ge=10, le=5000)
    interval_bins: int = Field(5, ge=1, le=50, description="Groups of customers for intervals.")
    n_jobs: int = Field(
        1, ge=1, description="LightGBM threads (small models: one thread wastes no time waiting)."
    )

    @field_validator("response_days", "decision_offsets")
    @classmethod
    def _sorted_unique(cls, values: tuple[int, ...]) -> tuple[int, ...]:
        if list(values) != sorted(set(values)):
            raise ValueError("must be strictly increasing")
        return values


class MonitoringSettings(StrictModel):
    """`payrisk monitor`: drift of what is scored now from the served model's training data, and
    its realised accuracy once outcomes have matured; thresholds of the ok / watch / retrain
    verdict. PSI: < 0.1 little change, 0.1-0.25 some, > 0.25 a different population."""

    reference_days: int = Field(
        365,
        ge=30,
        le=3650,
        description="The training snapshots of this many days before the model's training end "
        "are the reference (their bins and shares are stored with the model).",
    )
    current_days: int = Field(
        90, ge=7, le=730, description="The snapshots of this many days before as-of: scored now."
    )
    bins: int = Field(10, ge=3, le=50, description="Quantile bins of each numeric feature.")
    min_rows: int = Field(
        200, ge=30, description="Fewer snapshots (or labelled ones in an age group): not judged."
    )
    feature_psi: tuple[float, float] = Field(
        (0.1, 0.25), description="Feature PSI from which the verdict is watch, then retrain."
    )
    score_psi: tuple[float, float] = Field(
        (0.1, 0.25), description="Score PSI (late, default probability): watch, retrain."
    )
    auc_drop: tuple[float, float] = Field(
        (0.03, 0.07),
        description="Realised ROC AUC below the holdout's by this much (and beyond noise): "
        "watch, retrain.",
    )
    log_loss_rise: tuple[float, float] = Field(
        (0.03, 0.08), description="Realised log loss above the holdout's: watch, retrain."
    )
    calibration_gap: tuple[float, float] = Field(
        (0.05, 0.1),
        description="Observed rate minus mean predicted probability, in absolute value: watch, "
        "retrain.",
    )
    coverage_gap: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="Payment-date intervals covering this much more or less than claimed: watch.",
    )
    not_judged: tuple[str, ...] = Field(
        (
            "issue_month",
            "days_since_first_invoice",
            "customer_tenure_days",
            "invoices_issued",
            "settled_invoices",
            "reminders_received",
            "hard_reminders_received",
        ),
        description="Features that move with time by construction, following the calendar (a "
        "quarter never holds every month) or growing with the ledger's age (counts since the "
        "customer's first invoice): their PSI is shown, never judged.",
    )
    experiment: str = Field(
        "payrisk-monitoring", min_length=1, description="MLflow experiment of the monitoring runs."
    )

    @field_validator("feature_psi", "score_psi", "auc_drop", "log_loss_rise", "calibration_gap")
    @classmethod
    def _watch_below_retrain(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] < value[1]:
            raise ValueError("give [watch, retrain], both positive and watch below retrain")
        return value


class TrainConfig(StrictModel):
    seed: int = 42
    targets: TargetSettings = TargetSettings()
    features: FeatureSettings = FeatureSettings()
    snapshots: SnapshotSettings = SnapshotSettings()
    models: ModelSettings = ModelSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    registry: RegistrySettings = RegistrySettings()
    compute: ComputeSettings = ComputeSettings()
    effects: EffectSettings = EffectSettings()
    monitoring: MonitoringSettings = MonitoringSettings()

    @model_validator(mode="after")
    def _gate_metric_known(self) -> TrainConfig:
        known = {"late_roc_auc", "late_pr_auc", "default_roc_auc", "default_pr_auc"}
        if self.registry.gate_metric not in known:
            raise ValueError(f"registry.gate_metric must be one of {sorted(known)}")
        if self.models.payment_horizon_days <= self.targets.default_after_days:
            raise ValueError("models.payment_horizon_days must exceed targets.default_after_days")
        return self


def load_train_config(path: str | Path | None = None) -> TrainConfig:
    return load_config(path or default_config("train.yaml"), TrainConfig)
