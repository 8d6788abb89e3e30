"""Background jobs of the services: one at a time, progress, results, failures that keep the service up."""

from __future__ import annotations

import threading

import pytest

from services.jobs import JobConflictError, JobRunner, UnknownJobError


def test_a_job_reports_progress_and_its_result():
    runner = JobRunner()

    def work(progress):
        progress(done=1, total=2)
        progress(done=2)
        return {"models": 7}

    job = runner.wait(runner.submit("build", work).id, timeout=10)
    assert job.status == "succeeded" and job.result == {"models": 7} and job.error is None
    assert job.progress == {"done": 2, "total": 2} and job.finished is not None
    assert job.to_dict()["kind"] == "build"


def test_one_job_at_a_time_and_the_next_after_it():
    runner = JobRunner()
    release = threading.Event()
    first = runner.submit("build", lambda progress: release.wait(10) and {})
    with pytest.raises(JobConflictError, match=f"job {first.id} \\(build\\) is still running"):
        runner.submit("crawl", lambda progress: {})
    release.set()
    assert runner.wait(first.id, timeout=10).status == "succeeded"
    second = runner.wait(runner.submit("crawl", lambda progress: {"ok": True}).id, timeout=10)
    assert second.status == "succeeded" and second.result == {"ok": True}


def test_a_failing_job_says_why_and_frees_the_runner():
    runner = JobRunner()

    def broken(progress):
        raise OSError("disk full")

    job = runner.wait(runner.submit("build", broken).id, timeout=10)
    assert job.status == "failed" and job.error == "OSError: disk full" and job.result is None
    assert runner.wait(runner.submit("build", lambda progress: {}).id, timeout=10).status == "succeeded"


def test_unknown_job():
    with pytest.raises(UnknownJobError):
        JobRunner().get("nope")
