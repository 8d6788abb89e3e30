"""``hfmrs serve``: several recommender processes on one port, over one home, swapping builds live."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
from typer.testing import CliRunner

from hfmrs.pipeline import build
from services.cli import app
from tests.conftest import SNAPSHOT_2024, row24, write_snapshots
from tests.services.conftest import free_port


def wait_for(check, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds  # bounded: worker start-up copies a shard
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def health(url: str) -> dict | None:
    try:
        response = httpx.get(f"{url}/health", timeout=2)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def mcp_calls(url: str, times: int) -> list[str]:
    """An MCP session whose every call comes on a new connection, as a client's calls may (each lands on
    whichever process accepts it): the answers' bodies."""
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}
    hello = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}
    first = httpx.post(url, json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": hello}, headers=headers)
    assert first.status_code == 200, first.text
    if session := first.headers.get("mcp-session-id"):
        headers["Mcp-Session-Id"] = session
    httpx.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
    call = {"name": "similar_models", "arguments": {"model_id": "gpt2", "k": 2}}
    bodies = []
    for i in range(times):
        with httpx.Client(headers=headers, timeout=30) as fresh:  # a new connection each time
            answer = fresh.post(url, json={"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": call})
        bodies.append(f"{answer.status_code} {answer.text}")
    return bodies


def test_only_the_recommender_runs_several_processes():
    result = CliRunner().invoke(app, ["serve", "embedder", "--workers", "2"])
    assert result.exit_code == 2
    assert "only the recommender runs several processes, not the embedder" in result.output
    assert "hint:" in result.output


def test_two_recommender_processes_serve_one_home_and_switch_builds_together(settings, encoder):
    first = build(settings, encoder=encoder, show_progress=False).build_id
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HFMRS_HOME": str(settings.home), "HFMRS_SNAPSHOT_DIR": str(settings.snapshot_dir)}
    env["HFMRS_MCP"] = "1"
    serve = [sys.executable, "-m", "services.cli", "serve", "recommender", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    copies = settings.home / "replicas" / "1"
    try:
        # both processes are up when the second one's copy of the build exists and the port answers
        assert wait_for(lambda: (copies / first / "shard").is_dir() and health(url) is not None)
        answers = {httpx.get(f"{url}/v1/models/gpt2/similar", params={"k": 3}).content for _ in range(20)}
        assert len(answers) == 1  # whichever process answers, the same bytes
        # An MCP client's requests land on either process: each one stands alone (stateless MCP).
        calls = mcp_calls(f"{url}/mcp", 12)
        assert all(c.startswith("200 ") and "openai-community/gpt2" in c for c in calls), calls
        rows = [*SNAPSHOT_2024, row24("acme/brand-new-vit", ["vit", "image-classification"], "image-classification", 5)]
        write_snapshots(settings.snapshot_dir, rows24=rows)
        second = build(settings, encoder=encoder, show_progress=False).build_id

        def all_switched() -> bool:
            return {(health(url) or {}).get("build_id") for _ in range(10)} == {second}

        assert wait_for(all_switched)  # every process serves the new build (the copy's too)
        assert (copies / second / "shard").is_dir()
        found = httpx.get(f"{url}/v1/models/vision/vit-base/similar", params={"k": 3}).json()
        assert "acme/brand-new-vit" in [r["id"] for r in found["results"]]
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert "Traceback" not in stderr.decode(), stderr.decode()[-3000:]
    assert not copies.exists()  # a worker that stops removes its copy of the shard


def test_a_sigterm_to_hfmrs_up_stops_its_recommender_processes_too(settings, encoder):
    """docker stop and systemd send SIGTERM: the worker processes `up` started must not outlive it."""
    import signal

    build(settings, encoder=encoder, show_progress=False)
    ports = {name: free_port() for name in ("RECOMMENDER", "EMBEDDER", "INGEST")}
    env = {
        **os.environ,
        "HFMRS_HOME": str(settings.home),
        "HFMRS_SNAPSHOT_DIR": str(settings.snapshot_dir),
        "HFMRS_WORKERS": "2",
        "HFMRS_ENCODER_RUNTIME": "torch",  # no ONNX export while warming the embedder
        **{f"HFMRS_{name}_PORT": str(port) for name, port in ports.items()},
    }
    up = [sys.executable, "-m", "services.cli", "up", "--no-build", "--no-train", "--no-ui"]
    process = subprocess.Popen(up, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = f"http://127.0.0.1:{ports['RECOMMENDER']}"
    try:
        assert wait_for(lambda: health(url) is not None)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert wait_for(lambda: health(url) is None and not (settings.home / "replicas" / "1").exists(), 30)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=2)
