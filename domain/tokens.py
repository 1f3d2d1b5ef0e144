"""API tokens as aggregates: each token, stored by the hash of its secret, and the register of
every token by its public id. What they share, and why their stored topics name
``povreg.domain.household``: :mod:`domain.aggregate`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from eventsourcing.domain import BaseAggregate

from domain.aggregate import Opening, TextEvent, create, keep_stored_topics, opening_and_later
from domain.history import Actor


class AccessToken(BaseAggregate[str]):
    """An API token, stored by the hash of its secret (authentication looks it up by that).

    ``token_id`` is the public handle that lists and revokes it; ``expires_at`` the
    moment from which it no longer authenticates. Tokens issued before either
    existed have an empty id and no expiry (the class defaults below decode them)."""

    @dataclass(frozen=True)
    class Event(TextEvent):
        """A token is issued once, and may be revoked."""

    @dataclass(frozen=True)
    class Issued(Opening, Event):
        name: str
        role: str
        division: str
        token_id: str = ""
        expires_at: str | None = None

    @dataclass(frozen=True)
    class Revoked(Event):
        def apply(self, aggregate: AccessToken) -> None:
            aggregate.revoked = True
            aggregate.revoked_at = self.timestamp

    def __init__(
        self, name: str, role: str, division: str, token_id: str = "", expires_at: str | None = None
    ) -> None:
        self.name = name
        self.role = role
        self.division = division
        self.token_id = token_id
        self.expires_at = datetime.fromisoformat(expires_at) if expires_at else None
        self.revoked = False
        self.revoked_at: datetime | None = None

    @classmethod
    def issue(cls, secret_hash: str, name: str, role: str, division: str, at: datetime, token_id: str = "",
              expires_at: datetime | None = None) -> AccessToken:
        return cls._create(
            cls.Issued, id=f"token:{secret_hash}", timestamp=at, name=name, role=role, division=division,
            token_id=token_id, expires_at=expires_at.isoformat() if expires_at else None,
        )

    def revoke(self, at: datetime) -> None:
        if not self.revoked:
            self.trigger_event(self.Revoked, timestamp=at)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    @property
    def actor(self) -> Actor:
        return Actor(self.name, self.role, self.division, token_id=self.token_id or self.id)


TOKENS_KEY = "tokens"


class TokenRegister(BaseAggregate[str]):
    """Every token issued, by its public id: what ``token list`` and ``token revoke`` read."""

    @dataclass(frozen=True)
    class Event(TextEvent):
        token_id: str
        secret_hash: str

        def apply(self, aggregate: TokenRegister) -> None:
            aggregate.tokens[self.token_id] = self.secret_hash

    Opened, Listed = opening_and_later(Event)

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}

    @classmethod
    def open(cls, token_id: str, secret_hash: str, at: datetime) -> TokenRegister:
        return create(cls, cls.Opened, TOKENS_KEY, at, token_id=token_id, secret_hash=secret_hash)

    def list_token(self, token_id: str, secret_hash: str, at: datetime) -> None:
        self.trigger_event(self.Listed, timestamp=at, token_id=token_id, secret_hash=secret_hash)


keep_stored_topics(AccessToken, TokenRegister)
