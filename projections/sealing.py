"""Personal data in the read models, sealed with the store's key.

The event store encrypts whole events; the read models keep what queries filter
and sort by (statuses, divisions, dates, counts) in the clear, and seal the
columns that carry names, ID numbers, phones and free text — the card's JSON,
the projected event bodies, the roster's head of household, the audit trail's
data and actors. A sealed value is ``~`` + base64(nonce + AES-GCM ciphertext),
under a key derived from the store's cipher key (so read models and events
never share a key); a plaintext store (``POVREG_CIPHER_KEY=none``) seals nothing.

``ref`` is a keyed hash for a sealed value that queries look up by equality (the
audit trail of one actor).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from functools import lru_cache
from typing import TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bootstrap.settings import Settings

MARK = "~"
_NONCE = 12
#: A value to seal or open: text, or None (which stays None).
Text = TypeVar("Text", str, None)


class SealError(RuntimeError):
    """A sealed value that this key does not open (another key, or altered)."""


class _Nonces(threading.local):
    """Random nonces drawn from the OS 64 KiB at a time, per thread (a system call per
    value was a third of the cost of sealing one)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.pool = b""
        self.at = 0

    def take(self) -> bytes:
        at = self.at
        if at + _NONCE > len(self.pool):
            self.pool, at = os.urandom(65536 - 65536 % _NONCE), 0
        self.at = at + _NONCE
        return self.pool[at : at + _NONCE]


_nonces = _Nonces()
os.register_at_fork(after_in_child=_nonces.reset)  # a child must not reuse its parent's


class Sealer:
    """Seals and opens the read models' personal fields (the identity without a key)."""

    def __init__(self, key: bytes | None, seals: bool = True) -> None:
        self._key = key
        self.encrypted = key is not None and seals
        self._aead = AESGCM(_derive(key, b"povreg read models")) if key is not None and seals else None
        self._ref_key = _derive(key, b"povreg read-model refs") if key is not None else b""

    def plain(self) -> Sealer:
        """A twin that seals nothing but gives the same refs and digests: for a plaintext copy
        of the read models to compare with them (:mod:`projections.refold`)."""
        return Sealer(self._key, seals=False)

    @classmethod
    def of(cls, settings: Settings) -> Sealer:
        return _sealer(settings.cipher_key if settings.encrypted else None)

    def seal(self, text: Text) -> Text:
        if text is None or self._aead is None:
            return text
        nonce = _nonces.take()
        return MARK + base64.b64encode(nonce + self._aead.encrypt(nonce, text.encode(), None)).decode("ascii")

    def unseal(self, text: Text) -> Text:
        if text is None or self._aead is None:
            return text
        if not text.startswith(MARK):
            raise SealError("a read-model value is not sealed although the store is encrypted; rebuild the "
                            "projections (povreg projections rebuild)")
        raw = base64.b64decode(text[1:])
        try:
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], None).decode()
        except InvalidTag:
            raise SealError("a sealed read-model value does not open with this store's key") from None

    def digest(self, text: str) -> int:
        """A 63-bit keyed hash of ``text`` (unkeyed without a key): what a stored part of a
        card is known by, so that equal parts are stored once and nothing of them shows."""
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8, key=self._ref_key).digest(), "big") >> 1

    def ref(self, text: str | None) -> str | None:
        """A keyed hash of ``text`` to look it up by (``text`` itself without a key)."""
        if text is None or not self._ref_key:
            return text
        return "r:" + hmac.new(self._ref_key, text.encode(), hashlib.sha256).hexdigest()[:40]


PLAIN = Sealer(None)


@lru_cache(maxsize=16)
def _sealer(cipher_key: str | None) -> Sealer:
    return Sealer(base64.b64decode(cipher_key) if cipher_key else None)


def _derive(key: bytes, purpose: bytes) -> bytes:
    return hmac.new(key, purpose, hashlib.sha256).digest()
