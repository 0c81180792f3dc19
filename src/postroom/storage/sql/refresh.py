"""Keeping a store's cache current when other nodes change the rows behind it.

A sub-store that caches rows subscribes a ``Refresher`` to its channels. Remote notices
(another node committed a change) mark keys stale; one task per sub-store then reads the
stale entries back from the database and applies them, coalescing bursts of notices into
one read. The synthetic ``("*", "")`` notice (the link to the other nodes was lost and
restored) reloads the whole sub-store. Entries are replaced in one step on the event loop,
after the read: readers never see an emptied cache, only the old entry or the new one.

After applying, the refresher announces ``("<channel>.refreshed", key)`` locally for every
entry that changed, so services drop what they derived from the old entry (parsed
settings, warm environments, ...) only once the cache holds the new one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from postroom.storage.errors import log_round_failed
from postroom.storage.notifier import Notifier

log = logging.getLogger("postroom.storage")

Key = tuple[str, str]  # (channel, key)
# Read the stale keys (or everything, for None) and apply them; return what changed.
Apply = Callable[[set[Key] | None], Awaitable[Iterable[Key]]]
RETRY_S = 1.0


def refreshed(channel: str) -> str:
    """The local channel announcing that cached entries of ``channel`` were replaced."""
    return f"{channel}.refreshed"


class Refresher:
    """Coalesces remote notices on ``channels`` into sequential refreshes of one cache."""

    def __init__(self, notifier: Notifier, channels: Iterable[str], apply: Apply) -> None:
        self._notifier = notifier
        self._apply = apply
        self._stale: set[Key] = set()
        self._everything = False
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.channels = frozenset(channels)
        # Notices counted as they arrive, and how many of them the cache reflects: a request
        # waits until the cache reflects every notice that arrived before it (``caught_up``).
        self._marked = 0
        self._applied = 0
        self._progress: asyncio.Event | None = None
        for channel in channels:
            notifier.on(channel, lambda key, channel=channel: self.mark(channel, key), remote_only=True)
        notifier.on("*", lambda key: self.mark_all(), remote_only=True)

    def mark(self, channel: str, key: str) -> None:
        self._stale.add((channel, key))
        self._marked += 1
        self._kick()

    def mark_all(self) -> None:
        self._everything = True
        self._marked += 1
        self._kick()

    def forget(self) -> None:
        """Storage was emptied and the cache with it: nothing is stale any more."""
        self._stale.clear()
        self._everything = False
        self._caught_up_to(self._marked)

    @property
    def current(self) -> bool:
        """Whether the cache reflects every notice received so far."""
        return self._applied >= self._marked

    async def caught_up(self) -> None:
        """Wait until the cache reflects every notice received before this call (later
        ones do not hold it up; a refresh failing meanwhile does, until it succeeds)."""
        target = self._marked
        while self._applied < target:
            if self._progress is None:
                self._progress = asyncio.Event()
            await self._progress.wait()

    def _caught_up_to(self, marked: int) -> None:
        self._applied = max(self._applied, marked)
        if self._progress is not None:
            self._progress.set()
            self._progress = None

    async def idle(self) -> None:
        """Wait until every marked refresh has been applied (tests, shutdown)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()

    def _kick(self) -> None:
        if self._closed or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name="postroom-cache-refresh")

    async def _run(self) -> None:
        while self._stale or self._everything:
            everything, stale = self._everything, self._stale
            self._everything, self._stale = False, set()
            marked = self._marked
            try:
                changed = await self._apply(None if everything else stale)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database is unreachable (or closing): keep the marks and try again.
                log_round_failed(log, "cache refresh failed; retrying")
                self._everything |= everything
                self._stale |= stale
                if self._closed:
                    return
                # Real time: a back-off while the database is away, not engine time.
                await asyncio.sleep(RETRY_S)
                continue
            notices = [(refreshed(channel), key) for channel, key in changed]
            if everything:
                notices.append((refreshed("*"), ""))
            if notices:
                self._notifier.deliver(notices)
            self._caught_up_to(marked)


def reconcile(cache: dict, fresh: dict, candidates: Iterable) -> list:
    """Make ``cache`` agree with ``fresh`` (the database's rows) on ``candidates``: replace
    changed entries, drop vanished ones; return the keys that changed. No await inside."""
    changed = []
    for key in candidates:
        old, new = cache.get(key), fresh.get(key)
        if old == new:
            continue
        if new is None:
            del cache[key]
        else:
            cache[key] = new
        changed.append(key)
    return changed


def in_list(values: Iterable[object]) -> tuple[str, list[object]]:
    """``(?,?,...)`` and its parameters, for ``WHERE x IN (...)``; never empty."""
    params = list(values)
    return "(" + ",".join("?" * len(params)) + ")" if params else "(NULL)", params
