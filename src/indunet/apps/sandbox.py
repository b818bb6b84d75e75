"""Apps run in worker processes, never in the platform's (``worker``): a warm pool, one call
per worker at a time, each call bounded in wall-clock and CPU time, each worker in memory.

A worker that overruns its time is killed and replaced; one that dies (an app that exhausts
its memory, crashes the interpreter, or is stopped by ``SIGXCPU``) is replaced too. Either
way the caller gets ``AppFailed`` naming what happened and the platform goes on. Results
never come from a worker's stdout except as a framed answer, so an app's prints cannot forge
one.
"""

from __future__ import annotations

import contextlib
import os
import queue
import selectors
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson

from .worker import MAX_MESSAGE

MEMORY_MB = 512
WALL_S = 5.0
CPU_S = 2.0


class AppFailed(Exception):
    """A call that gave no result: ``kind`` is raised, import, memory, result, timeout or
    crashed."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    filtered: bool

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


def _read_exact(w: _Worker, size: int, deadline: float) -> bytes:
    assert w.proc.stdout is not None
    fd = w.proc.stdout.fileno()
    chunks: list[bytes] = []
    got = 0
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while got < size:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                raise TimeoutError
            chunk = os.read(fd, min(size - got, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            got += len(chunk)
    return b"".join(chunks)


def _answer(w: _Worker, deadline: float) -> Any:
    (size,) = struct.unpack(">I", _read_exact(w, 4, deadline))
    if size > MAX_MESSAGE:
        raise EOFError
    return orjson.loads(_read_exact(w, size, deadline))


class Pool:
    """Warm worker processes; ``call`` is blocking (run it off the event loop)."""

    def __init__(self, size: int = 2, memory_mb: int = MEMORY_MB) -> None:
        self.size = size
        self.memory_mb = memory_mb
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._started = 0
        self.killed = 0
        self.filtered: bool | None = None

    def _spawn(self) -> _Worker:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INDUNET_")}
        proc = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
            [sys.executable, "-m", "indunet.apps.worker", str(self.memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        w = _Worker(proc, False)
        try:
            hello = _answer(w, time.monotonic() + 30)
        except (TimeoutError, EOFError, ValueError):
            w.kill()
            raise AppFailed("crashed", "an app worker did not start") from None
        w.filtered = bool(hello.get("filtered"))
        self.filtered = w.filtered
        return w

    def _reserve(self) -> bool:
        """Take a place for a new worker if the pool is short of one."""
        with self._lock:
            if self._started < self.size:
                self._started += 1
                return True
            return False

    def _start_reserved(self) -> _Worker:
        try:
            return self._spawn()
        except AppFailed:
            with self._lock:
                self._started -= 1
            raise

    def _take(self) -> _Worker:
        """An idle worker, or a new one where a place is free (one lost while this caller
        waited frees its place, so a waiter never waits on a worker that is gone)."""
        while True:
            try:
                return self._idle.get_nowait()
            except queue.Empty:
                pass
            if self._reserve():
                return self._start_reserved()
            try:
                return self._idle.get(timeout=0.2)
            except queue.Empty:
                continue

    def _lost(self, w: _Worker) -> None:
        w.kill()
        self.killed += 1
        with self._lock:
            self._started -= 1

    def warm(self) -> None:
        """Start every worker now (the first calls then pay no start)."""
        while self._reserve():
            self._idle.put(self._start_reserved())

    def call(
        self,
        entry: str,
        inputs: dict[str, Any],
        parameters: dict[str, Any],
        wall_s: float = WALL_S,
        cpu_s: float = CPU_S,
    ) -> dict[str, Any]:
        """The app's outputs, or ``AppFailed``."""
        request = orjson.dumps(
            {"entry": entry, "inputs": inputs, "parameters": parameters, "cpu_s": cpu_s},
            option=orjson.OPT_SERIALIZE_NUMPY,
        )
        if len(request) > MAX_MESSAGE:
            raise AppFailed("result", f"the inputs are over {MAX_MESSAGE:,} bytes")
        w = self._take()
        deadline = time.monotonic() + wall_s
        try:
            assert w.proc.stdin is not None
            w.proc.stdin.write(struct.pack(">I", len(request)) + request)
            w.proc.stdin.flush()
            answer = _answer(w, deadline)
        except TimeoutError:
            self._lost(w)
            raise AppFailed(
                "timeout", f"no answer within {wall_s:g} s; the worker was killed"
            ) from None
        except (EOFError, BrokenPipeError, ValueError):
            try:
                code: int | None = w.proc.wait(2)  # its pipe closed: it is ending
            except subprocess.TimeoutExpired:
                code = None
            self._lost(w)
            why = "its CPU time ran out" if code == -signal.SIGXCPU else f"exit {code}"
            kind = "timeout" if code == -signal.SIGXCPU else "crashed"
            raise AppFailed(kind, f"the app's worker died ({why})") from None
        self._idle.put(w)
        if not answer.get("ok"):
            raise AppFailed(str(answer.get("kind", "raised")), str(answer.get("error", ""))[:2000])
        outputs = answer.get("outputs")
        return outputs if isinstance(outputs, dict) else {}

    def close(self) -> None:
        while not self._idle.empty():
            self._idle.get().kill()
        self._started = 0
