"""Every environment variable payrisk reads, in one typed object read once at an entry point.

The CLI and the BentoML service call `load_settings()` when they start and pass the object (or what
it names) down; no other module reads the environment. A bad value stops the start with the
variable's name and the reason, never with a traceback at the first request.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from payrisk.core.config import ConfigError

ENV_PREFIX = "PAYRISK_"
DEFAULT_MAX_BATCH = 1000
MIN_BODY_BYTES = 1 << 20  # room for the largest single-invoice requests and their headers
DEFAULT_MAX_CONCURRENCY = 32
DEFAULT_BODY_TIMEOUT_S = 10.0


class Settings(BaseSettings):
    """The process environment, typed. Empty variables count as unset."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="ignore", frozen=True,
        validate_by_name=True,
    )  # fmt: skip

    models_dir: Path = Field(
        default_factory=lambda: Path.cwd() / "models",
        description="Local copies of registered scorers, the snapshot and the portfolio bundle.",
    )
    model_uri: str | None = Field(None, description="Serve this MLflow model, not the champion.")
    snapshot: Path | None = Field(
        None, description="The service's snapshot file (default MODELS_DIR/snapshot/...)."
    )
    train_config: Path | None = Field(
        None, description="configs/train.yaml to use (its registry.model_name picks the model)."
    )
    dunning_config: Path | None = Field(None, description="configs/dunning.yaml to use.")
    max_batch: int = Field(DEFAULT_MAX_BATCH, ge=1, le=100_000, description="Invoices/request.")
    max_body_bytes: int | None = Field(
        None, ge=1024, description="Request body limit (default: 1 MiB or 1 KiB per invoice)."
    )
    api_keys: SecretStr | None = Field(None, description="Comma-separated API keys.")
    api_keys_file: Path | None = Field(None, description="A file of API keys, one per line.")
    auth: Literal["enabled", "disabled"] = Field(
        "enabled", description="disabled: no API key (behind an authenticating proxy only)."
    )
    snapshot_max_age_days: int = Field(
        7, ge=0, le=3650, description="Answers on a snapshot older than this are flagged stale."
    )
    auth_max_failures: int = Field(
        30, ge=0, description="Wrong keys per address per minute before 429 (0: no limit)."
    )
    trusted_proxies: str | None = Field(
        None,
        description="Comma-separated addresses or networks (CIDR) of the reverse proxies whose "
        "X-Forwarded-For / X-Forwarded-Proto are believed; none by default.",
    )
    max_concurrency: int = Field(
        DEFAULT_MAX_CONCURRENCY,
        ge=1,
        le=10_000,
        description="Requests in progress per worker; more get 429 with Retry-After.",
    )
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Server worker processes (one Python interpreter each); README "
        "'Benchmarks' measures 1 and 2 on 2 cores.",
    )
    body_timeout_s: float = Field(
        DEFAULT_BODY_TIMEOUT_S,
        ge=0.5,
        le=600,
        description="Seconds a client has to send a whole request body (else 408).",
    )
    database_url: SecretStr | None = Field(
        None,
        description="The credit desk's record (decisions, limits, notes): an SQLAlchemy URL, "
        "e.g. postgresql+psycopg://user:password@host/payrisk; default: SQLite payrisk.db beside "
        "MODELS_DIR. Never logged (it may hold a password).",
    )
    timezone: str = Field(
        "Europe/Paris",
        description="The service's time zone (IANA name): a request without `as_of` is "
        "answered as of today there.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Least severe log lines the commands write (stderr)."
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="Command log lines as text or one JSON object each (--log-format)."
    )
    tracking_uri: str | None = Field(
        None, validation_alias="MLFLOW_TRACKING_URI", description="MLflow tracking server."
    )
    dask_scheduler_address: str | None = Field(
        None, validation_alias="DASK_SCHEDULER_ADDRESS", description="Where a Dask cluster is."
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        """A known IANA zone: a typo must not shift every answer's day silently."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a known time zone (an IANA name, e.g. Europe/Paris)"
            ) from None
        return value

    def today(self) -> date:
        """Today's date in the service's time zone (the default `as_of` of its answers)."""
        return datetime.now(ZoneInfo(self.timezone)).date()

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str | None) -> str | None:
        """Every entry must be an IP address or network: a typo must not trust nobody silently
        (or everybody)."""
        if value is None:
            return None
        entries = [entry.strip() for entry in value.split(",") if entry.strip()]
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"
                ) from None
        return ",".join(entries) or None

    @property
    def forwarded_allow_ips(self) -> str:
        """uvicorn's FORWARDED_ALLOW_IPS: the trusted proxies, or "" (trust no forwarded header)."""
        return self.trusted_proxies or ""

    @property
    def body_limit(self) -> int:
        return self.max_body_bytes or max(MIN_BODY_BYTES, self.max_batch * 1024)

    @classmethod
    def variable(cls, field: str) -> str:
        """The environment variable behind a field."""
        alias = cls.model_fields[field].validation_alias
        return alias if isinstance(alias, str) else ENV_PREFIX + field.upper()


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from `environ` (default: the process environment); ConfigError names the variable.

    With a mapping, only that mapping is read: every field is given explicitly, so nothing leaks in
    from the process environment (tests, and subprocesses started with a chosen environment).
    """
    try:
        if environ is None:
            return Settings()
        values = {}
        for name, field in Settings.model_fields.items():
            raw = environ.get(Settings.variable(name), "").strip()
            values[name] = raw if raw else field.get_default(call_default_factory=True)
        return Settings(**values)
    except ValidationError as error:
        problems = [
            f"  - {_variable_of(item['loc'])}: {item['msg']}"
            for item in error.errors(include_input=False)
        ]
        raise ConfigError("environment: invalid value(s)\n" + "\n".join(problems)) from None


def _variable_of(location: tuple) -> str:
    name = str(location[0]) if location else "?"
    return Settings.variable(name) if name in Settings.model_fields else name


def environment_for(settings: Settings) -> dict[str, str]:
    """The variables that give `settings` to a child process (e.g. the BentoML server)."""
    out: dict[str, str] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        out[Settings.variable(name)] = str(value)
    return out
