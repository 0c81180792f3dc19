"""Helpers for the multi-node tests: fresh PostgreSQL storage, several Postroom nodes on it,
clients that fail over like a load balancer, and a private PostgreSQL that may be restarted.

Admin statements go through ``psql`` (it ships with every PostgreSQL server), so the
helpers do not depend on the driver the store uses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from server import ServerProcess, free_port

STORE = os.environ.get("POSTROOM_TEST_STORE", "")
PG = STORE.startswith(("postgresql://", "postgres://"))
SKIP_REASON = ("multi-node tests need POSTROOM_TEST_STORE=postgresql://... (a PostgreSQL shared "
               "by the nodes); SQLite serves one node")
# The connection to a killed node fails at once; a restarting store answers 503.
NODE_DOWN = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError, ConnectionError)
CLIENT_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30,
                       connect_timeout=3)


# --------------------------------------------------------------------------- PostgreSQL


def psql(url: str, sql: str) -> str:
    """Run SQL through psql on ``url``; its unaligned, tuples-only output."""
    done = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-XAtqc", sql],
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"psql failed: {done.stderr.strip()}")
    return done.stdout.strip()


def with_schema(url: str, schema: str) -> str:
    """``url`` with Postroom's ``schema=`` parameter (any earlier one replaced)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("schema", schema)])))


def admin_url(url: str) -> str:
    """``url`` without Postroom's own parameters, as psql takes it."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "schema"]
    return urlunsplit(parts._replace(query=urlencode(query)))


class FreshSchema:
    """A schema of its own (``multinode_<hex>``, created by the first node) in the database
    of ``url``; dropped at close."""

    def __init__(self, url: str) -> None:
        self.admin = admin_url(url)
        self.name = f"multinode_{uuid.uuid4().hex[:10]}"
        self.url = with_schema(url, self.name)

    def close(self) -> None:
        try:
            psql(self.admin, f"DROP SCHEMA IF EXISTS {self.name} CASCADE")
        except RuntimeError:
            pass  # the server is gone (a private one already stopped): nothing left to drop


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a free port, so that restarting it under load
    disturbs nobody else using the machine's server. Needs the server binaries and, when
    run as root, the ``postgres`` system user."""

    def __init__(self) -> None:
        self.bindir = find_pg_bindir()
        if self.bindir is None:
            raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) found")
        self.dir = Path(tempfile.mkdtemp(prefix="multinode-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.dir, self.user)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._ctl_args = ["-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w"]
        self._run("pg_ctl", *self._ctl_args, "start")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bindir / tool), *args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}")

    def restart(self, down: float = 1.0) -> None:
        """Fast shutdown (every session is cut, as in a failover), ``down`` seconds with no
        server at all, then start again."""
        self._run("pg_ctl", *self._ctl_args, "-m", "fast", "stop")
        time.sleep(down)
        self._run("pg_ctl", *self._ctl_args, "start")

    def crash(self, down: float = 1.0) -> None:
        """Immediate shutdown (the server processes quit at once, as in a crash: WAL not yet
        written from PostgreSQL's buffers is gone), ``down`` seconds, then start again
        (crash recovery replays what was written)."""
        self._run("pg_ctl", *self._ctl_args, "-m", "immediate", "stop")
        time.sleep(down)
        self._run("pg_ctl", *self._ctl_args, "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def find_pg_bindir() -> Path | None:
    """The directory of initdb/pg_ctl: pg_config's BINDIR, else Debian's newest version."""
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        path = Path(out.stdout.strip())
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return versions[-1].parent if versions else None


def can_run_private_postgres() -> bool:
    if find_pg_bindir() is None:
        return False
    if os.geteuid() != 0:
        return True
    return shutil.which("runuser") is not None and _user_exists("postgres")


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


# --------------------------------------------------------------------------- nodes


class Node(ServerProcess):
    """A server on the cluster's store URL, whatever store the suite gives other servers."""

    def __init__(self, store_url: str, data_dir: Path, log_dir: Path, args: list[str]) -> None:
        super().__init__(data_dir, log_dir=log_dir, args=args)
        self.store_url = store_url

    def command(self) -> list[str]:
        return [sys.executable, "-m", "postroom", "serve", "--host", self.host,
                "--port", str(self.port), "--data-dir", str(self.data_dir),
                "--store", self.store_url, *self.args]


class Cluster:
    """``n`` Postroom nodes on one store URL, each with a data directory of its own."""

    def __init__(self, store_url: str, n: int, tmp_path: Path, args: list[str] | None = None):
        self.store_url = store_url
        self._clients: dict[tuple[int, str], object] = {}
        self._lock = threading.Lock()
        self.nodes: list[Node] = []
        for i in range(n):
            data = tmp_path / f"node-{i}"
            data.mkdir(parents=True, exist_ok=True)
            self.nodes.append(Node(store_url, data, tmp_path, list(args or [])))

    def start(self) -> Cluster:
        # One after another: the first applies the schema migrations, the others find them.
        for node in self.nodes:
            node.start(timeout=30)
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def alive(self) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if n.proc is not None and n.proc.poll() is None]

    def client(self, i: int, service: str = "sqs"):
        """A boto3 client of node ``i`` (no retries: the tests see every answer); clients
        are thread-safe, so one per node and service is shared."""
        key = (i, service)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = boto3.session.Session().client(
                    service, endpoint_url=self.nodes[i].endpoint, region_name="us-east-1",
                    aws_access_key_id="test", aws_secret_access_key="test", config=CLIENT_CONFIG)
            return self._clients[key]

    def logs(self) -> str:
        return "\n".join(f"--- node {i} (port {n.port})\n{n.log()[-6000:]}"
                         for i, n in enumerate(self.nodes))

    def stored(self, bodies: list[str]) -> str:
        """What the store holds for these message bodies (a failure's evidence): queue, seq,
        visibility against the database's clock, receive count, group; and the FIFO group
        heads of their queues."""
        from urllib.parse import parse_qsl, urlsplit

        schema = dict(parse_qsl(urlsplit(self.store_url).query)).get("schema", "public")
        quoted = ",".join("'" + b.replace("'", "''") + "'" for b in bodies[:20])
        try:
            found = psql(admin_url(self.store_url), (
                f"SELECT body, queue_id, seq, visible_at - (extract(epoch from now())*1000)::bigint,"
                f" receive_count, group_id FROM {schema}.messages WHERE body IN ({quoted})"))
            # FIFO: which message each group of those queues starts from.
            groups = psql(admin_url(self.store_url), (
                f"SELECT g.queue_id, g.group_id, g.head_seq, (SELECT COUNT(*) FROM {schema}.messages m"
                f" WHERE m.queue_id = g.queue_id AND m.group_id = g.group_id) FROM {schema}.fifo_groups g"
                f" WHERE g.queue_id IN (SELECT queue_id FROM {schema}.messages WHERE body IN ({quoted}))"))
            return f"{found}\nfifo_groups (queue|group|head seq|messages):\n{groups}"
        except RuntimeError as exc:
            return f"(could not read the store: {exc})"


