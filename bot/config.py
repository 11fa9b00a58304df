"""All configuration, from environment variables (prefix SIGNPOST_), with safe defaults."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNPOST_", extra="ignore")

    kb_dir: str | None = Field(
        default=None, description="Folder with intents/ and content/ (default: built-in)."
    )
    max_body_bytes: int = Field(default=16 * 1024, description="Larger request bodies get 413.")
    log_format: str = Field(default="text", description="'text' or 'json' access logs.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
