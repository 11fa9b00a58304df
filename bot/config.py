"""All configuration, from environment variables (prefix SIGNPOST_), with safe defaults.

Every setting is listed, with its default, in docs/OPERATIONS.md ("Configuration and
operations"); tests/test_hardening.py checks that the two stay in step.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.replace(";", ",").split(",") if part.strip())


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIGNPOST_", extra="ignore")

    kb_dir: str | None = Field(
        default=None, description="Folder with intents/ and content/ (default: built-in)."
    )
    max_body_bytes: int = Field(
        default=16 * 1024, ge=1024, description="Larger request bodies get 413."
    )

    # -- logging -------------------------------------------------------------------------
    log_format: Literal["text", "json"] = Field(
        default="text", description="'text' or 'json' (one JSON object per line) logs."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Lowest level written to the log."
    )

    # -- rate limiting ---------------------------------------------------------------------
    rate_limit_enabled: bool = Field(
        default=True, description="Limit /api/ requests per client; off only for benchmarks."
    )
    rate_limit_per_minute: float = Field(
        default=30, gt=0, description="Sustained /api/ requests per minute per client."
    )
    rate_limit_burst: int = Field(
        default=10, ge=1, description="Requests a client may send at once before the rate applies."
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://host:port/db: share rate limits across replicas (default: in memory).",
    )
    redis_timeout: float = Field(
        default=0.25, gt=0, description="Seconds to wait for Redis before failing open."
    )
    trusted_proxy_header: str | None = Field(
        default=None,
        description="Header holding the client IP set by YOUR proxy (e.g. X-Forwarded-For).",
    )
    trusted_proxy_hops: int = Field(
        default=1,
        ge=1,
        description="With X-Forwarded-For: how many trusted proxies append to it (from the right).",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated IPs/CIDRs allowed to set the header (empty: any peer).",
    )

    # -- browser-facing --------------------------------------------------------------------
    cors_origins: str = Field(
        default="",
        description="Comma-separated origins allowed to call the API from a browser (none).",
    )

    # -- safety ----------------------------------------------------------------------------
    triage_model: bool = Field(
        default=True,
        description="Ask the learned safety check when no safety rule fired (docs/OPERATIONS.md).",
    )

    # -- operations ------------------------------------------------------------------------
    metrics_enabled: bool = Field(default=True, description="Serve Prometheus metrics.")
    metrics_port: int = Field(
        default=9464, ge=0, le=65535, description="Port for /metrics (0: no separate port)."
    )
    metrics_public: bool = Field(
        default=False, description="Also serve /metrics on the public port (per-intent counts)."
    )
    allowed_hosts: str = Field(
        default="",
        description="Comma-separated Host names to answer (e.g. chat.example.org); empty: any.",
    )

    # -- slow and abandoned clients (per worker) ---------------------------------------------
    header_timeout: float = Field(
        default=10, gt=0, description="Seconds a client has to send a request's headers."
    )
    body_timeout: float = Field(
        default=10, gt=0, description="Seconds a client has to send a request's body (else 408)."
    )
    keep_alive_timeout: int = Field(
        default=5, ge=1, description="Seconds an idle keep-alive connection stays open."
    )
    max_connections: int = Field(
        default=2048,
        ge=16,
        description="Open connections per worker before new requests get 503 (uvicorn's cap).",
    )
    shutdown_timeout: int = Field(
        default=20, ge=1, description="Seconds to finish requests in flight after SIGTERM."
    )

    @field_validator("kb_dir", "redis_url", "trusted_proxy_header", mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("log_format", "log_level", mode="before")
    @classmethod
    def _lower(cls, v: object) -> object:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("trusted_proxies")
    @classmethod
    def _networks_parse(cls, v: str) -> str:
        for part in _split(v):
            ipaddress.ip_network(part, strict=False)  # ValueError names the bad entry
        return v

    @field_validator("cors_origins")
    @classmethod
    def _origins_parse(cls, v: str) -> str:
        for origin in (o.rstrip("/") for o in _split(v)):
            if origin == "*":
                raise ValueError("'*' is not allowed: list the embedding sites' origins")
            if not origin.startswith(("https://", "http://")) or origin.count("/") != 2:
                raise ValueError(f"{origin!r} is not an origin like https://www.example.org")
        return v

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts_parse(cls, v: str) -> str:
        for host in _split(v):
            if "/" in host or host == "*":  # "*" would switch the check off: leave it empty
                raise ValueError(f"{host!r} is not a host name like chat.example.org")
        return v

    @property
    def allowed_host_list(self) -> tuple[str, ...]:
        return _split(self.allowed_hosts)

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return tuple(o.rstrip("/") for o in _split(self.cors_origins))

    @property
    def trusted_proxy_networks(
        self,
    ) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(p, strict=False) for p in _split(self.trusted_proxies))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
