"""Configuration: every POVREG_* variable validated when settings are built; the CLI stops on a bad one."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from bootstrap.settings import ConfigError, Settings
from tests.support import PG_DB, PG_HOST, PG_PORT, PG_USER, postgres_schema

KEY = base64.b64encode(b"k" * 32).decode()


def test_from_env_reads_every_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cafile = tmp_path / "ca.pem"
    cafile.write_text("-----BEGIN CERTIFICATE-----\n")
    env = {
        "POVREG_DATABASE_URL": "postgresql://u:p@db:5433/reg?schema=s1",
        "POVREG_CIPHER_KEY": KEY,
        "POVREG_KAFKA_BOOTSTRAP": "k1:9092,k2:9092",
        "POVREG_KAFKA_TOPIC": "hh",
        "POVREG_KAFKA_PII_TOPIC": "hh.pii",
        "POVREG_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
        "POVREG_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "POVREG_KAFKA_SASL_USERNAME": "relay",
        "POVREG_KAFKA_SASL_PASSWORD": "s3cret",
        "POVREG_KAFKA_SSL_CAFILE": str(cafile),
        "POVREG_TIMEZONE": "Asia/Urumqi",
        "POVREG_INLINE_PROJECTIONS": "false",
        "POVREG_GROUP_COMMIT": "false",
        "POVREG_GROUP_COMMIT_WAIT_MS": "2.5",
        "POVREG_CIPHER_KEY_FILE": "/etc/povreg/store.key",
        "POVREG_MAX_BODY_BYTES": "65536",
        "POVREG_DB_POOL_SIZE": "3",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from_os = Settings.from_env()
    assert from_os == Settings.from_env(env)
    assert from_os.model_dump() == {
        "database_url": "postgresql://u:p@db:5433/reg?schema=s1", "cipher_key": KEY,
        "kafka_bootstrap": "k1:9092,k2:9092", "kafka_topic": "hh", "kafka_pii_topic": "hh.pii",
        "kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": "relay", "kafka_sasl_password": "s3cret", "kafka_ssl_cafile": str(cafile),
        "person_ref_key": None, "timezone": "Asia/Urumqi", "inline_projections": False,
        "group_commit": False, "group_commit_wait_ms": 2.5, "max_body_bytes": 65536,
        "cipher_key_file": "/etc/povreg/store.key", "db_pool_size": 3,
    }
    assert "s3cret" not in repr(from_os) and KEY not in repr(from_os)


def test_settings_built_by_hand_ignore_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POVREG_TIMEZONE", "Not/AZone")
    monkeypatch.setenv("POVREG_KAFKA_TOPIC", "from-env")
    settings = Settings(database_url="sqlite:///x.db")
    assert (settings.timezone, settings.kafka_topic) == ("Asia/Shanghai", "household-events")
    with pytest.raises(ConfigError, match="POVREG_TIMEZONE"):
        Settings.from_env()


def test_empty_variables_mean_the_default() -> None:
    settings = Settings.from_env({"POVREG_DATABASE_URL": "", "POVREG_KAFKA_BOOTSTRAP": "", "POVREG_TIMEZONE": ""})
    assert (settings.database_url, settings.kafka_bootstrap, settings.timezone) == (
        "sqlite:///./povreg.db", None, "Asia/Shanghai")


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("POVREG_DATABASE_URL", "mysql://db/reg", "sqlite:/// or postgresql://"),
    ("POVREG_DATABASE_URL", "sqlite://relative.db", "three slashes"),
    ("POVREG_DATABASE_URL", "postgresql://u@h:99999/db", "Port"),
    ("POVREG_DATABASE_URL", "postgresql://u@h/db?no_such_option=1", "no_such_option"),
    ("POVREG_CIPHER_KEY", "not base64!", "base64"),
    ("POVREG_CIPHER_KEY", base64.b64encode(b"short").decode(), "5 bytes"),
    ("POVREG_PERSON_REF_KEY", base64.b64encode(b"x" * 20).decode(), "20 bytes"),
    ("POVREG_TIMEZONE", "Mars/Olympus", "unknown time zone"),
    ("POVREG_INLINE_PROJECTIONS", "perhaps", "boolean"),
    ("POVREG_KAFKA_BOOTSTRAP", "kafka", "HOST:PORT"),
    ("POVREG_KAFKA_BOOTSTRAP", "kafka:9092,kafka:port", "HOST:PORT"),
    ("POVREG_KAFKA_TOPIC", "household events", "topic name"),
    ("POVREG_KAFKA_PII_TOPIC", "household-events", "must differ"),
    ("POVREG_KAFKA_SECURITY_PROTOCOL", "TLS", "SASL_SSL"),
    ("POVREG_KAFKA_SASL_MECHANISM", "GSSAPI", "SCRAM-SHA-256"),
    ("POVREG_KAFKA_SSL_CAFILE", "/no/such/ca.pem", "no such file"),
])
def test_a_bad_value_names_its_variable(variable: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({variable: value})
    assert variable in str(refused.value) and says in str(refused.value)


@pytest.mark.parametrize(("env", "variable"), [
    ({"POVREG_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "POVREG_KAFKA_SASL_MECHANISM"),
    ({"POVREG_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "POVREG_KAFKA_SASL_MECHANISM": "PLAIN"},
     "POVREG_KAFKA_SASL_USERNAME"),
    ({"POVREG_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "POVREG_KAFKA_SASL_MECHANISM": "PLAIN",
      "POVREG_KAFKA_SASL_USERNAME": "u"}, "POVREG_KAFKA_SASL_PASSWORD"),
    ({"POVREG_KAFKA_SASL_MECHANISM": "PLAIN"}, "POVREG_KAFKA_SECURITY_PROTOCOL"),
])
def test_sasl_settings_must_be_complete(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env(env)


def test_a_password_in_an_error_is_hidden() -> None:
    with pytest.raises(ConfigError) as refused:
        Settings(database_url="postgresql://u:hunter2@h:99999/db")
    assert "hunter2" not in str(refused.value)


def test_conninfo_quotes_what_libpq_would_misread() -> None:
    password = "pa ss 'wo\\rd"
    settings = Settings(database_url=f"postgresql://ops:{quote(password)}@db.local:6543/reg?schema=s&sslmode=require")
    parsed = conninfo_to_dict(settings.postgres_conninfo())
    assert parsed == {"dbname": "reg", "host": "db.local", "port": "6543", "user": "ops", "password": password,
                      "sslmode": "require"}
    assert settings.eventsourcing_env()["POSTGRES_PASSWORD"] == password


@pytest.mark.postgres
def test_a_password_with_a_space_connects() -> None:
    """A login role whose password has spaces and a quote: psycopg, the read models' database layer and the
    event store all connect with it."""
    from persistence.db import Database
    from service.registry import Registry

    role, password = f"povreg_pw_{uuid.uuid4().hex[:8]}", "a pass 'word"
    with postgres_schema() as url:
        schema = url.rsplit("schema=", 1)[1]
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DB, autocommit=True) as admin:
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role),
                                                                             sql.Literal(password)))
            admin.execute(f'GRANT ALL ON SCHEMA "{schema}" TO {role}')  # type: ignore[arg-type]
            admin.execute(f'GRANT CREATE ON DATABASE "{PG_DB}" TO {role}')  # type: ignore[arg-type]
        try:
            settings = Settings(database_url=f"postgresql://{role}:{quote(password)}@{PG_HOST}:{PG_PORT}/{PG_DB}"
                                             f"?schema={schema}", inline_projections=False)
            with psycopg.connect(settings.postgres_conninfo()) as conn:
                assert conn.execute("SELECT current_user").fetchone() == (role,)
            db = Database(settings)
            try:
                assert db.one("SELECT current_user") == (role,)
            finally:
                db.close()
            registry = Registry(settings)
            try:
                assert registry.recorder.max_notification_id() in (None, 0)
            finally:
                registry.close()
        finally:
            with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=PG_DB, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]
                admin.execute(f"DROP OWNED BY {role}")  # type: ignore[arg-type]
                admin.execute(f"DROP ROLE {role}")  # type: ignore[arg-type]


@pytest.mark.parametrize(("variable", "value", "command"), [
    ("POVREG_DATABASE_URL", "mysql://db/reg", ["token", "create", "--role", "admin", "--name", "ops"]),
    ("POVREG_CIPHER_KEY", "c2hvcnQ=", ["token", "create", "--role", "admin", "--name", "ops"]),
    ("POVREG_TIMEZONE", "Mars/Olympus", ["simulate", "--households", "1"]),
    ("POVREG_KAFKA_SECURITY_PROTOCOL", "SASL_SSL", ["relay"]),
    ("POVREG_KAFKA_SSL_CAFILE", "/no/such/ca.pem", ["consume", "dibao"]),
])
def test_the_cli_stops_on_a_bad_variable(tmp_path: Path, variable: str, value: str, command: list[str]) -> None:
    env = {**os.environ, "POVREG_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
           "POVREG_KAFKA_BOOTSTRAP": "127.0.0.1:9", variable: value, "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-c", "from cli import app; app()", *command], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert variable in done.stderr and "configuration error" in done.stderr
    assert not (tmp_path / "store.db").exists()  # stopped before anything was opened
