"""Wake-ups: one place where committed changes are announced to whoever waits on them.

Storage operations record notices in their transaction (``txn.notify(channel, key)``); once
the transaction commits, the backend delivers them here on the event loop: to this node's
subscribers at once, and, on a backend shared by several nodes (PostgreSQL's LISTEN/NOTIFY),
to the other nodes' notifiers, which deliver them as ``remote``. Subscribers use them to wake
long polls and workers, and to refresh caches another node made stale.

Channels (keys are strings):
  ``queue``      messages may have become receivable in queue ``key`` (its id)
  ``queues``     queue ``key``'s record changed (created, updated, deleted)
  ``topics``, ``subscriptions`` (ARNs), ``functions``, ``layers`` (account\tregion\tname),
  ``mappings`` (UUID), ``logs`` (group id), ``iam`` (table), ``sns_mobile`` (""): rows
                 another node changed; the sub-store caching them refreshes (sql/refresh.py)
  ``<channel>.refreshed``  local only: the cache now holds what ``<channel>`` announced;
                 services drop what they derived from the old entry
  ``*``          remote only, key "": the link to the other nodes was lost and restored;
                 every cache reloads (then ``*.refreshed``)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

log = logging.getLogger("postroom.storage")

Handler = Callable[[str], None]
Notice = tuple[str, str]


class Notifier:
    """Per-channel subscribers; ``deliver`` runs on the event loop."""

    def __init__(self) -> None:
        self._local: dict[str, list[Handler]] = {}
        self._remote: dict[str, list[Handler]] = {}

    def on(self, channel: str, handler: Handler, *, remote_only: bool = False) -> None:
        """Call ``handler(key)`` for each notice on ``channel``; with ``remote_only``, only for
        notices from other nodes (this node already acted on its own changes)."""
        self._remote.setdefault(channel, []).append(handler)
        if not remote_only:
            self._local.setdefault(channel, []).append(handler)

    def heard_locally(self, channel: str) -> bool:
        """Whether this node's own notices on ``channel`` have a subscriber (a backend with no
        other nodes may skip delivering the rest: most are for other nodes only)."""
        return channel in self._local

    def deliver(self, notices: Iterable[Notice], *, remote: bool = False) -> None:
        handlers = self._remote if remote else self._local
        for channel, key in notices:
            for handler in handlers.get(channel, ()):
                try:
                    handler(key)
                except Exception:  # one subscriber's failure must not starve the others
                    log.exception("notice handler failed on %s", channel)
