"""The pytest plugin installed with Postroom (entry point ``pytest11``).

Fixtures:

- ``postroom``: a ``PostroomServer`` (in memory, manual clock) started once per session
  and reset before each test that uses it: ``postroom.url``, ``postroom.client("sqs")``,
  ``postroom.advance(seconds)``, ``postroom.reset()``.
- ``postroom_url``: the same server's endpoint URL (reset too), for your own clients.

``--postroom-arg=ARG`` (repeatable) passes extra options to ``postroom serve``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from postroom.testing.server import PostroomServer


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("postroom")
    group.addoption(
        "--postroom-arg", action="append", default=[], metavar="ARG",
        help="extra option for the postroom server the fixtures start (repeatable)",
    )


@pytest.fixture(scope="session")
def postroom_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostroomServer]:
    """The session's server (started on first use); prefer ``postroom``, which resets it."""
    args = request.config.getoption("postroom_arg")
    server = PostroomServer(args=args, log_dir=tmp_path_factory.mktemp("postroom"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postroom(postroom_server: PostroomServer) -> PostroomServer:
    """A clean Postroom on a manual clock: nothing in it, time where the last test left it."""
    postroom_server.reset()
    return postroom_server


@pytest.fixture
def postroom_url(postroom: PostroomServer) -> str:
    """The clean server's endpoint URL, for clients you build yourself."""
    return postroom.url
