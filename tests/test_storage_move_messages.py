"""Issue 11, "found by reading the code": a message move commits all of a chunk or none of
it, and counts it once even when its group commit fails and it is run again alone.

In-process tests of the SQLite store: the group-commit retry cannot be provoked from
outside a server on demand."""

from __future__ import annotations

import asyncio
import threading

from postroom.storage.base import MoveTask, NewMessage, Redrive
from postroom.storage.sqlite import SqliteStore

NOW = 1_000_000


def _message(i: int) -> NewMessage:
    return NewMessage(f"m{i}", f"body {i}", "md5", None, None, None, None, "sender", NOW, NOW)


def _task() -> MoveTask:
    return MoveTask("h", "arn:dlq", None, None, "RUNNING", 0, 0, None, NOW)


async def _dead_letters(store: SqliteStore, source_names: list[str]) -> tuple[int, dict[str, int]]:
    """A DLQ holding two messages from each named source queue (moved there by receives)."""
    dlq = (await store.create_queue("000000000000", "us-east-1", "dlq", {}, {}, NOW)).id
    sources = {}
    for name in source_names:
        queue = (await store.create_queue("000000000000", "us-east-1", name, {}, {}, NOW)).id
        sources[f"arn:{name}"] = queue
        await store.send(queue, [_message(1), _message(2)])
        redrive = Redrive(dlq, 0, f"arn:{name}")
        await store.receive(queue, now=NOW, max_messages=10, visibility_ms=0, retention_cutoff=0, redrive=redrive)
    return dlq, sources


async def _messages_in(store: SqliteStore, queue_id: int) -> int:
    return (await store.counts(queue_id, NOW)).visible


def test_a_chunk_with_a_message_that_cannot_move_moves_nothing(tmp_path):
    async def scenario() -> None:
        store = SqliteStore(tmp_path)
        await store.start()
        dlq, sources = await _dead_letters(store, ["a", "b"])
        del sources["arn:b"]  # b's queue is gone: its messages have nowhere to go
        task = _task()
        await store.save_move_task(task)
        outcome = await store.move_messages(
            dlq, {arn: (qid, False) for arn, qid in sources.items()}, None, 10, NOW, task)
        assert isinstance(outcome, str)
        assert await _messages_in(store, dlq) == 4
        assert await _messages_in(store, sources["arn:a"]) == 0
        assert task.moved == 0
        await store.close()

    asyncio.run(scenario())


def test_a_move_run_again_after_its_group_commit_failed_counts_once(tmp_path):
    async def scenario() -> None:
        store = SqliteStore(tmp_path)
        await store.start()
        dlq, sources = await _dead_letters(store, ["a"])
        committer = store._committer
        gate = threading.Event()

        def hold(conn, txn) -> None:
            gate.wait(5)  # everything queued meanwhile shares the next group commit

        def fail(conn, txn) -> None:
            raise RuntimeError("fails its group commit")

        task = _task()
        await store.save_move_task(task)
        held = asyncio.ensure_future(committer.run(hold))
        await asyncio.sleep(0.05)
        move = asyncio.ensure_future(store.move_messages(
            dlq, {arn: (qid, False) for arn, qid in sources.items()}, None, 10, NOW, task))
        failing = asyncio.ensure_future(committer.run(fail))
        await asyncio.sleep(0.05)
        gate.set()
        await held
        assert await move == 2
        [error] = await asyncio.gather(failing, return_exceptions=True)
        assert isinstance(error, RuntimeError)
        assert task.moved == 2
        [stored] = await store.move_tasks()
        assert stored.moved == 2
        await store.close()

    asyncio.run(scenario())
