"""How pytest-xdist hands out the suite: whole files, one worker each (``--dist loadfile``),
except the files in ``ALONE``. Those wait until every other test has finished and its
worker has exited, then run one after another on the one worker left: their tests time
the wall clock, which measures Postroom only when the suite is not loading the machine."""

from __future__ import annotations

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadFileScheduling
from xdist.workermanage import WorkerController

# File (as pytest names it) -> why it runs alone.
ALONE = {
    "tests/test_readme.py": "the README's pytest example must pass in well under a second",
}


class AloneLastScheduling(LoadFileScheduling):
    """``loadfile``, with the ``ALONE`` files last and nothing else running beside them."""

    runner: WorkerController | None = None  # kept for the ALONE files, once they are all left

    def _assign_work_unit(self, node: WorkerController) -> None:
        for scope in [s for s in self.workqueue if s in ALONE]:
            self.workqueue.move_to_end(scope)  # keeps their order among themselves
        if next(iter(self.workqueue)) not in ALONE:
            super()._assign_work_unit(node)
            return
        if self.runner is None:
            self.runner = node
        if node is not self.runner:
            # Nothing else to give it. A worker runs its last test only on its way out (it
            # waits for the next one otherwise), so it has to be told to go now.
            node.shutdown()
        elif self.nodes == [node]:  # every other worker has exited
            super()._assign_work_unit(node)

    def remove_node(self, node: WorkerController) -> str | None:
        if node is self.runner:  # crashed: the next worker to ask takes over
            self.runner = None
        crashed = super().remove_node(node)
        for other in self.nodes:  # the runner may have been waiting for this one
            self._reschedule(other)
        return crashed


def make_scheduler(config: pytest.Config, log: Producer) -> LoadFileScheduling | None:
    """The scheduler for ``--dist loadfile`` (None for the other modes: xdist's own)."""
    if config.getvalue("dist") != "loadfile":
        return None
    return AloneLastScheduling(config, log)
