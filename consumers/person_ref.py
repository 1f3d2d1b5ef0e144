"""The key of ``person_ref``, the pseudonym of a person on the household topic.

In order of preference: ``POVREG_PERSON_REF_KEY``; a key derived from the
store's cipher key (``POVREG_CIPHER_KEY``, or the key file the embedded store
made), so every relay of one store agrees without another secret to
distribute; for a store kept in plaintext (``POVREG_CIPHER_KEY=none``), a random
key created on first use and kept in the store itself (it reveals nothing the
plaintext store does not already show). Never a constant: with a known key,
the few billion plausible ID numbers could be hashed and matched.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from bootstrap.settings import Settings
from persistence.db import Database

SECRETS_TABLE = "povreg_secrets"
_NAME = "person_ref_key"


def person_ref_key(settings: Settings, db: Database) -> bytes:
    """The key of ``person_ref`` for the store of ``db`` (see the module's docstring); ``settings`` with
    the store's key resolved (``Registry.settings``: the embedded store's key file is read)."""
    if settings.person_ref_key:
        return base64.b64decode(settings.person_ref_key)
    if settings.encrypted and settings.cipher_key:
        return hmac.new(base64.b64decode(settings.cipher_key), b"povreg person_ref v1", hashlib.sha256).digest()
    db.ddl(f"CREATE TABLE IF NOT EXISTS {SECRETS_TABLE} (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    with db.transaction() as tx:  # several relays may start together: the first key stays
        tx.execute(f"INSERT INTO {SECRETS_TABLE} (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                   (_NAME, base64.b64encode(os.urandom(32)).decode()))
    row = db.one(f"SELECT value FROM {SECRETS_TABLE} WHERE name = ?", (_NAME,))
    assert row is not None
    return base64.b64decode(row[0])
