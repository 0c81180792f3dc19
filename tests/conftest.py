"""Fixtures: a shared Postroom server, private servers, and SQS clients for both protocols.

Set POSTROOM_TEST_ENDPOINT=http://host:port to run the shared-server tests against a server
that is already running (tests needing private servers are then skipped).

Set POSTROOM_TEST_STORE=postgresql://user@host/db to run every server the suite starts on
PostgreSQL (a fresh schema per server, dropped afterwards) instead of SQLite.
"""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError
from server import SCHEMAS, TEST_STORE, ServerProcess, make_client, query_model_dir, unique_name

from postroom.testing import pg

EXTERNAL = os.environ.get("POSTROOM_TEST_ENDPOINT")
PROTOCOLS = ["json", "query"]
_SHARED: list[ServerProcess] = []


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """``-n auto`` (pyproject's addopts): two workers per core, at most 8, and no more than
    the test files named on the command line (one file runs serially: workers would only add
    their start-up). Most of a test's time is spent waiting (timers, long polls, servers
    starting), so one worker per core would leave the cores idle.
    PYTEST_XDIST_AUTO_NUM_WORKERS overrides; ``-n 0`` runs serially."""
    override = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS")
    if override:
        return int(override)
    workers = min(8, 2 * (os.cpu_count() or 1))
    files = {arg.split("::")[0] for arg in config.args}
    if files and all(f.endswith(".py") for f in files):
        workers = min(workers, len(files))
    return 0 if workers == 1 else workers


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Files run whole on one worker each; the few that time the wall clock run alone, last
    (see scheduling.py)."""
    from scheduling import make_scheduler

    return make_scheduler(config, log)


def pytest_report_header(config):
    return f"postroom store: {'PostgreSQL (' + pg.ENV + ')' if TEST_STORE else 'SQLite'}"


def pytest_sessionfinish(session, exitstatus):
    """Drop the schemas of servers that were left for the session's end."""
    if TEST_STORE is not None:
        for proc in _SHARED:
            proc.stop()
        pg.drop_schemas(TEST_STORE, SCHEMAS)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, attach the logs of the test's private servers, and the shared server's
    log if that server has died."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for proc in getattr(item, "postroom_servers", []):
        report.sections.append((f"postroom log (port {proc.port})", proc.log()[-20000:]))
    for proc in _SHARED:
        if proc.proc is not None and proc.proc.poll() is not None:
            report.sections.append(
                (f"shared postroom exited with {proc.proc.returncode}", proc.log()[-20000:]))


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """The shared server (session scope); None when POSTROOM_TEST_ENDPOINT is set."""
    if EXTERNAL:
        yield None
        return
    data_dir = tmp_path_factory.mktemp("shared-data")
    # Async-invocation retry waits shortened 100x (0.6 s and 1.2 s instead of 1 and 2 min).
    proc = ServerProcess(data_dir, args=["--lambda-retry-scale", "0.01"]).start()
    _SHARED.append(proc)
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def endpoint(server) -> str:
    return EXTERNAL.rstrip("/") if EXTERNAL else server.endpoint


@pytest.fixture(scope="session")
def _query_model():
    return query_model_dir()


@pytest.fixture(params=PROTOCOLS)
def protocol(request) -> str:
    return request.param


@pytest.fixture
def sqs(endpoint, protocol, _query_model):
    """An SQS client; tests using it run once per wire protocol (json, query)."""
    return make_client(endpoint, protocol)


@pytest.fixture
def json_sqs(endpoint):
    """A plain boto3 (AWS JSON 1.0) client, for tests that need only one protocol."""
    return make_client(endpoint, "json")


@pytest.fixture
def client_factory(endpoint, _query_model):
    """Build extra clients: client_factory(protocol="json", access_key="test", endpoint=None)."""

    def make(protocol="json", access_key="test", endpoint_url=None, region="us-east-1"):
        return make_client(endpoint_url or endpoint, protocol, access_key=access_key,
                           region=region)

    return make


@pytest.fixture
def queue_name() -> str:
    return unique_name()


@pytest.fixture
def make_queue(request):
    """Create queues with unique names (through ``client``, default the test's ``sqs``);
    delete them afterwards."""
    created: list[tuple[object, str]] = []

    def make(prefix="t", attributes=None, tags=None, client=None, name=None):
        c = client or request.getfixturevalue("sqs")
        kwargs = {"QueueName": name or unique_name(prefix)}
        if attributes:
            kwargs["Attributes"] = attributes
        if tags:
            kwargs["tags"] = tags
        url = c.create_queue(**kwargs)["QueueUrl"]
        created.append((c, url))
        return url

    yield make
    for c, url in created:
        try:
            c.delete_queue(QueueUrl=url)
        except (ClientError, Exception):  # noqa: B014 - best effort cleanup
            pass


@pytest.fixture
def queue_url(sqs, make_queue) -> str:
    """A fresh standard queue with default attributes."""
    return make_queue()


@pytest.fixture
def private_server(request, tmp_path):
    """Factory for servers owned by one test: private_server(data_dir=None, in_memory=False,
    port=None). Stopped (SIGTERM, then SIGKILL) at teardown."""
    if EXTERNAL:
        pytest.skip("needs private servers (POSTROOM_TEST_ENDPOINT is set)")
    procs: list[ServerProcess] = []
    request.node.postroom_servers = procs

    def start(data_dir=None, in_memory=False, port=None, args=None):
        if data_dir is None and not in_memory:
            data_dir = tmp_path / f"data-{len(procs)}"
        if data_dir is not None:
            os.makedirs(data_dir, exist_ok=True)
        proc = ServerProcess(data_dir or tmp_path / f"mem-{len(procs)}", in_memory=in_memory,
                             port=port, log_dir=tmp_path, args=args)
        procs.append(proc)
        return proc.start()

    yield start
    for proc in procs:
        proc.stop()
    for proc in procs:
        proc.drop_schema()


@pytest.fixture(scope="session")
def manual_server(tmp_path_factory):
    """A shared in-memory server on the manual clock (``--clock manual``), for tests whose
    subject is a timer's effect rather than real time passing. Advancing it affects every
    test using it, so tests use their own queues."""
    if EXTERNAL:
        pytest.skip("needs a private server (POSTROOM_TEST_ENDPOINT is set)")
    from postroom.testing import PostroomServer

    srv = PostroomServer(log_dir=tmp_path_factory.mktemp("manual-clock")).start()
    yield srv
    srv.stop()


@pytest.fixture
def manual_sqs(manual_server, protocol, _query_model):
    """An SQS client of ``manual_server``, once per wire protocol."""
    return make_client(manual_server.url, protocol)
