"""Embedded stand-ins used when MONGODB_URI / SMTP_HOST are unset.

- `EmbeddedMongo`: the `nx-27017` MongoDB wire-protocol server (SQLite underneath) as a child process on a
  free loopback port, one SQLite file per logical database under `data_dir` (`--data-dir` mode; the
  `--db FILE` mode is not used because it does not isolate databases).
- `EmbeddedOutbox`: an aiosmtpd SMTP server on loopback that saves every message as an `.eml` file.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import os
import shutil
import socket
import sys
import threading
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

__all__ = [
    "EmbeddedMongo", "EmbeddedMongoError", "EmbeddedOutbox", "free_port", "nx_27017_command",
    "message_text", "message_html",
]

log = logging.getLogger(__name__)

OUTBOX_KEEP_SECONDS = 7 * 24 * 3600  # saved mails hold activation links and reset codes: a week, then gone


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def nx_27017_command() -> list[str]:
    """The console script installed next to this interpreter, else the module through this interpreter."""
    bindir = Path(sys.executable).parent
    for name in ("nx-27017", "nx_27017", "nx-27017.exe"):
        candidate = bindir / name
        if candidate.exists() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    found = shutil.which("nx-27017")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from nx_27017.nx_27017 import main; sys.exit(main())"]


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class EmbeddedMongoError(RuntimeError):
    pass


class EmbeddedMongo:
    """`async with EmbeddedMongo(path) as uri: ...` or `uri = await m.start(); ...; await m.stop()`."""

    def __init__(self, data_dir: Path | str, *, host: str = "127.0.0.1", port: int | None = None,
                 startup_timeout: float = 20.0) -> None:
        self.data_dir = Path(data_dir).resolve()  # the child runs with cwd=data_dir
        self.host = host
        self.port = port
        self.startup_timeout = startup_timeout
        self.process: asyncio.subprocess.Process | None = None
        self.uri: str | None = None

    @property
    def log_file(self) -> Path:
        return self.data_dir / "nx.log"

    @property
    def output_file(self) -> Path:
        return self.data_dir / "nx.out"

    def _tail(self, lines: int = 15) -> str:
        chunks = []
        for path in (self.output_file, self.log_file):
            try:
                chunks.extend(path.read_text(errors="replace").splitlines()[-lines:])
            except OSError:
                pass
        return "\n".join(chunks[-lines:])

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "nx.pid"

    @property
    def owner_file(self) -> Path:
        return self.data_dir / "nx.owner"

    def _owner_alive(self) -> bool:
        try:
            return _alive(int(self.owner_file.read_text().strip()))
        except (OSError, ValueError):
            return False

    async def _clear_stale_pid_file(self) -> str | None:
        """nx-27017 refuses to start while its pid file names a live process.

        - The server is alive and so is the process that started it (its pid is in `nx.owner`): another
          process of ours uses it (e.g. `ecg-bot grant-instructor` while the bot runs) — return its
          URI to share it.
        - The server is alive but its starter is gone (the bot was SIGKILLed): an orphan — stop it.
        - The pid is dead or reused by an unrelated process (e.g. after a container restart): just
          remove the stale file.
        """
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            self.pid_file.unlink(missing_ok=True)
            return None
        cmdline: list[str] = []
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            pass
        joined = " ".join(cmdline)
        ours = "nx" in joined and "27017" in joined and str(self.data_dir) in cmdline
        if ours and pid != os.getpid() and self._owner_alive() and "--port" in cmdline:
            port = cmdline[cmdline.index("--port") + 1]
            log.info("sharing the embedded MongoDB (nx-27017, pid %d) another process runs on %s", pid, self.data_dir)
            return f"mongodb://{self.host}:{port}/"
        if ours and pid != os.getpid():
            log.warning("stopping an orphaned nx-27017 (pid %d) left on %s", pid, self.data_dir)
            try:
                os.kill(pid, 15)
                for _ in range(50):
                    await asyncio.sleep(0.1)
                    if not _alive(pid):
                        break
                else:
                    os.kill(pid, 9)
            except ProcessLookupError:
                pass
            except PermissionError:
                return None
        self.pid_file.unlink(missing_ok=True)
        return None

    async def start(self) -> str:
        if self.process is not None and self.process.returncode is None:
            assert self.uri is not None
            return self.uri
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.pid_file.exists():
            shared = await self._clear_stale_pid_file()
            if shared is not None:  # not ours to stop: stop() leaves it running
                self.uri = shared
                return shared
        port = self.port or free_port(self.host)
        cmd = nx_27017_command() + [
            "--data-dir", str(self.data_dir),
            "--host", self.host,
            "--port", str(port),
            "--log-file", str(self.log_file),
            "--pid-file", str(self.pid_file),
        ]
        with open(self.output_file, "ab") as out:
            try:
                self.process = await asyncio.create_subprocess_exec(
                    *cmd, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out, cwd=str(self.data_dir)
                )
            except OSError as exc:
                raise EmbeddedMongoError(f"could not start nx-27017 ({cmd[0]}): {exc}") from exc
        uri = f"mongodb://{self.host}:{port}/"
        try:
            await self._wait_ready(uri)
        except BaseException:
            await self.stop()
            raise
        self.port = port
        self.uri = uri
        self.owner_file.write_text(str(os.getpid()))
        log.info("embedded MongoDB (nx-27017) listening on %s:%d, data in %s", self.host, port, self.data_dir)
        return uri

    async def _wait_ready(self, uri: str) -> None:
        from pymongo import AsyncMongoClient
        from pymongo.errors import PyMongoError

        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        client: AsyncMongoClient = AsyncMongoClient(
            uri, serverSelectionTimeoutMS=500, connectTimeoutMS=500, directConnection=True
        )
        try:
            while True:
                if self.process.returncode is not None:
                    raise EmbeddedMongoError(
                        f"nx-27017 exited with code {self.process.returncode} while starting. "
                        f"Last output:\n{self._tail()}"
                    )
                try:
                    await client.admin.command("ping")
                    return
                except PyMongoError:
                    pass
                if time.monotonic() > deadline:
                    raise EmbeddedMongoError(
                        f"nx-27017 did not answer on {uri} within "
                        f"{self.startup_timeout:.0f} s. Last output:\n{self._tail()}"
                    )
                await asyncio.sleep(0.1)
        finally:
            await client.close()

    async def stop(self, timeout: float = 5.0) -> None:
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        self.owner_file.unlink(missing_ok=True)
        try:
            process.terminate()
        except ProcessLookupError:
            return
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except asyncio.TimeoutError:
            log.warning("nx-27017 did not stop within %.0f s; killing it", timeout)
            try:
                process.kill()
            except ProcessLookupError:
                pass
            await process.wait()

    async def __aenter__(self) -> str:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()


class _SaveHandler:
    def __init__(self, outbox: "EmbeddedOutbox") -> None:
        self.outbox = outbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        path = self.outbox._save(content)
        log.info("mail saved to outbox: %s", path)
        return "250 Message accepted for delivery"


class EmbeddedOutbox:
    """SMTP on loopback that writes each message to `<outbox_dir>/<time>-<n>-<id>.eml`.

    `await start()` / `await stop()` (aiosmtpd runs its own loop in a thread; the blocking start/stop run in a
    worker thread). `start_sync()` / `stop_sync()` and `with EmbeddedOutbox(...)` are for synchronous code.
    """

    def __init__(self, outbox_dir: Path | str, *, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.outbox_dir = Path(outbox_dir)
        self.host = host
        self.port = port
        self._controller: Any = None
        self._lock = threading.Lock()
        self._counter = 0

    def _save(self, content: bytes) -> Path:
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._counter += 1
            now_ns = time.time_ns()  # one reading for both parts, so names sort in arrival order
            name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now_ns // 10**9))}-{now_ns % 10**9:09d}-" \
                   f"{self._counter:06d}-{uuid.uuid4().hex[:8]}.eml"
        path = self.outbox_dir / name
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # links and codes: the owner only
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        tmp.replace(path)
        return path

    def prune(self, keep_seconds: float = OUTBOX_KEEP_SECONDS, now: float | None = None) -> int:
        """Delete saved messages older than `keep_seconds` (by file time); returns how many."""
        limit = (time.time() if now is None else now) - keep_seconds
        removed = 0
        for path in self.paths():
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
        return removed

    def start_sync(self) -> tuple[str, int]:
        from aiosmtpd.controller import Controller

        if self._controller is not None:
            return self.host, int(self.port)  # type: ignore[arg-type]
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.outbox_dir, 0o700)
        for path in self.paths():  # saved before files were private
            os.chmod(path, 0o600)
        self.prune()
        port = self.port or free_port(self.host)
        mail_log = logging.getLogger("mail.log")  # aiosmtpd logs every peer and recipient at INFO
        if mail_log.level == logging.NOTSET:
            mail_log.setLevel(logging.WARNING)
        controller = Controller(_SaveHandler(self), hostname=self.host, port=port, ready_timeout=10)
        controller.start()
        self._controller = controller
        self.port = port
        log.info("embedded SMTP outbox on %s:%d saving to %s", self.host, port, self.outbox_dir)
        return self.host, port

    def stop_sync(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    async def start(self) -> tuple[str, int]:
        """Start on a free loopback port (or the given one); returns (host, port)."""
        return await asyncio.to_thread(self.start_sync)

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_sync)

    def __enter__(self) -> tuple[str, int]:
        return self.start_sync()

    def __exit__(self, *exc: Any) -> None:
        self.stop_sync()

    async def __aenter__(self) -> tuple[str, int]:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    def paths(self) -> list[Path]:
        if not self.outbox_dir.exists():
            return []
        return sorted(self.outbox_dir.glob("*.eml"))

    def messages(self) -> list[EmailMessage]:
        """Every saved message, oldest first (newest last)."""
        result = []
        for path in self.paths():
            with open(path, "rb") as fh:
                result.append(email.message_from_binary_file(fh, policy=email.policy.default))
        return result  # type: ignore[return-value]

    def messages_to(self, to: str) -> list[EmailMessage]:
        needle = to.strip().lower()
        return [m for m in self.messages() if needle in str(m.get("To", "")).lower()]

    async def wait_for_message(self, to: str | None = None, timeout: float = 5.0, *, count: int = 1) -> EmailMessage:
        """Wait until at least `count` messages (to `to`, if given) exist; return the newest one."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.messages_to(to) if to else self.messages()
            if len(found) >= count:
                return found[-1]
            if time.monotonic() > deadline:
                raise TimeoutError(f"no message{' to ' + to if to else ''} within {timeout} s")
            await asyncio.sleep(0.05)

    def clear(self) -> None:
        for path in self.paths():
            path.unlink(missing_ok=True)


def message_text(msg: EmailMessage) -> str:
    """The plain-text body of a saved message."""
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def message_html(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    return part.get_content() if part is not None else ""