class Balanced:
    """A client that talks to one home node and moves to the next live one when its node
    stops answering, as a client behind a load balancer would see it."""

    def __init__(self, cluster: Cluster, home: int, service: str = "sqs") -> None:
        self.cluster = cluster
        self.service = service
        self.home = self.index = home
        self.clients = {i: cluster.client(i, service) for i in range(len(cluster.nodes))}
        self.failovers = 0

    def call(self, op: str, **kwargs):
        """Call ``op``; on a dead node, fail over and raise (the caller decides to retry:
        an unanswered call may or may not have been applied)."""
        try:
            return getattr(self.clients[self.index], op)(**kwargs)
        except NODE_DOWN:
            alive = self.cluster.alive()
            if self.index not in alive and alive:
                self.index = alive[(self.home + self.failovers) % len(alive)]
                self.failovers += 1
            raise


class Tally:
    """Thread-safe record of what the clients saw."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: set[str] = set()
        self.received: dict[str, int] = {}
        self.statuses: dict[int, int] = {}
        self.codes: dict[str, int] = {}
        self.down = 0  # calls that hit a dead or unreachable node

    def error(self, exc: Exception) -> None:
        with self.lock:
            if isinstance(exc, ClientError):
                status = exc.response["ResponseMetadata"].get("HTTPStatusCode", 0)
                self.statuses[status] = self.statuses.get(status, 0) + 1
                code = exc.response["Error"].get("Code", "?")
                self.codes[code] = self.codes.get(code, 0) + 1
            else:
                self.down += 1


def wait_for(predicate, timeout: float, interval: float = 0.1):
    """Poll until ``predicate()`` is truthy or ``timeout`` passes; the last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = predicate()
    return value


# --------------------------------------------------------------------------- load


