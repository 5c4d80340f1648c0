"""Configuration, read once from the environment (API.md, "Operations")."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./var/gpo.sqlite3"
# IGN Géoplateforme, "Plan IGN v2" (WMTS, Web Mercator): the French State's own base map.
DEFAULT_MAP_TILES_URL = (
    "https://data.geopf.fr/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER=GEOGRAPHICALGRIDSYSTEMS.PLANIGNV2&STYLE=normal&TILEMATRIXSET=PM"
    "&FORMAT=image/png&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}"
)
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-change-me"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    gpo_env: Literal["development", "production"] = "development"
    gpo_secret_key: SecretStr = SecretStr(DEVELOPMENT_SECRET_KEY)
    gpo_bootstrap_admin_token: SecretStr | None = None
    gpo_demo_data: bool | None = None
    # Connections per worker; the pool never overflows (no connect/close churn under bursts).
    gpo_db_pool_size: int = Field(default=10, ge=1, le=200)
    # Requests per token per minute, per worker process (see README, "Rate limits").
    gpo_rate_limit_per_minute: int = Field(default=1200, ge=1)
    gpo_max_body_bytes: int = 1024 * 1024
    gpo_log_level: str = "INFO"
    # Map tiles of the console (a Leaflet URL template); empty: markers on a plain ground.
    gpo_map_tiles_url: str = DEFAULT_MAP_TILES_URL
    # Where people reach the service (invitation links); by default the request's own URL.
    gpo_public_url: str | None = None

    @model_validator(mode="after")
    def _refuse_default_secret_outside_development(self) -> Settings:
        secret = self.gpo_secret_key.get_secret_value()
        if self.gpo_env != "development" and (secret == DEVELOPMENT_SECRET_KEY or len(secret) < 32):
            raise ValueError(
                "GPO_SECRET_KEY must be set to a random value of at least 32 characters "
                "outside development (GPO_ENV=production)"
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
    def demo_data_enabled(self) -> bool:
        """Demo data by default only for the embedded database a first-time user starts."""
        if self.gpo_demo_data is not None:
            return self.gpo_demo_data
        return self.is_default_database


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
