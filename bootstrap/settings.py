"""Configuration: the one place that reads ``POVREG_*`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlparse
from zoneinfo import ZoneInfo

DEFAULT_DATABASE_URL = "sqlite:///./povreg.db"


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    #: base64 AES key (16, 24 or 32 bytes): encrypts every stored event at rest.
    cipher_key: str | None = None
    kafka_bootstrap: str | None = None
    kafka_topic: str = "household-events"
    #: the registry's local time zone: "today" for effective dates is taken here.
    timezone: str = "Asia/Shanghai"
    #: run the read models in-process after each write (the embedded mode).
    inline_projections: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            database_url=env.get("POVREG_DATABASE_URL") or DEFAULT_DATABASE_URL,
            cipher_key=env.get("POVREG_CIPHER_KEY") or None,
            kafka_bootstrap=env.get("POVREG_KAFKA_BOOTSTRAP") or None,
            kafka_topic=env.get("POVREG_KAFKA_TOPIC") or "household-events",
            timezone=env.get("POVREG_TIMEZONE") or "Asia/Shanghai",
            inline_projections=(env.get("POVREG_INLINE_PROJECTIONS", "true").lower() not in ("0", "false", "no")),
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def backend(self) -> str:
        scheme = urlparse(self.database_url).scheme
        if scheme == "sqlite":
            return "sqlite"
        if scheme in ("postgresql", "postgres"):
            return "postgres"
        raise ConfigError(
            f"POVREG_DATABASE_URL must start with sqlite:/// or postgresql://, not {self.database_url!r}"
        )

    @property
    def sqlite_path(self) -> str:
        path = self.database_url.removeprefix("sqlite:///")
        return path or "./povreg.db"

    def postgres_params(self) -> dict[str, str]:
        url = urlparse(self.database_url)
        query = parse_qs(url.query)
        params = {
            "dbname": (url.path or "/").lstrip("/") or "postgres",
            "host": url.hostname or "127.0.0.1",
            "port": str(url.port or 5432),
            "user": unquote(url.username or "postgres"),
            "password": unquote(url.password or ""),
        }
        if "schema" in query:
            params["schema"] = query["schema"][0]
        return params

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's settings for this configuration."""
        env: dict[str, str] = {"ORIGINATOR_ID_TYPE": "text"}
        if self.backend == "sqlite":
            env.update(PERSISTENCE_MODULE="eventsourcing.sqlite", SQLITE_DBNAME=self.sqlite_path)
            env["SQLITE_LOCK_TIMEOUT"] = "30"
        else:
            p = self.postgres_params()
            env.update(
                PERSISTENCE_MODULE="eventsourcing.postgres",
                POSTGRES_DBNAME=p["dbname"],
                POSTGRES_HOST=p["host"],
                POSTGRES_PORT=p["port"],
                POSTGRES_USER=p["user"],
                POSTGRES_PASSWORD=p["password"],
                POSTGRES_POOL_SIZE="5",
                POSTGRES_MAX_OVERFLOW="10",
                POSTGRES_LOCK_TIMEOUT="30",
            )
            if "schema" in p:
                env["POSTGRES_SCHEMA"] = p["schema"]
        if self.cipher_key:
            env.update(CIPHER_TOPIC="eventsourcing.cipher:AESCipher", CIPHER_KEY=self.cipher_key)
        env.update(self.extra_env)
        return env

    def postgres_conninfo(self) -> str:
        p = self.postgres_params()
        parts = [f"dbname={p['dbname']}", f"host={p['host']}", f"port={p['port']}", f"user={p['user']}"]
        if p["password"]:
            parts.append(f"password={p['password']}")
        return " ".join(parts)
