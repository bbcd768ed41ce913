"""The real processes the tests start, in one place: a `redis-server` on a free loopback port in a temporary
directory, `ecg-bot worker` and `ecg-bot run` subprocesses. `benchmarks/bench_workers.py` uses them too.

Every child runs in its own process group with its output in a log file, so that `kill()` (SIGKILL to the
group: a machine lost) takes its children too and a failing test can show what the child said.

`redis-server` is Debian's (`.ci/run` and `./dev` install it, like Chromium): missing, the tests fail."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bot.embedded import free_port

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["ROOT", "BotProcess", "ChildProcess", "RedisServer", "Worker", "free_port", "redis_server_binary"]


class ChildProcess:
    """A subprocess in its own session (process group), stdout and stderr in `log_path`.

    `stop()` asks it to end (SIGTERM, to the whole group when `stop_group`), waits, then kills the group."""

    stop_group = True

    def __init__(self, args: list[str], log_path: Path, *, env: dict[str, str] | None = None,
                 cwd: Path = ROOT) -> None:
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self, tail: int | None = None) -> str:
        text = self.log_path.read_bytes().decode(errors="replace")
        return text[-tail:] if tail else text

    def wait_for_log(self, text: str, timeout: float) -> None:
        """Until `text` appears in the log (AssertionError with the log's end if the child exits or time runs out)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            assert self.alive(), \
                f"{self.log_path.name}: exited ({self.proc.returncode}) before {text!r}: {self.log(4000)}"
            time.sleep(0.2)
        raise AssertionError(f"{self.log_path.name}: no {text!r} within {timeout} s: {self.log(4000)}")

    def kill(self) -> None:
        """SIGKILL to the whole process group: the machine is lost, nothing is cleaned up."""
        if self.alive():
            with _gone():
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 20) -> None:
        if self.alive():
            with _gone():
                if self.stop_group:
                    os.killpg(self.proc.pid, signal.SIGTERM)
                else:
                    self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if not self._log.closed:
            self._log.close()


class _gone:
    """Suppress ProcessLookupError: the child may have exited on its own."""

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is not None and issubclass(kind, ProcessLookupError)


def redis_server_binary() -> str:
    found = shutil.which("redis-server") or next((p for p in ("/usr/bin/redis-server",) if os.path.exists(p)), None)
    assert found, "redis-server is missing: install Debian's redis-server (.ci/run and ./dev do it)"
    return found


class RedisServer:
    """A real redis-server on loopback, append-only, so that a stop and a start on the same directory keep the
    queue (a broker outage)."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.child: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "RedisServer":
        self.directory.mkdir(parents=True, exist_ok=True)
        self.child = ChildProcess(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "yes",
             "--daemonize", "no", "--logfile", str(self.directory / "redis.log")],
            self.directory / "redis.out", cwd=self.directory)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
            if not self.child.alive():
                log = self.directory / "redis.log"
                raise RuntimeError(f"redis-server exited: {log.read_text()[-2000:] if log.exists() else ''}")
        raise RuntimeError("redis-server did not answer within 15 s")

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(10)
        self.child = None


class Worker(ChildProcess):
    """A real `ecg-bot worker` subprocess (SIGKILL takes its pool children too)."""

    def __init__(self, broker_url: str, log_path: Path, *, name: str, visibility: int = 4, warm: bool = False,
                 concurrency: int = 1) -> None:
        env = {**os.environ, "ANALYSIS_BROKER_URL": broker_url, "ANALYSIS_VISIBILITY_TIMEOUT": str(visibility),
               "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
        args = [sys.executable, "-m", "bot", "worker", f"--concurrency={concurrency}", f"--hostname={name}@%h"]
        if not warm:
            args.append("--no-warm")
        super().__init__(args, log_path, env=env)

    def wait_ready(self, timeout: float = 120) -> None:
        self.wait_for_log(" ready.", timeout)


class BotProcess(ChildProcess):
    """A real `ecg-bot run` subprocess with `env` (its token, API URL, database...). SIGTERM goes to the
    bot alone, which stops cleanly (and gives its lease up)."""

    stop_group = False

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        super().__init__([sys.executable, "-m", "bot", "run"], log_path, env=env)
