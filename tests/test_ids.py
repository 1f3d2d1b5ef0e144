"""Event ids from the pool: version 4 UUIDs, never repeated across threads or a fork."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from service.ids import new_event_id


def test_ids_are_version_4_uuids_and_unique() -> None:
    ids = [new_event_id() for _ in range(10_000)]  # more than one pool's worth
    assert len(set(ids)) == len(ids)
    for text in ids[:: 97]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


def test_threads_draw_from_their_own_pools() -> None:
    drawn: list[list[str]] = [[] for _ in range(4)]

    def draw(into: list[str]) -> None:
        into.extend(new_event_id() for _ in range(5_000))

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for into in drawn for i in into]
    assert len(set(every)) == len(every) == 20_000


def test_a_forked_child_does_not_repeat_its_parents_next_ids() -> None:
    new_event_id()  # the parent's pool is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, "\n".join(new_event_id() for _ in range(100)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        child = set(f.read().split("\n"))
    os.waitpid(pid, 0)
    parent = {new_event_id() for _ in range(100)}
    assert len(child) == 100 and not child & parent


def test_the_text_is_what_uuid_prints_for_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    from service import ids

    for _ in range(2_000):
        raw = os.urandom(16)
        monkeypatch.setattr(ids._pool, "take16", lambda raw=raw: raw)
        assert new_event_id() == str(uuid.UUID(bytes=raw, version=4))
