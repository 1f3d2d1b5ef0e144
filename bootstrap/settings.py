"""Configuration: the one place that reads ``POVREG_*`` environment variables.

:class:`Settings` is a pydantic-settings model. ``Settings.from_env()`` reads the
environment (``POVREG_<FIELD>``), ``Settings(database_url=…)`` takes only what it
is given (tests and tools build theirs without the environment leaking in). Both
validate every value when they are built: a bad URL, key, time zone, topic or
Kafka security setting raises :class:`ConfigError` naming the variable, and the
commands stop on it with exit code 2 before anything is opened.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./povreg.db"
#: ``POVREG_CIPHER_KEY=none``: the explicit opt-out of encryption at rest.
PLAINTEXT = "none"
ENV_PREFIX = "POVREG_"
#: Kafka's own rule for topic names.
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class ConfigError(ValueError):
    pass


def variable(field: str) -> str:
    """The environment variable of a settings field."""
    return ENV_PREFIX + field.upper()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="forbid")

    database_url: str = DEFAULT_DATABASE_URL
    #: base64 AES key (16, 24 or 32 bytes): encrypts every stored event and the personal data of
    #: the read models at rest. Unset: a key kept in ``cipher_key_file``, made on first use
    #: (:mod:`bootstrap.keys`); ``none``: plaintext, by explicit choice.
    cipher_key: str | None = Field(default=None, repr=False)
    #: where the key is kept when ``cipher_key`` is unset (default: beside the SQLite store,
    #: ``<store>.key``; for PostgreSQL, under ``~/.local/share/povreg/keys/``).
    cipher_key_file: str | None = None
    kafka_bootstrap: str | None = None
    kafka_topic: str = "household-events"
    #: the opt-in topic that carries full personal data (the household topic carries it masked).
    kafka_pii_topic: str | None = None
    #: how the Kafka clients reach the brokers (TLS and/or SASL); PLAINTEXT on a trusted network only.
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = Field(default=None, repr=False)
    #: the CA bundle that signs the brokers' certificates (default: the system's).
    kafka_ssl_cafile: str | None = None
    #: the key of ``person_ref`` (a keyed hash of the ID number on the household topic); default:
    #: derived from the cipher key, or a random key kept in the store.
    person_ref_key: str | None = Field(default=None, repr=False)
    #: the registry's local time zone: "today" for effective dates is taken here.
    timezone: str = "Asia/Shanghai"
    #: run the read models in-process after each write (the embedded mode).
    inline_projections: bool = True
    #: concurrent single commands (HTTP writes) share transactions (service/groupcommit.py).
    group_commit: bool = True
    #: how long the group committer waits for more commands once one is waiting (milliseconds).
    group_commit_wait_ms: float = Field(default=1.0, ge=0, le=1000)
    #: request bodies longer than this many bytes are refused (413) before they are read.
    max_body_bytes: int = Field(default=1 << 20, gt=0)
    #: PostgreSQL: the most connections each of a process's pools opens (the event store's, the
    #: read models' or a consumer's); each opens one at first (persistence/db.py counts them).
    db_pool_size: int = Field(default=4, ge=1, le=100)
    #: the eventsourcing library's settings to override (tests, tools); never read from the environment.
    extra_env: dict[str, str] = Field(default_factory=dict, exclude=True)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise ConfigError(_explain(exc)) from None

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Built by hand, settings are exactly what they are given; the environment is from_env's.
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of the environment (``os.environ`` unless given); raises :class:`ConfigError`."""
        if environ is None:
            return cls(**EnvSettingsSource(cls)())  # pydantic-settings' reading of os.environ
        names = {variable(name): name for name in cls.model_fields if name != "extra_env"}
        return cls(**{name: environ[var] for var, name in names.items() if environ.get(var)})

    # ------------------------------------------------------------ validation

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        url = urlparse(value)
        if url.scheme == "sqlite":
            if not value.startswith("sqlite:///"):
                raise ValueError("a SQLite URL is sqlite:///PATH (three slashes), e.g. sqlite:///./povreg.db")
            return value
        if url.scheme not in ("postgresql", "postgres"):
            raise ValueError(f"must start with sqlite:/// or postgresql://, not {_redact(value)!r}")
        try:
            url.port  # noqa: B018 - raises on a port that is not a number
            _postgres_conninfo(_postgres_params(value))
        except Exception as exc:
            raise ValueError(f"not a PostgreSQL URL that libpq accepts ({_redact(value)!r}): {exc}") from None
        return value

    @field_validator("cipher_key", "person_ref_key")
    @classmethod
    def _key(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.field_name == "cipher_key" and value.lower() == PLAINTEXT:
            return PLAINTEXT
        try:
            size = len(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            raise ValueError("not base64 (make one with: python -c \"import base64, os; "
                             "print(base64.b64encode(os.urandom(32)).decode())\")") from None
        if size not in (16, 24, 32):
            raise ValueError(f"the key is {size} bytes; an AES key is 16, 24 or 32 bytes (base64)")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name, e.g. Asia/Shanghai)") from None
        return value

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{server.strip()!r} is not HOST:PORT (several are separated by commas)")
        return value

    @field_validator("kafka_topic", "kafka_pii_topic")
    @classmethod
    def _topic(cls, value: str | None) -> str | None:
        if value is not None and (not _TOPIC.fullmatch(value) or value in (".", "..")):
            raise ValueError(f"{value!r} is not a Kafka topic name (letters, digits, '.', '_', '-'; ≤ 249)")
        return value

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("kafka_ssl_cafile")
    @classmethod
    def _cafile(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _kafka_security(self) -> Settings:
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if sasl and self.kafka_sasl_mechanism is None:
            raise _field_error("kafka_sasl_mechanism", f"{variable('kafka_security_protocol')}="
                               f"{self.kafka_security_protocol} needs one (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)")
        if self.kafka_sasl_mechanism is not None and not sasl:
            raise _field_error("kafka_security_protocol", "a SASL mechanism is set: use SASL_SSL (or SASL_PLAINTEXT "
                               "on a trusted network)")
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password):
            missing = "kafka_sasl_username" if not self.kafka_sasl_username else "kafka_sasl_password"
            raise _field_error(missing, f"required with {variable('kafka_security_protocol')}="
                                        f"{self.kafka_security_protocol}")
        if self.kafka_pii_topic is not None and self.kafka_pii_topic == self.kafka_topic:
            raise _field_error("kafka_pii_topic", "must differ from POVREG_KAFKA_TOPIC (that topic is masked)")
        return self

    # ------------------------------------------------------------- derived

    @property
    def encrypted(self) -> bool:
        """Whether a key is set (resolved: :func:`bootstrap.keys.resolve_key`) and not ``none``."""
        return bool(self.cipher_key) and self.cipher_key != PLAINTEXT

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def backend(self) -> str:
        return "sqlite" if self.database_url.startswith("sqlite:") else "postgres"

    @property
    def sqlite_path(self) -> str:
        path = self.database_url.removeprefix("sqlite:///")
        return path or "./povreg.db"

    def postgres_params(self) -> dict[str, str]:
        return _postgres_params(self.database_url)

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's settings for this configuration.

        The library constructs its infrastructure from them: the persistence module's
        factory (``persistence.sqlite`` or ``persistence.postgres``: the library's own, with
        the registry's recorder) and the mapper (``MAPPER_TOPIC``)."""
        env: dict[str, str] = {"ORIGINATOR_ID_TYPE": "text", "MAPPER_TOPIC": "persistence.mapper:JsonDataMapper"}
        if self.backend == "sqlite":
            env.update(PERSISTENCE_MODULE="persistence.sqlite", SQLITE_DBNAME=self.sqlite_path)
            env["SQLITE_LOCK_TIMEOUT"] = "30"
        else:
            p = self.postgres_params()
            env.update(
                PERSISTENCE_MODULE="persistence.postgres",
                POSTGRES_DBNAME=p["dbname"],
                POSTGRES_HOST=p["host"],
                POSTGRES_PORT=p["port"],
                POSTGRES_USER=p["user"],
                POSTGRES_PASSWORD=p["password"],
                # one connection at first, up to db_pool_size under concurrent use
                POSTGRES_POOL_SIZE="1",
                POSTGRES_MAX_OVERFLOW=str(self.db_pool_size - 1),
                POSTGRES_LOCK_TIMEOUT="30",
            )
            if "schema" in p:
                env["POSTGRES_SCHEMA"] = p["schema"]
        if self.cipher_key and self.cipher_key != PLAINTEXT:
            # The library's AES-GCM on the cryptography package: the same bytes as its pycryptodome
            # one (nonce, tag, ciphertext), at a small fraction of the cost per event.
            env.update(CIPHER_TOPIC="eventsourcing.cryptography:AESCipher", CIPHER_KEY=self.cipher_key)
        env.update(self.extra_env)
        return env

    def postgres_conninfo(self) -> str:
        """A libpq connection string (quoted by psycopg: a password with spaces or quotes is safe)."""
        return _postgres_conninfo(self.postgres_params())


#: the URL's query parameters that are ours, not libpq's
_OWN_PARAMS = frozenset({"schema"})


def _postgres_params(database_url: str) -> dict[str, str]:
    url = urlparse(database_url)
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    params = {
        "dbname": unquote((url.path or "/").lstrip("/")) or "postgres",
        "host": url.hostname or "127.0.0.1",
        "port": str(url.port or 5432),
        "user": unquote(url.username or "postgres"),
        "password": unquote(url.password or ""),
    }
    params.update(query)  # schema, and libpq's own (sslmode, connect_timeout, …)
    return params


def _postgres_conninfo(params: dict[str, str]) -> str:
    libpq = {key: value for key, value in params.items() if key not in _OWN_PARAMS and value != ""}
    conninfo = make_conninfo("", **libpq)
    conninfo_to_dict(conninfo)  # libpq refuses unknown keywords here rather than at the first connection
    return conninfo


def _redact(url: str) -> str:
    """``url`` without its password (error messages end up in logs)."""
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    return url.replace(f":{parsed.password}@", ":***@", 1)


def _field_error(field: str, message: str) -> ValueError:
    return ValueError(f"{variable(field)}: {message}")


def _explain(exc: ValidationError) -> str:
    """One line per refused value, each naming its environment variable."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        loc = [str(part) for part in error["loc"] if isinstance(part, str)]
        if loc and loc[0] in Settings.model_fields:
            lines.append(f"{variable(loc[0])}: {message}")
        elif message.startswith(ENV_PREFIX):  # a rule across fields names its variable itself
            lines.append(message)
        else:
            lines.append(f"{'.'.join(loc) or 'settings'}: {message}")
    return "; ".join(lines)