class Load:
    """Senders and receivers on every live node of a cluster, one standard and one FIFO
    queue, recording what was acknowledged and what was received.

    Standard sends are never retried (an unanswered send may or may not exist). FIFO
    senders own one message group each and retry an unanswered send with the same
    deduplication id on the next node, so each sequence number is sent exactly once per
    group whatever node answered."""

    def __init__(self, cluster: Cluster, std_url: str, fifo_url: str, groups: int = 6) -> None:
        self.cluster = cluster
        self.std_url, self.fifo_url = std_url, fifo_url
        self.groups = groups
        self.tally = Tally()
        self.fifo_acked: dict[str, set[int]] = {f"g{g}": set() for g in range(groups)}
        # per group: (seq, MessageId) in the order received, first receipts and redeliveries
        self.fifo_log: dict[str, list[tuple[int, str]]] = {f"g{g}": [] for g in range(groups)}
        self.sending = threading.Event()
        self.receiving = threading.Event()
        self.threads: list[threading.Thread] = []
        self.senders: list[threading.Thread] = []
        self.failures: list[str] = []

    def start(self) -> Load:
        self.sending.set()
        self.receiving.set()
        n = len(self.cluster.nodes)
        work = [(self._std_sender, i % n, i) for i in range(2 * n)]
        work += [(self._fifo_sender, g % n, g) for g in range(self.groups)]
        senders = len(work)
        work += [(self._receiver, i % n, self.std_url) for i in range(2 * n)]
        work += [(self._receiver, i % n, self.fifo_url) for i in range(n)]
        for fn, home, arg in work:
            t = threading.Thread(target=self._guard, args=(fn, home, arg), daemon=True)
            t.start()
            self.threads.append(t)
        self.senders = self.threads[:senders]
        return self

    def _guard(self, fn, home: int, arg) -> None:
        try:
            fn(Balanced(self.cluster, home), arg)
        except Exception as exc:  # noqa: BLE001 - reported by the test, not lost in a thread
            self.failures.append(f"{fn.__name__}: {exc!r}")

    def stop_sending(self) -> None:
        """Stop the senders and wait for their last calls: a send still on its way is
        acknowledged (or not) only when its answer comes."""
        self.sending.clear()
        for t in self.senders:
            t.join(timeout=60)

    def stop(self) -> None:
        self.sending.clear()
        self.receiving.clear()
        for t in self.threads:
            t.join(timeout=40)

    def _std_sender(self, client: Balanced, worker: int) -> None:
        k = 0
        while self.sending.is_set():
            bodies = [f"s{worker}-{k + i}" for i in range(5)]
            k += 5
            try:
                resp = client.call("send_message_batch", QueueUrl=self.std_url, Entries=[
                    {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)])
            except (ClientError, *NODE_DOWN) as exc:
                self.tally.error(exc)
                time.sleep(0.02)
                continue
            ok = {bodies[int(e["Id"])] for e in resp.get("Successful", [])}
            with self.tally.lock:
                self.tally.acked |= ok
            time.sleep(0.01)

    def _fifo_sender(self, client: Balanced, group: int) -> None:
        g, seq = f"g{group}", 0
        while self.sending.is_set():
            try:
                client.call("send_message", QueueUrl=self.fifo_url, MessageBody=f"{g}:{seq}",
                            MessageGroupId=g, MessageDeduplicationId=f"{g}-{seq}")
            except (ClientError, *NODE_DOWN) as exc:
                self.tally.error(exc)
                time.sleep(0.05)
                continue  # the same seq again, on whatever node answers
            with self.tally.lock:
                self.fifo_acked[g].add(seq)
            seq += 1
            time.sleep(0.02)

    def _receiver(self, client: Balanced, url: str) -> None:
        fifo = url == self.fifo_url
        while self.receiving.is_set():
            try:
                resp = client.call("receive_message", QueueUrl=url, MaxNumberOfMessages=10,
                                   WaitTimeSeconds=1, AttributeNames=["MessageGroupId"])
            except (ClientError, *NODE_DOWN) as exc:
                self.tally.error(exc)
                time.sleep(0.05)
                continue
            msgs = resp.get("Messages", [])
            if not msgs:
                continue
            with self.tally.lock:
                for m in msgs:
                    body = m["Body"]
                    self.tally.received[body] = self.tally.received.get(body, 0) + 1
                    if fifo:
                        g, seq = body.split(":")
                        self.fifo_log[g].append((int(seq), m["MessageId"]))
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                       for i, m in enumerate(msgs)]
            for _ in range(20):  # a receipt handle is good on any node: retry elsewhere
                try:
                    client.call("delete_message_batch", QueueUrl=url, Entries=entries)
                    break
                except (ClientError, *NODE_DOWN) as exc:
                    self.tally.error(exc)
                    time.sleep(0.1)

    # ------------------------------------------------------------------ checks

    def missing(self) -> list[str]:
        """Acknowledged messages not received yet (standard, then FIFO as ``g:seq``)."""
        with self.tally.lock:
            lost = sorted(self.tally.acked - self.tally.received.keys())
            for g, seqs in self.fifo_acked.items():
                lost += [f"{g}:{s}" for s in sorted(seqs) if f"{g}:{s}" not in self.tally.received]
        return lost

    def fifo_violations(self) -> list[str]:
        """Per group: a new message must carry a higher seq than every earlier one, and
        one seq must never arrive as two messages (deduplication across nodes)."""
        bad = []
        with self.tally.lock:
            for g, log in self.fifo_log.items():
                seen: dict[int, str] = {}
                top = -1
                for seq, mid in log:
                    if seq in seen:
                        if seen[seq] != mid:
                            bad.append(f"{g}:{seq} arrived as two messages")
                        continue  # a redelivery after the visibility timeout
                    if seq < top:
                        bad.append(f"{g}:{seq} arrived after {g}:{top}")
                    seen[seq] = mid
                    top = max(top, seq)
        return bad

    def counts(self) -> str:
        with self.tally.lock:
            fifo = sum(len(s) for s in self.fifo_acked.values())
            return (f"acked {len(self.tally.acked)} standard + {fifo} FIFO, received "
                    f"{len(self.tally.received)} distinct, statuses {self.tally.statuses}, "
                    f"codes {self.tally.codes}, calls to a dead node {self.tally.down}")
