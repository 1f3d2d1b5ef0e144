"""The store's cipher key: given, kept in a file made on first use, or plaintext by choice.

Personal data is encrypted at rest by default. With ``POVREG_CIPHER_KEY`` unset,
the key lives in a file (``<store>.key`` beside a SQLite store, mode 0600), made
when a store is first opened empty; a store that already holds events and has
no key file is not opened (its key was lost, or it was written in plaintext and
must say so). ``POVREG_CIPHER_KEY=none`` is the one way to store plaintext.

:func:`check_key` then reads the store's first event with the key resolved: a
wrong key, a missing one, or a key given to a plaintext store stops the process
with a message that says which.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import stat
from pathlib import Path
from typing import Any

from bootstrap.settings import PLAINTEXT, ConfigError, Settings

KEY_BYTES = 32


def key_file(settings: Settings) -> Path:
    """Where the key of ``settings``' store is kept when it is not given."""
    if settings.cipher_key_file:
        return Path(settings.cipher_key_file).expanduser()
    if settings.backend == "sqlite":
        return Path(settings.sqlite_path + ".key")
    p = settings.postgres_params()
    name = "_".join(part for part in (p["host"], p["port"], p["dbname"], p.get("schema", "public")) if part)
    return Path.home() / ".local" / "share" / "povreg" / "keys" / f"{name}.key"


def resolve_key(settings: Settings) -> Settings:
    """``settings`` with ``cipher_key`` set: the given key, the kept one, a new one, or ``none``."""
    if settings.cipher_key:
        return settings
    path = key_file(settings)
    if path.exists():
        return settings.model_copy(update={"cipher_key": read_key(path)})
    if not store_is_empty(settings):
        raise ConfigError(
            f"this store already holds events, but its key file {path} does not exist and "
            "POVREG_CIPHER_KEY is not set: give the key it was written with (POVREG_CIPHER_KEY, "
            "or restore the file), or, if it was written in plaintext, set POVREG_CIPHER_KEY=none"
        )
    return settings.model_copy(update={"cipher_key": _create_key(path)})


def read_key(path: Path) -> str:
    text = path.read_text(encoding="ascii").strip()
    try:
        size = len(base64.b64decode(text, validate=True))
    except ValueError:
        size = -1
    if size not in (16, 24, 32):
        raise ConfigError(f"the key file {path} does not hold a base64 AES key (16, 24 or 32 bytes)")
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"the key file {path} is readable by others: chmod 600 {path}")
    return text


def _create_key(path: Path) -> str:
    """A new random key in a new file (0600); if another process made it first, theirs.

    The key is written whole to a private file first and then linked into place, so a
    process starting at the same moment (``serve --workers``) never reads half a key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = base64.b64encode(os.urandom(KEY_BYTES)).decode()
    draft = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            return read_key(path)
    finally:
        draft.unlink(missing_ok=True)
    return key


def store_is_empty(settings: Settings) -> bool:
    """Whether the store holds no event yet (or does not exist)."""
    if settings.backend == "sqlite":
        path = Path(settings.sqlite_path)
        if not path.exists() or path.stat().st_size == 0:
            return True
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            try:
                return conn.execute("SELECT 1 FROM stored_events LIMIT 1").fetchone() is None
            except sqlite3.OperationalError:
                return True
    import psycopg

    schema = settings.postgres_params().get("schema", "public")
    with psycopg.connect(settings.postgres_conninfo()) as conn:
        table = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".povreg_events',)).fetchone()
        if table is None or table[0] is None:
            return True
        return conn.execute(f'SELECT 1 FROM "{schema}".povreg_events LIMIT 1').fetchone() is None


def check_key(settings: Settings, recorder: Any, mapper: Any) -> None:
    """Stop with a clear message if the store's first event cannot be read with the key resolved."""
    notifications = recorder.select_notifications(start=1, limit=1)
    if not notifications:
        return
    try:
        mapper.to_domain_event(notifications[0])
    except Exception:
        if settings.cipher_key == PLAINTEXT:
            raise ConfigError(
                "this store is encrypted, and POVREG_CIPHER_KEY=none opens stores in plaintext: "
                "give its key (POVREG_CIPHER_KEY or its key file)"
            ) from None
        raise ConfigError(
            "the cipher key does not open this store: it was written with another key, or in "
            "plaintext (then set POVREG_CIPHER_KEY=none)"
        ) from None
