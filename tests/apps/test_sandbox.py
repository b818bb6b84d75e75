"""The sandbox: apps run in worker processes bounded in time, CPU and memory, without new
sockets, files written or programs started; every way an app can misbehave ends in
``AppFailed`` naming it, and the pool goes on serving."""

from __future__ import annotations

import ctypes.util
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from indunet.apps.sandbox import AppFailed, Pool

APPS = "tests.apps.hostile_apps"


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    p = Pool(size=2, memory_mb=512)
    p.warm()
    yield p
    p.close()


def good(pool: Pool) -> None:
    assert pool.call(f"{APPS}:scale", {"x": [1, 2]}, {"k": 3}) == {"y": [3, 6]}


def test_a_call_returns_the_apps_outputs(pool: Pool) -> None:
    good(pool)
    # with the system's libseccomp (.ci/run installs it) the filter is in place
    assert pool.filtered is (ctypes.util.find_library("seccomp") is not None)


@pytest.mark.parametrize(
    ("app", "inputs", "kind", "words"),
    [
        ("raises", {}, "raised", "ValueError: bad reading"),
        ("hoards", {}, "memory", "memory"),
        ("dials", {}, "raised", "PermissionError"),
        ("spawns", {}, "raised", "PermissionError"),
        ("answers_nothing", {}, "result", "no dict"),
        ("no_such_function", {}, "import", "AttributeError"),
    ],
)
def test_a_misbehaving_app_is_refused_and_the_pool_goes_on(
    pool: Pool, app: str, inputs: dict[str, object], kind: str, words: str
) -> None:
    with pytest.raises(AppFailed) as failed:
        pool.call(f"{APPS}:{app}", inputs, {})
    assert failed.value.kind == kind and words in str(failed.value), str(failed.value)
    good(pool)


def test_no_file_is_written(pool: Pool, tmp_path: Path) -> None:
    target = tmp_path / "stolen.txt"
    with pytest.raises(AppFailed) as failed:
        pool.call(f"{APPS}:writes", {"path": str(target)}, {})
    assert "PermissionError" in str(failed.value) and not target.exists()
    kept = tmp_path / "kept.txt"
    kept.write_text("the platform's")
    for app in ("deletes", "renames"):  # no file changed without opening it either
        with pytest.raises(AppFailed) as failed:
            pool.call(f"{APPS}:{app}", {"path": str(kept)}, {})
        assert "PermissionError" in str(failed.value), str(failed.value)
    assert kept.read_text() == "the platform's"
    good(pool)


@pytest.mark.parametrize(("app", "cpu_s"), [("loops", 30.0), ("sleeps", 30.0), ("loops", 0.5)])
def test_an_app_that_never_answers_is_killed(pool: Pool, app: str, cpu_s: float) -> None:
    killed = pool.killed
    with pytest.raises(AppFailed) as failed:
        pool.call(f"{APPS}:{app}", {}, {}, wall_s=1.0 if cpu_s > 1 else 10.0, cpu_s=cpu_s)
    assert failed.value.kind == "timeout", str(failed.value)
    assert pool.killed == killed + 1
    good(pool)


def test_a_worker_that_exits_is_replaced(pool: Pool) -> None:
    with pytest.raises(AppFailed) as failed:
        pool.call(f"{APPS}:exits", {}, {})
    assert failed.value.kind == "crashed" and "exit 3" in str(failed.value)
    good(pool)


def test_a_caller_waiting_for_a_worker_that_is_killed_gets_a_new_one() -> None:
    import threading

    single = Pool(size=1)
    try:
        single.warm()
        failures: list[str] = []

        def stuck() -> None:
            try:
                single.call(f"{APPS}:sleeps", {}, {}, wall_s=1.0)
            except AppFailed as exc:
                failures.append(exc.kind)

        t = threading.Thread(target=stuck)
        t.start()
        time.sleep(0.3)  # the only worker is busy: this call waits for it
        assert single.call(f"{APPS}:scale", {"x": [2]}, {"k": 2}) == {"y": [4]}
        t.join(10)
        assert failures == ["timeout"] and single.killed == 1
    finally:
        single.close()
