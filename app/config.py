"""Configuration, read once from the environment (API.md, "Operations")."""

from __future__ import annotations

import re
import sys
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from app.mail.transport import SmtpServer

DEFAULT_DATABASE_URL = "sqlite:///./var/gpo.sqlite3"
# IGN Géoplateforme, "Plan IGN v2" (WMTS, Web Mercator): the French State's own base map.
DEFAULT_MAP_TILES_URL = (
    "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&TILEMATRIXSET=PM"
    "&FORMAT=image/png&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
)
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-change-me"  # noqa: S105 - refused outside development
MIN_SECRET_LENGTH = 32


class SettingError(ValueError):
    """A setting that cannot be used, named by its environment variable."""

    def __init__(self, variable: str, reason: str) -> None:
        super().__init__(f"{variable}: {reason}")
        self.variable = variable


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    gpo_env: Literal["development", "production"] = "development"
    gpo_secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET_KEY)
    gpo_bootstrap_admin_token: SecretStr | None = None
    # Demonstration data only when asked for (`./scripts/run` asks; a deployment never does
    # by default: the demo prints live admin tokens).
    gpo_demo_data: bool = False
    # Years the free text of a closed problem is kept after it closed (API.md, "Information
    # governance"): `app.governance.retention` erases it; the processing register states it.
    retention_years: int = Field(
        default=5,
        ge=1,
        le=100,
        validation_alias=AliasChoices("gpo_retention_years", "retention_years"),
    )
    # Connections per worker; the pool never overflows (no connect/close churn under bursts).
    gpo_db_pool_size: int = Field(default=10, ge=1, le=200)
    # Seconds before a database that does not answer gives 503 (API.md, "Operations"): to
    # connect, to wait for a pooled connection, for one statement; SQLite's writers wait
    # this long for the file's write lock.
    gpo_db_connect_timeout: float = Field(default=2, gt=0, le=60)
    gpo_db_pool_timeout: float = Field(default=2, gt=0, le=60)
    gpo_db_statement_timeout: float = Field(default=5, gt=0, le=600)
    gpo_sqlite_lock_timeout: float = Field(default=5, gt=0, le=600)
    # Requests per token per minute, per worker process (see README, "Rate limits").
    gpo_rate_limit_per_minute: int = Field(default=1200, ge=1)
    # Failed token authentications per address per minute, then 429 until the minute ends.
    gpo_auth_failures_per_minute: int = Field(default=30, ge=1)
    # Requests per address per minute on the routes anyone may call (Open311 discovery...).
    gpo_anonymous_rate_per_minute: int = Field(default=300, ge=1)
    gpo_max_body_bytes: int = 1024 * 1024
    gpo_log_level: str = "INFO"
    # Map tiles of the console (a Leaflet URL template); empty: markers on a plain ground.
    gpo_map_tiles_url: str = DEFAULT_MAP_TILES_URL
    # Where people and systems reach the service (invitation links, Open311 discovery); never
    # taken from a request's Host header, which any client may set.
    gpo_public_url: str | None = None
    # Who may read GET /metrics: addresses, networks and bearer tokens, comma-separated
    # (app/core/metrics.py). Empty: nobody.
    gpo_metrics_allow: str = ""
    # The outbox worker inside the web process (webhook deliveries): by default only for
    # the embedded SQLite database; a PostgreSQL deployment runs `python -m app.worker`.
    gpo_worker: bool | None = None
    # E-mail (app/mail): the SMTP server, `smtp://user:pass@host:587` (STARTTLS) or
    # `smtps://host:465`; unset, mails are written to the log (and still kept in the outbox).
    gpo_smtp_url: SecretStr | None = None
    gpo_mail_from: str = "GPO <no-reply@localhost>"
    # The data controller and its DPO, as the processing register names them (art. 30 GDPR);
    # unset, the register says which setting to fill in.
    gpo_controller_name: str | None = Field(default=None, max_length=300)
    gpo_dpo_contact: str | None = Field(default=None, max_length=300)
    # The GPO information-sharing charter a person accepts before its first read
    # (`app.identity.charter`): a Markdown or text file (default: the one shipped in
    # app/identity/charter.md) and its version (default: derived from the text, so that
    # any change of the text asks everyone again).
    gpo_charter_file: Path | None = None
    gpo_charter_version: str | None = Field(default=None, min_length=1, max_length=64)
    # The same gate for API tokens: off by default, so that existing systems keep working.
    gpo_charter_for_tokens: bool = False

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        to_async_url(value)  # refused at start-up, not at the first request
        return value

    @field_validator("gpo_charter_file")
    @classmethod
    def _readable_charter(cls, value: Path | None) -> Path | None:
        # Refused at start-up, not at a person's first page.
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _refuse_weak_secrets_outside_development(self) -> Settings:
        if self.gpo_env == "development":
            return self
        secret = self.gpo_secret_key.get_secret_value()
        if secret == DEVELOPMENT_SECRET_KEY or len(secret) < MIN_SECRET_LENGTH:
            raise SettingError(
                "GPO_SECRET_KEY",
                f"set it to a random value of at least {MIN_SECRET_LENGTH} characters "
                "in production (python -c 'import secrets; print(secrets.token_urlsafe(32))')",
            )
        token = self.gpo_bootstrap_admin_token
        if token is not None and len(token.get_secret_value()) < MIN_SECRET_LENGTH:
            raise SettingError(
                "GPO_BOOTSTRAP_ADMIN_TOKEN",
                f"an admin token that never expires needs at least {MIN_SECRET_LENGTH} random "
                "characters in production",
            )
        return self

    @property
    def map_tiles_origin(self) -> str | None:
        """The tile server's origin, the one other host a console page may load from."""
        scheme, sep, rest = self.gpo_map_tiles_url.partition("://")
        if not sep or scheme not in ("http", "https"):
            return None
        return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}"

    @property
    def public_url(self) -> str:
        """The service's public base URL, without a trailing slash."""
        return (self.gpo_public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @field_validator("gpo_metrics_allow")
    @classmethod
    def _metrics_access(cls, value: str) -> str:
        from app.core.metrics import MetricsAccess

        MetricsAccess.parse(value)  # refused at start-up, naming the entry
        return value

    @field_validator("gpo_public_url")
    @classmethod
    def _absolute_url(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", value):
            raise ValueError("must be an absolute http(s) URL, such as https://gpo.example.fr")
        return value

    @field_validator("gpo_smtp_url")
    @classmethod
    def _smtp_server(cls, value: SecretStr | None) -> SecretStr | None:
        from app.mail.transport import parse_smtp_url

        if value is not None and value.get_secret_value().strip() == "":
            return None
        if value is not None:
            parse_smtp_url(value.get_secret_value())  # refused at start-up, never echoed
        return value

    @field_validator("gpo_mail_from")
    @classmethod
    def _mail_from(cls, value: str) -> str:
        from app.mail.transport import check_address

        return check_address(value)

    @property
    def smtp_server(self) -> SmtpServer | None:
        """The SMTP server to send to; None: mails go to the log."""
        if self.gpo_smtp_url is None:
            return None
        from app.mail.transport import parse_smtp_url

        return parse_smtp_url(self.gpo_smtp_url.get_secret_value())

    @property
    def is_production(self) -> bool:
        return self.gpo_env == "production"

    @cached_property
    def async_database_url(self) -> str:
        """The URL with the async driver this service uses for each database."""
        return to_async_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.async_database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        """The database file, for an embedded database (its folder is created on start)."""
        if not self.is_sqlite:
            return None
        path = self.database_url.partition("://")[2][1:].split("?", 1)[0]
        return None if path in ("", ":memory:") or path.startswith("file:") else Path(path)

    @property
    def is_default_database(self) -> bool:
        return self.database_url == DEFAULT_DATABASE_URL

    @property
    def worker_in_process(self) -> bool:
        return self.is_sqlite if self.gpo_worker is None else self.gpo_worker

    @property
    def demo_data_enabled(self) -> bool:
        return self.gpo_demo_data


def to_async_url(url: str) -> str:
    """Accept plain `sqlite:///path` and `postgresql://...` URLs and pick the driver."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"DATABASE_URL is not a URL: {url!r}")
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if base in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    raise ValueError(f"DATABASE_URL must be sqlite:/// or postgresql://, not {scheme}://")


def load_settings() -> Settings:
    """The settings from the environment; a bad value stops the process with one line naming
    its variable (exit status 2), not a traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            reason = str(error["msg"]).removeprefix("Value error, ")
            if error.get("loc"):
                variable = "_".join(str(part) for part in error["loc"]).upper()
                reason = reason.removeprefix(f"{variable} ")
                lines.append(f"{variable}: {reason}")
            else:
                lines.append(reason)  # a SettingError's message starts with its variable
        message = "; ".join(lines)
    except ValueError as exc:
        message = str(exc)
    print(f"gpo: invalid configuration: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)
