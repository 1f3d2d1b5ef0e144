"""Group commit: concurrent single commands share one transaction.

Each HTTP write is one command. Recorded one transaction each, they queue behind the
write gate, and every transaction pays its own round trips, commit and (in the
embedded mode) read-model catch-up. A :class:`GroupCommitter` hands the commands of
concurrent requests to one committer thread, which records whatever is waiting (up to
``max_batch`` commands, waiting up to ``wait`` seconds for more) with
``Registry.record_many``: one transaction, each command checked in arrival order and
seeing the ones accepted before it, each answered on its own — a refused command
records nothing and changes nothing for the others.

A request is answered only after its transaction commits (``record_many`` returns
after the commit), so nothing is acknowledged that a crash could lose. If a group's
transaction fails for a reason other than a refusal (a lost connection, a bug), its
commands are retried one per transaction, so that one command's failure is its own.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING

from domain.errors import DomainError

if TYPE_CHECKING:
    from domain.commands import Command, Receipt
    from service.registry import Registry

_Item = tuple["Command", "Future[Receipt | DomainError]"]


class GroupCommitter:
    """``record(command)`` from many threads; one committer thread records them in groups."""

    def __init__(self, registry: Registry, wait: float = 0.001, max_batch: int = 256) -> None:
        self.registry = registry
        self.wait = wait
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        #: (groups, commands) committed: how much the grouping saved.
        self.groups = 0
        self.commands = 0

    def record(self, command: Command) -> Receipt:
        """Record one command, sharing a transaction with concurrent ones; raises its refusal."""
        future: Future[Receipt | DomainError] = Future()
        self._ensure_started()
        self._queue.put((command, future))
        result = future.result()
        if isinstance(result, DomainError):
            raise result
        return result

    def close(self) -> None:
        """Record what is queued, then stop the committer thread."""
        with self._start_lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join()

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._closed:
                raise RuntimeError("the group committer is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="povreg-group-commit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group, stop = self._gather(first)
            self._commit(group)
            if stop:
                return

    def _gather(self, first: _Item) -> tuple[list[_Item], bool]:
        """``first`` and what else is waiting, for up to ``wait`` seconds more."""
        group = [first]
        deadline = time.monotonic() + self.wait
        while len(group) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is None:
                return group, True
            group.append(item)
        return group, False

    def _commit(self, group: Sequence[_Item]) -> None:
        try:
            results = self.registry.record_many([command for command, _ in group])
        except BaseException as exc:
            if len(group) > 1:
                for item in group:  # one failure must not become every command's
                    self._commit([item])
                return
            group[0][1].set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.groups += 1
        self.commands += len(group)
        for (_, future), result in zip(group, results, strict=True):
            future.set_result(result)
