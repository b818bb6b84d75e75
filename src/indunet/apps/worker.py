"""The process an app runs in (``python -m indunet.apps.worker``), one call at a time.

It reads requests from stdin and writes answers to stdout, each a 4-byte big-endian length
then JSON. Before the first request it limits itself: address space (``RLIMIT_AS``), no new
files beyond those open (``RLIMIT_NOFILE``), no child processes (``RLIMIT_NPROC`` where it
can), no core files, and — where libseccomp is present (``pyseccomp``) — a system-call filter
that refuses new sockets and opening files for writing (``EPERM``). Before each call it sets
its CPU-time limit to what it has used plus the call's allowance (``RLIMIT_CPU``): a loop is
stopped by ``SIGXCPU`` even if the parent's wall clock were not watching.

A request: ``{"entry": "module:function", "inputs": {...}, "parameters": {...},
"cpu_s": 2.0}``; the function is called as ``function(inputs, parameters)`` and returns a
dict of outputs. The answer: ``{"ok": true, "outputs": {...}, "cpu_s": 0.01}`` or ``{"ok":
false, "error": "...", "kind": "raised" | "import" | "memory" | "result"}``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import resource
import struct
import sys
import time
from collections.abc import Callable
from typing import Any, BinaryIO

import orjson

MAX_MESSAGE = 64 * 1024 * 1024


def read(stream: BinaryIO) -> Any:
    head = stream.read(4)
    if len(head) < 4:
        return None
    (size,) = struct.unpack(">I", head)
    if size > MAX_MESSAGE:
        raise ValueError("message too large")
    return orjson.loads(stream.read(size))


def write(stream: BinaryIO, message: Any) -> None:
    data = orjson.dumps(message, option=orjson.OPT_SERIALIZE_NUMPY)
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


#: Refused outright: new sockets, new programs, and changes to the file system that need no
#: file opened for writing (removing, renaming, linking, making directories, permissions).
DENIED = (
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    "fork", "vfork", "execve", "execveat", "ptrace",
    "unlink", "unlinkat", "rename", "renameat", "renameat2", "rmdir", "mkdir", "mkdirat",
    "link", "linkat", "symlink", "symlinkat", "chmod", "fchmodat", "chown", "fchownat",
    "lchown", "truncate", "creat", "mknod", "mknodat",
)  # fmt: skip
#: Flags of an ``open``/``openat`` that would write; ``openat2`` (flags out of reach of a
#: filter) answers "not implemented", so the C library falls back to ``openat``.
WRITING = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND)


def _filter() -> bool:
    """Refuse new sockets, new programs and writing to files; whether a filter is in place.
    A call this architecture does not have (``open`` on arm64) is skipped, not fatal."""
    try:
        import pyseccomp as sc  # type: ignore[import-untyped]
    except (ImportError, OSError):
        return False
    try:
        f = sc.SyscallFilter(defaction=sc.ALLOW)
    except Exception:  # no kernel support
        return False
    rules: list[tuple[Any, str, tuple[Any, ...]]] = [(sc.ERRNO(1), call, ()) for call in DENIED]
    rules.append((sc.ERRNO(38), "openat2", ()))  # ENOSYS
    for bit in WRITING:
        rules.append((sc.ERRNO(1), "openat", (sc.Arg(2, sc.MASKED_EQ, bit, bit),)))
        rules.append((sc.ERRNO(1), "open", (sc.Arg(1, sc.MASKED_EQ, bit, bit),)))
    for action, call, args in rules:
        with contextlib.suppress(Exception):  # not a system call on this architecture
            f.add_rule(action, call, *args)
    try:
        f.load()
    except Exception:
        return False
    return True


def confine(memory_mb: int) -> bool:
    """Limit this process; whether the system-call filter is in place."""
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    return _filter()


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _load(entry: str, cache: dict[str, Callable[..., Any]]) -> Callable[..., Any]:
    fn = cache.get(entry)
    if fn is None:
        module, _, name = entry.partition(":")
        obj = getattr(importlib.import_module(module), name)
        if not callable(obj):
            raise TypeError(f"{entry} is not a function")
        fn = cache[entry] = obj
    return fn


def serve(memory_mb: int) -> None:  # pragma: no cover - runs in the worker process
    # the modules apps use most, loaded before the limits (their loading is not the app's)
    for name in ("numpy", "indunet.apps.builtin"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    src, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # an app's print() must not corrupt the answers
    filtered = confine(memory_mb)
    write(out, {"ready": True, "filtered": filtered, "pid": os.getpid()})
    cache: dict[str, Callable[..., Any]] = {}
    while True:
        request = read(src)
        if request is None:
            return
        used = _cpu()
        allowance = max(1, int(used + float(request.get("cpu_s", 2.0)) + 1))
        # the soft limit only: a process may raise it again (up to the hard limit) for the
        # next call, never the hard one
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        resource.setrlimit(resource.RLIMIT_CPU, (allowance, hard))
        started = time.perf_counter()
        try:
            fn = _load(str(request["entry"]), cache)
        except Exception as exc:
            write(out, {"ok": False, "kind": "import", "error": f"{type(exc).__name__}: {exc}"})
            continue
        try:
            result = fn(request.get("inputs") or {}, request.get("parameters") or {})
        except MemoryError:
            write(out, {"ok": False, "kind": "memory", "error": "the app ran out of memory"})
            continue
        except Exception as exc:
            write(out, {"ok": False, "kind": "raised", "error": f"{type(exc).__name__}: {exc}"})
            continue
        if not isinstance(result, dict):
            write(out, {"ok": False, "kind": "result", "error": "the app returned no dict"})
            continue
        try:
            write(out, {"ok": True, "outputs": result, "cpu_s": _cpu() - used,
                        "wall_s": time.perf_counter() - started})  # fmt: skip
        except TypeError as exc:
            write(out, {"ok": False, "kind": "result", "error": f"not JSON: {exc}"})


if __name__ == "__main__":  # pragma: no cover
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 512)
