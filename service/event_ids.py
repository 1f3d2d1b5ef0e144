"""Event ids: version-4 UUIDs as text."""

from __future__ import annotations

import os
import threading


class _Entropy(threading.local):
    """Random bytes drawn from the OS 64 KiB at a time, per thread. ``os.urandom`` is a
    system call that releases the GIL: once per event, the thread checking a batch lost
    the GIL to the thread saving the previous one at every id (py-spy: 4 % of a load)."""

    SIZE = 16 * 4096

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.pool = b""
        self.at = 0

    def take16(self) -> bytes:
        at = self.at
        if at + 16 > len(self.pool):
            self.pool, at = os.urandom(self.SIZE), 0
        self.at = at + 16
        return self.pool[at : at + 16]


_entropy = _Entropy()
# A forked child must not hand out the ids its parent's pool would.
os.register_at_fork(after_in_child=_entropy.reset)


def new_event_id() -> str:
    """``str(uuid.uuid4())`` at a third of its cost: 122 random bits, version 4, RFC 4122 variant."""
    h = _entropy.take16().hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
