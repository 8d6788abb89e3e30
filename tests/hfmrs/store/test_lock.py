"""One builder per home: a second builder is refused with who builds, a dead builder's lock is taken
over, and a refused build touches nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from hfmrs.store.lock import BuildRunningError, build_lock

HOLD = (
    "import sys; from pathlib import Path; from hfmrs.store.lock import build_lock\n"
    "with build_lock(Path(sys.argv[1])) as lock:\n"
    "    lock.note(build_id='20261202T000000-abcdef01-0001')\n"
    "    print('held', flush=True); sys.stdin.read()\n"
)


def hold(home) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(home)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_builder_is_refused_with_who_builds(tmp_path):
    holder = hold(tmp_path)
    try:
        with pytest.raises(BuildRunningError) as refused, build_lock(tmp_path):
            pass
        message = str(refused.value)
        assert message.startswith("build 20261202T000000-abcdef01-0001 is running in this home (pid ")
        assert str(holder.pid) in message and "started 20" in message
    finally:
        holder.communicate(input="", timeout=30)
    with build_lock(tmp_path):  # released when the holder finished
        pass


def test_the_lock_of_a_killed_builder_is_taken_over(tmp_path):
    holder = hold(tmp_path)
    os.kill(holder.pid, signal.SIGKILL)  # kill -9 mid-build: nothing cleans up
    holder.wait(timeout=30)
    with build_lock(tmp_path) as lock:
        assert lock.holder["pid"] == os.getpid()


def test_two_threads_of_one_process_are_kept_apart(tmp_path):
    inside, leave = threading.Event(), threading.Event()

    def first() -> None:
        with build_lock(tmp_path):
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert inside.wait(10)
        with pytest.raises(BuildRunningError, match="a build is running in this home"), build_lock(tmp_path):
            pass
    finally:
        leave.set()
        thread.join(10)


def test_a_refused_build_touches_nothing(tmp_path, settings, encoder):
    from hfmrs.pipeline import build

    build(settings, encoder=encoder, show_progress=False)
    serving = (settings.home / "CURRENT").read_text()
    partial = settings.home / "builds" / "20261202T000000-abcdef01-0001"  # the other builder's, unfinished
    partial.mkdir(parents=True)
    (partial / "training.json").write_text("{}")
    holder = hold(settings.home)
    try:
        with pytest.raises(BuildRunningError):
            build(settings, encoder=encoder, force=True, show_progress=False)
    finally:
        holder.communicate(input="", timeout=30)
    assert (partial / "training.json").exists() and (settings.home / "CURRENT").read_text() == serving
