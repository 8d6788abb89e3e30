"""The CLI: JSON output, exit codes and hints (typer's CliRunner, a small built catalog)."""

import json

import pytest
from typer.testing import CliRunner

from hfmrs.cli import app
from hfmrs.pipeline import build


@pytest.fixture
def cli_env(settings, encoder, monkeypatch):
    build(settings, encoder=encoder, show_progress=False)
    monkeypatch.setenv("HFMRS_HOME", str(settings.home))
    monkeypatch.setenv("HFMRS_SNAPSHOT_DIR", str(settings.snapshot_dir))
    from hfmrs.settings import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_recommend_json(cli_env):
    result = run("recommend", "gpt2", "-n", "3", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    keys = {
        "id",
        "score",
        "match",
        "downloads",
        "pipeline_tag",
        "params_billions",
        "params_source",
        "relation",
        "variants",
    }
    assert len(rows) == 3 and all(set(r) == keys for r in rows)
    assert "openai-community/gpt2" not in [r["id"] for r in rows]
    same = json.loads(run("recommend", "openai-community/gpt2", "-n", "3", "--json").stdout)
    assert same == rows


def test_recommend_filters_and_table(cli_env):
    result = run("recommend", "gpt2", "--task", "image-classification", "--sort", "downloads-asc", "--json")
    assert [r["id"] for r in json.loads(result.stdout)] == ["vision/vit-large", "vision/vit-base"]
    table = run("recommend", "bert-base-uncased", "--method", "jaccard", "-n", "2")
    assert table.exit_code == 0 and "bert-base-cased" in table.stdout


def test_unknown_id_exits_2_with_did_you_mean(cli_env):
    result = run("recommend", "gpt2-mediun")
    assert result.exit_code == 2
    assert "did you mean" in result.output and "gpt2-medium" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [(("-n", "0"), "-n must be from 1"), (("--method", "magic"), "unknown method"), (("--sort", "up"), "unknown sort")],
)
def test_bad_arguments_exit_2_with_hint(cli_env, args, message):
    result = run("recommend", "gpt2", *args)
    assert result.exit_code == 2 and message in result.output and "hint" in result.output


def test_info_and_no_build(cli_env, monkeypatch, tmp_path):
    info = run("info", "bert-base-uncased")
    assert info.exit_code == 0 and json.loads(info.stdout)["id"] == "google-bert/bert-base-uncased"
    monkeypatch.setenv("HFMRS_HOME", str(tmp_path / "empty"))
    from hfmrs.settings import get_settings

    get_settings.cache_clear()
    result = run("recommend", "gpt2")
    assert result.exit_code == 1 and "hfmrs build" in result.output


def test_diversity_options(cli_env):
    result = run("recommend", "gpt2", "-n", "3", "--per-author", "1", "--json")
    rows = json.loads(result.stdout)
    owners = [r["id"].split("/")[0] for r in rows if "/" in r["id"]]
    assert len(owners) == len(set(owners))
    bad = run("recommend", "gpt2", "--diversity", "2")
    assert bad.exit_code == 2 and "diversity must be" in bad.output


def test_recommend_relation_and_collapse(cli_env):
    family = json.loads(run("recommend", "gpt2", "-n", "10", "--relation", "family", "--json").stdout)
    assert family and {r["relation"] for r in family} == {"family"}
    alternatives = json.loads(run("recommend", "gpt2", "-n", "10", "--relation", "alternatives", "--json").stdout)
    assert alternatives and {r["relation"] for r in alternatives} == {"alternative"}
    flat = json.loads(run("recommend", "gpt2-medium", "-n", "14", "--no-collapse", "--json").stdout)
    assert "acme/gpt2-gguf" in {r["id"] for r in flat}
    bad = run("recommend", "gpt2", "--relation", "cousins")
    assert bad.exit_code == 2 and "unknown relation 'cousins'" in bad.output and "hint" in bad.output


JUDGED = """\
query: gpt2 | llm
2: gpt2-medium, openai-community/gpt2-large
query: meta/llama-7b | llm
1: gpt2-medium, openai-community/gpt2-large
query: vision/vit-base | vision
2: vision/vit-large
query: bert-base-cased | fill-mask
2: google-bert/bert-base-uncased, Habana/bert-base-uncased
"""


