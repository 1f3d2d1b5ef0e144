"""Idempotency keys: a command sent again with the same key is answered as the first was.

The first answer is stored in an :class:`~domain.household.IdempotencyRecord`
keyed by the caller and the key, in the same transaction as the event; the same
key with a different request is refused.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from domain.commands import Command, Receipt
from domain.errors import IdempotencyConflict
from domain.household import IdempotencyRecord
from service.unit_of_work import UnitOfWork


def record_key(command: Command) -> str:
    """The key of the command's idempotency record (one per caller and key).

    The record of a key is the token's that used it (by the token's id: two tokens
    may share a name); an actor without a token (the CLI) owns its keys by name."""
    actor = command.actor
    owner = f"\x01{actor.token_id}" if actor.token_id else actor.name
    digest = hashlib.sha256(f"{owner}\0{command.idempotency_key}".encode()).hexdigest()
    return f"idem:{digest}"


def request_hash(command: Command) -> str:
    canonical = json.dumps(
        [command.household_id, command.payload, command.expected_version],
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def first_answer(command: Command, uow: UnitOfWork) -> Receipt | None:
    """The receipt of the first command sent with this key, or ``None`` if it is the first;
    raises :class:`IdempotencyConflict` if the key was used with a different request."""
    record: IdempotencyRecord | None = uow.get(record_key(command))
    if record is None:
        return None
    if record.request_hash != request_hash(command):
        raise IdempotencyConflict(
            "此 Idempotency-Key 已用于另一个不同的请求",
            detail_en="this Idempotency-Key was already used with a different request",
            rule="idempotency_key_reused",
        )
    return Receipt.from_dict(record.response, replayed=True)


def remember(command: Command, receipt: Receipt, uow: UnitOfWork, at: datetime) -> None:
    """Store the receipt as the answer to the command's key (saved with the command's event)."""
    uow.add(IdempotencyRecord.store(record_key(command), request_hash(command), receipt.as_dict(), at))
