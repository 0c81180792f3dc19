"""ManualClock in-process: time moves only when told, timers fire in deadline order."""

from __future__ import annotations

import asyncio

import pytest

from postroom.clock import ManualClock

START = 1_700_000_000_000


def run(coro):
    return asyncio.run(coro)


def test_time_stands_still_until_advanced():
    async def main():
        clock = ManualClock(START)
        await asyncio.sleep(0.02)  # real time passes; engine time does not
        assert clock.now_ms() == START
        assert await clock.advance(1.5) == START + 1500
        assert clock.now_ms() == START + 1500

    run(main())


def test_sleepers_fire_in_deadline_order_at_their_own_time():
    async def main():
        clock = ManualClock(START)
        woke: list[tuple[str, int]] = []

        async def sleeper(name, seconds):
            await clock.sleep(seconds)
            woke.append((name, clock.now_ms()))

        tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("c", 3), ("a", 1), ("b", 2))]
        await asyncio.sleep(0)
        await clock.advance(1.5)
        assert woke == [("a", START + 1000)]
        await clock.advance(10)
        assert woke == [("a", START + 1000), ("b", START + 2000), ("c", START + 3000)]
        await asyncio.gather(*tasks)

    run(main())


def test_a_rearming_loop_ticks_once_per_period_passed():
    async def main():
        clock = ManualClock(START)
        ticks: list[int] = []

        async def loop():
            while True:
                await clock.sleep(1)
                ticks.append(clock.now_ms())

        task = asyncio.create_task(loop())
        await asyncio.sleep(0)
        await clock.advance(5)
        assert ticks == [START + 1000 * i for i in range(1, 6)]
        task.cancel()

    run(main())


def test_wait_for_times_out_on_engine_time_only():
    async def main():
        clock = ManualClock(START)
        never = asyncio.get_running_loop().create_future()
        waiting = asyncio.create_task(clock.wait_for(never, 20))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # 50 ms of real time is no time at all
        await clock.advance(19.999)
        assert not waiting.done()
        await clock.advance(0.001)
        with pytest.raises(TimeoutError):
            await waiting
        assert never.cancelled()
        assert clock.pending_timers == 0

    run(main())


def test_wait_for_returns_the_result_and_drops_its_timer():
    async def main():
        clock = ManualClock(START)
        fut = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(fut.set_result, 42)
        assert await clock.wait_for(fut, 5) == 42
        assert clock.pending_timers == 0
        assert await clock.wait_for(asyncio.sleep(0, "x"), None) == "x"

    run(main())


def test_zero_sleep_yields_without_a_timer():
    async def main():
        clock = ManualClock(START)
        await clock.sleep(0)
        await clock.sleep(-1)
        assert clock.pending_timers == 0

    run(main())


def test_time_never_moves_back():
    async def main():
        clock = ManualClock(START)
        with pytest.raises(ValueError):
            await clock.advance(-1)
        with pytest.raises(ValueError):
            await clock.set(START - 1)
        assert await clock.set(START + 60_000) == START + 60_000

    run(main())


def test_a_long_advance_with_a_short_loop_stays_bounded():
    async def main():
        clock = ManualClock(START)
        ticks = 0

        async def loop():
            nonlocal ticks
            while True:
                await clock.sleep(0.001)
                ticks += 1

        task = asyncio.create_task(loop())
        await asyncio.sleep(0)
        await clock.advance(14 * 86_400)  # 1.2 billion periods: capped, not stepped through
        assert clock.now_ms() == START + 14 * 86_400_000
        assert ticks <= ManualClock._MAX_STEPS + 1
        task.cancel()

    run(main())