def test_tune_fused_prints_both_halves(cli_env, tmp_path):
    (tmp_path / "small.txt").write_text(JUDGED, encoding="utf-8")
    result = run("tune-fused", "--judged-dir", str(tmp_path), "--rounds", "1", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"shipped", "tuned", "halves"} and set(body["halves"]) == {"tune", "report"}
    assert set(body["halves"]["report"]) == {"shipped", "tuned"} and body["tuned"]["underused"] == -10.0
    empty = run("tune-fused", "--judged-dir", str(tmp_path / "none"))
    assert empty.exit_code == 2 and "no judged query of the tune half" in empty.output and "hint" in empty.output
    assert run("tune-fused", "--rounds", "0").exit_code == 2


def test_a_build_held_by_another_process_is_one_line_not_a_traceback(cli_env, settings, monkeypatch):
    import os
    import subprocess
    import sys

    from hfmrs.settings import get_settings
    from tests.services.conftest import free_port

    monkeypatch.setenv("HFMRS_RECOMMENDER_URL", f"http://127.0.0.1:{free_port()}")  # no API there either
    get_settings.cache_clear()

    hold = (
        "import sys, time; from hfmrs.engine import Engine; from hfmrs.settings import Settings; "
        "e = Engine.open(Settings()); print('ready', flush=True); sys.stdin.read()"
    )
    env = {**os.environ, "HFMRS_HOME": str(settings.home), "HFMRS_SNAPSHOT_DIR": str(settings.snapshot_dir)}
    holder = subprocess.Popen(
        [sys.executable, "-c", hold], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "ready"  # as the running services hold it
        result = run("info", "gpt2")
    finally:
        holder.communicate(input="", timeout=30)
    assert result.exit_code == 1
    assert "the build is open in another process, and the recommender API at" in result.output
    assert "hint: start the services" in result.output and "Traceback" not in result.output


def test_beside_running_services_the_cli_answers_through_their_api(cli_env, settings, monkeypatch):
    """`make run` holds the build; `hfmrs recommend` in a second terminal answers through the API."""
    import os
    import subprocess
    import sys
    import time

    import httpx

    from hfmrs.settings import get_settings
    from tests.services.conftest import free_port

    direct = json.loads(run("recommend", "gpt2", "-n", "5", "--json").stdout)  # before anyone holds the build
    port = free_port()
    env = {**os.environ, "HFMRS_HOME": str(settings.home), "HFMRS_SNAPSHOT_DIR": str(settings.snapshot_dir)}
    serve = [sys.executable, "-m", "services.cli", "serve", "recommender", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):  # bounded: 30 s
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        monkeypatch.setenv("HFMRS_RECOMMENDER_URL", f"http://127.0.0.1:{port}")
        get_settings.cache_clear()
        through_api = run("recommend", "gpt2", "-n", "5", "--json")
        assert through_api.exit_code == 0, through_api.output
        assert json.loads(through_api.stdout) == direct  # the same engine answers
        table = run("recommend", "bert-base-uncased", "--method", "jaccard", "-n", "2")
        assert table.exit_code == 0 and "bert-base-cased" in table.stdout
        info = run("info", "gpt2")
        assert info.exit_code == 0 and json.loads(info.stdout)["id"] == "openai-community/gpt2"
        methods = run("methods")
        assert methods.exit_code == 0 and "cosine" in methods.stdout
        unknown = run("recommend", "gpt2-mediun")
        assert unknown.exit_code == 2 and "did you mean" in unknown.output and "gpt2-medium" in unknown.output
        bad = run("recommend", "gpt2", "--method", "nope")
        assert bad.exit_code == 2 and "unknown method" in bad.output and "Traceback" not in bad.output
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize(
    ("args", "message"), [(("-n", "0"), "-n must be from 1 to 100"), (("--sort", "best"), "unknown sort")]
)
def test_arguments_are_checked_before_the_build_is_opened(tmp_path, monkeypatch, args, message):
    from hfmrs.settings import get_settings

    monkeypatch.setenv("HFMRS_HOME", str(tmp_path / "no-build-here"))  # opening would fail: it must not get there
    get_settings.cache_clear()
    try:
        result = run("recommend", "gpt2", *args)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2 and message in result.output and "hint" in result.output


def test_a_second_builder_exits_1_saying_who_builds(cli_env, settings):
    from tests.hfmrs.store.test_lock import hold

    holder = hold(settings.home)  # e.g. `hfmrs up`'s background training, or a cron refresh
    try:
        result = run("build", "--force", "--no-train")
    finally:
        holder.communicate(input="", timeout=30)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "build 20261202T000000-abcdef01-0001 is running in this home (pid" in result.output
    assert "hint: wait for it to finish" in result.output
