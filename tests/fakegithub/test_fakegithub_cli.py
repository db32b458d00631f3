"""`python -m ghsync.fakegithub` prints its URL and serves until SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys

import requests


def test_module_prints_url_and_serves_until_sigterm():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ghsync.fakegithub",
            "--repo",
            "demo/cli:30",
            "--token",
            "sekrit:carol",
            "--latency-ms",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        r = requests.post(
            url + "/graphql",
            headers={"Authorization": "token sekrit"},
            timeout=10,
            json={
                "query": '{ viewer { login } repository(owner: "demo", name: "cli") { pullRequests { totalCount } } }'
            },
        )
        assert r.json()["data"] == {"viewer": {"login": "carol"}, "repository": {"pullRequests": {"totalCount": 30}}}
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
