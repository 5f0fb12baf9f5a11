"""Child processes started in their own session (the demo's web server and worker, benchmarks)."""

import os
import signal
import subprocess


def stop_group(child: subprocess.Popen, *, timeout: float) -> None:
    """SIGTERM the child's process group, then SIGKILL it if it is not gone within `timeout`."""
    if child.poll() is not None:
        return
    os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
