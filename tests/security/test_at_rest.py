"""Personal data is never in plaintext in the database with the default set-up: the demo
county is loaded with no key configured, its read models built, and every byte of the
SQLite file (and every value of every table of a PostgreSQL schema) is searched for the
demo's names, ID numbers, phones and staff names."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import suppress
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bootstrap.keys import key_file
from bootstrap.settings import ConfigError, Settings
from cli.demo import DemoClock, load
from domain.events import IdentificationProposed
from projections.readmodel import SqlReadModel
from service.registry import Command, Registry
from tests.support import RECORDER, postgres_schema, proposal


def _personal_data(registry: Registry) -> set[str]:
    """Every name, ID number, phone and actor name the demo recorded."""
    found: set[str] = set()
    for _, event in registry.feed(0, 100_000):
        body = event.body.model_dump(mode="json")
        found.add(event.recorded_by.name)
        for member in body.get("members", []) + body.get("joined", []):
            found.update((member["name"], member["id_number"]))
        found.update(body.get("left", []))
        for key in ("helper_name", "phone", "helper"):
            if body.get(key):
                found.add(body[key])
    return {v for v in found if v and len(v.encode()) >= 6}


def _demo(settings: Settings) -> tuple[set[str], Settings]:
    clock = DemoClock()
    registry = Registry(settings, clock=clock)
    try:
        load(registry, clock)
        for role in ("admin", "recorder"):
            registry.create_token(role, name=f"王秘书-{role}")
        model = SqlReadModel(registry)
        model.catch_up()
        # The read models answer in the clear through the API's own queries.
        hid = next(e.household_id for _, e in registry.feed(0, 10) if isinstance(e.body, IdentificationProposed))
        card = model.card(hid, date(2019, 12, 31), None)
        assert card is not None and card["members"][0]["name"]
        roster = model.roster("620422", date(2016, 1, 1), None)
        assert any(r["head_name"] for r in roster["rows"])
        audit = model.audit(hid)
        assert audit is not None and audit["events"][0]["recorded_by"]["name"]
        trail = model.audit_trail(actor=audit["events"][0]["recorded_by"]["name"])
        assert trail["events"]
        model.store.db.close()
        secrets = _personal_data(registry) | {"王秘书-admin", "王秘书-recorder"}
        assert len(secrets) > 50
        return secrets, registry.settings
    finally:
        registry.close()


def _leaks(data: bytes, secrets: set[str]) -> list[str]:
    return sorted(s for s in secrets if s.encode() in data)


def test_sqlite_file_holds_no_personal_data(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'povreg.db'}")
    secrets, resolved = _demo(settings)
    key = tmp_path / "povreg.db.key"
    assert key.exists() and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert resolved.encrypted and resolved.cipher_key == key.read_text().strip()
    with sqlite3.connect(tmp_path / "povreg.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
    data = b"".join(p.read_bytes() for p in tmp_path.glob("povreg.db*") if not p.name.endswith(".key"))
    assert _leaks(data, secrets) == []


@pytest.mark.postgres
def test_postgres_schema_holds_no_personal_data() -> None:
    import psycopg

    with postgres_schema() as url:
        settings = Settings(database_url=url)
        try:
            secrets, _ = _demo(settings)
            schema = settings.postgres_params()["schema"]
            chunks: list[bytes] = []
            with psycopg.connect(settings.postgres_conninfo()) as conn:
                tables = [r[0] for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))]
                assert "povreg_events" in tables and "proj_cards" in tables
                for table in tables:
                    for row in conn.execute(f'SELECT * FROM "{schema}"."{table}"'):
                        chunks.extend(_bytes(v) for v in row)
            assert _leaks(b"\n".join(chunks), secrets) == []
        finally:
            with suppress(FileNotFoundError):
                key_file(settings).unlink()


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'p.db'}")
    registry = Registry(settings)
    registry.put_division("620422", "会宁县", 1, date(2014, 1, 1))
    registry.close()
    yield settings


def test_a_missing_or_wrong_key_stops_with_a_clear_message(store: Settings, tmp_path: Path) -> None:
    other = Settings(database_url=store.database_url, cipher_key="MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
    with pytest.raises(ConfigError, match="does not open this store"):
        Registry(other)
    with pytest.raises(ConfigError, match="encrypted"):
        Registry(Settings(database_url=store.database_url, cipher_key="none"))
    os.remove(tmp_path / "p.db.key")
    with pytest.raises(ConfigError, match="key file"):
        Registry(store)


def test_plaintext_only_by_explicit_opt_out(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'plain.db'}", cipher_key="NONE")
    registry = Registry(settings)
    try:
        registry.put_division("620422", "会宁县", 1, date(2014, 1, 1))
        registry.put_division("620422100", "会师镇", 1, date(2014, 1, 1))
        registry.put_division("620422100201", "南关村", 1, date(2014, 1, 1))
        registry.record(Command(proposal(), RECORDER, household_id="H-1"))
    finally:
        registry.close()
    assert not (tmp_path / "plain.db.key").exists()
    assert "成员1".encode() in b"".join(p.read_bytes() for p in tmp_path.glob("plain.db*"))
    with pytest.raises(ConfigError, match="plaintext"):
        Registry(Settings(database_url=settings.database_url))


def test_processes_starting_together_share_one_key(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from bootstrap.keys import resolve_key

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'together.db'}")
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: resolve_key(settings).cipher_key, range(16)))
    assert len(keys) == 1 and keys == {(tmp_path / "together.db.key").read_text().strip()}
    assert [p.name for p in tmp_path.iterdir()] == ["together.db.key"]


def test_a_key_file_others_can_read_is_refused(store: Settings, tmp_path: Path) -> None:
    os.chmod(tmp_path / "p.db.key", 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        Registry(store)


def test_the_plaintext_opt_out_from_the_environment_records(tmp_path: Path) -> None:
    """``POVREG_CIPHER_KEY=none`` in the process environment is the opt-out, never a key the
    event store library would read for itself (it reads ``POVREG_*`` under the app's name)."""
    import os
    import subprocess
    import sys

    povreg = str(Path(sys.executable).with_name("povreg"))
    env = {**os.environ, "POVREG_CIPHER_KEY": "none", "POVREG_DATABASE_URL": f"sqlite:///{tmp_path / 'plain.db'}"}
    done = subprocess.run([povreg, "division", "put", "620422", "--name", "会宁县", "--rural-population", "10"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "plain.db.key").exists()
