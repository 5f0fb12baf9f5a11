"""`make demo` as a user runs it: one command brings up everything on the embedded database,
the worker pre-tags the seeds through the real broker, Ctrl-C (or SIGTERM) stops it all, a second
run reuses the data."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Demo:
    def __init__(self, data_dir: Path):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DRAMATIQ_BROKER_URL")}
        env["SOURCEMARK_DATA_DIR"] = str(data_dir)
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "demo", "--port", str(self.port), "--web-workers", "1"],
            cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            assert self.process.poll() is None, f"demo exited early:\n{self.output}"
            assert time.monotonic() < deadline, f"no {text!r} in time:\n{self.output}"
            time.sleep(0.2)

    def get(self, path: str) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as response:
            return response.status

    def interrupt(self, signum: int = signal.SIGINT) -> int:
        self.process.send_signal(signum)  # SIGINT is what Ctrl-C sends
        try:
            return self.process.wait(timeout=60)
        finally:
            if self.process.poll() is None:
                os.killpg(self.process.pid, signal.SIGKILL)


@pytest.mark.e2e
def test_demo_starts_everything_pretags_the_seeds_and_stops_cleanly_twice(tmp_path):
    data_dir = tmp_path / "data"
    first = Demo(data_dir)
    try:
        first.wait_for("5 articles pre-tagged.")
        assert first.get("/login/") == 200
        assert "Seed articles: 5 loaded" in first.output
    finally:
        assert first.interrupt() == 0
    assert "Stopped." in first.output
    assert not (data_dir / "postgres" / "postmaster.pid").exists(), "the database kept running"

    second = Demo(data_dir)
    try:
        second.wait_for("Sourcemark runs at")
        assert second.get("/login/") == 200
        assert "Seed articles: 0 loaded, 5 in the corpus. Demo users created: 0." in second.output
        assert "pre-tagging" not in second.output  # nothing left to pre-tag
    finally:
        # `kill` (SIGTERM) stops it as cleanly as Ctrl-C: web, worker and database.
        assert second.interrupt(signal.SIGTERM) == 0
    assert second.output.count("Stopped.") == 1
    assert not (data_dir / "postgres" / "postmaster.pid").exists(), "the database kept running"
