"""``mockcloud server --state FILE``: the state survives SIGTERM and SIGKILL, and nothing acknowledged is lost.

Each test runs the real CLI in a subprocess on a loopback port, drives it with
real clients, kills it, starts it again on the same file, and carries on.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from tests.helpers import DEFAULT_LICENSE_ARN

TIMEOUT = 60  # seconds: a loaded machine is slow, not wrong; only a broken emulator waits this long
VERSION = {"Version": "2.0"}


class Server:
    """``mockcloud server --port 0 --state FILE`` in a subprocess: its URL once it listens."""

    def __init__(self, state: Path, *extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mockcloud", "server", "--port", "0", "--state", str(state), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline()  # "mockcloud server listening on http://127.0.0.1:PORT (...)"
        found = re.search(r"listening on (http://\S+)", line)
        if found is None:
            self.process.kill()
            raise AssertionError(f"the server did not start: {line!r} {self.process.stderr.read()[-2000:]}")
        self.url = found.group(1)

    def stop(self, how: int) -> int:
        self.process.send_signal(how)
        code = self.process.wait(timeout=TIMEOUT)
        self.process.stdout.close()
        self.process.stderr.close()
        return code


@pytest.fixture
def state_file(tmp_path):
    return tmp_path / "state.json"


def lm(url: str):
    return boto3.client(
        "license-manager",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def login(url: str) -> dict:
    reply = requests.post(
        f"{url}/userapi.example.com/User/Login",
        json={"username": "api_user", "password": "secure_password_123"},
        headers=VERSION,
        timeout=TIMEOUT,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def refresh(url: str, pair: dict) -> requests.Response:
    headers = {**VERSION, "Authorization": f"Bearer {pair['accessToken']}"}
    return requests.post(
        f"{url}/userapi.example.com/User/RefreshToken",
        json={"refreshToken": pair["refreshToken"]},
        headers=headers,
        timeout=TIMEOUT,
    )


def test_sigterm_mid_flow_then_the_flow_continues_with_the_same_tokens(state_file):
    server = Server(state_file)
    first = login(server.url)
    second = refresh(server.url, first).json()
    token = lm(server.url).create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="persisted")
    assert server.stop(signal.SIGTERM) == 0
    assert state_file.read_bytes()[:16] == b"SQLite format 3\x00"  # a database of the state, entity by entity

    again = Server(state_file)
    try:
        assert refresh(again.url, second).status_code == 200  # the latest pair rotates on the restarted server
        reused = refresh(again.url, first)  # the first pair was rotated before the restart: reuse, as before it
        assert reused.status_code == 401 and reused.json()["reason"] in ("reused", "revoked")
        client = lm(again.url)
        assert [t["TokenId"] for t in client.list_tokens()["Tokens"]] == [token["TokenId"]]
        assert client.get_access_token(Token=token["Token"])["AccessToken"].count(".") == 2
    finally:
        again.stop(signal.SIGTERM)


def test_sigkill_right_after_an_answer_loses_nothing_acknowledged(state_file):
    server = Server(state_file)
    pair = login(server.url)
    rotated = refresh(server.url, pair)
    assert rotated.status_code == 200
    assert server.stop(signal.SIGKILL) == -signal.SIGKILL  # no chance to save at exit

    again = Server(state_file)
    try:
        assert refresh(again.url, rotated.json()).status_code == 200  # the rotation that was answered is there
        assert refresh(again.url, pair).status_code == 401
    finally:
        again.stop(signal.SIGTERM)


def test_concurrent_changes_are_group_committed_and_all_kept(state_file):
    server = Server(state_file)
    tokens: list[str] = []
    lock = threading.Lock()

    def create(index: int) -> None:
        made = lm(server.url).create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken=f"load-{index}")
        with lock:
            tokens.append(made["TokenId"])

    workers = [threading.Thread(target=create, args=(i,)) for i in range(24)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert len(tokens) == 24
    server.stop(signal.SIGKILL)

    again = Server(state_file)
    try:
        listed = lm(again.url).list_tokens(MaxResults=100)["Tokens"]
        assert sorted(t["TokenId"] for t in listed) == sorted(tokens)
    finally:
        again.stop(signal.SIGTERM)


def test_a_state_file_that_is_no_snapshot_stops_the_server_before_it_listens(state_file):
    state_file.write_text('{"format": "something else"}')
    result = subprocess.run(
        [sys.executable, "-m", "mockcloud", "server", "--port", "0", "--state", str(state_file)],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "listening" not in result.stdout
    assert result.stderr.count("\n") == 1 and "not a mockcloud snapshot" in result.stderr
    assert os.path.getsize(state_file) == len('{"format": "something else"}')  # left as it was
