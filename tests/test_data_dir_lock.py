"""Issue 11, defect 8: one server per data directory."""

from __future__ import annotations

import subprocess

import pytest
from server import ServerProcess, make_client, on_postgres, unique_name

pytestmark = pytest.mark.skipif(on_postgres(), reason="the data directory lock guards SQLite's file")


def test_second_server_on_one_data_directory_fails_at_start(private_server, tmp_path):
    first = private_server(data_dir=tmp_path / "shared")
    sqs = make_client(first.endpoint)
    url = sqs.create_queue(QueueName=unique_name("locked"))["QueueUrl"]
    second = ServerProcess(tmp_path / "shared", log_dir=tmp_path)
    proc = subprocess.run(second.command(), capture_output=True, text=True, timeout=30,
                          cwd=str(tmp_path))
    assert proc.returncode != 0
    assert "in use by another Postroom server" in proc.stderr
    assert "Traceback" not in proc.stderr
    # The first server is untouched and still serves.
    sqs.send_message(QueueUrl=url, MessageBody="still here")
    assert first.proc.poll() is None


def test_lock_is_released_when_the_server_stops_or_dies(private_server, tmp_path):
    first = private_server(data_dir=tmp_path / "d")
    first.kill()  # kill -9: the kernel drops the lock with the process
    again = private_server(data_dir=tmp_path / "d")
    again.stop()
    private_server(data_dir=tmp_path / "d")


def test_in_memory_servers_need_no_lock(private_server):
    private_server(in_memory=True)
    private_server(in_memory=True)


