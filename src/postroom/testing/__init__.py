"""Run a throwaway Postroom from a test suite: ``PostroomServer`` and the pytest plugin."""

from postroom.testing.server import PostroomServer

__all__ = ["PostroomServer"]
