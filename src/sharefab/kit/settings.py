"""One `Settings` object, read from the environment (prefix `SHAREFAB_`)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///var/sharefab.db"


class Settings(BaseSettings):
    """Platform settings; every field can be set as `SHAREFAB_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="SHAREFAB_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: a SQLite file by default, or postgresql+psycopg://...",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    max_page_size: int = 500
    default_page_size: int = 50
    currency: str = "CNY"
    sql_echo: bool = False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests clear the cache after changing the env)."""
    return Settings()
