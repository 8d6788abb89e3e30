"""The filter field table: validation, conditions, the memory rule, and one new field seen everywhere."""

from __future__ import annotations

import copy
import importlib
import pickle

import pytest
from fastapi.testclient import TestClient
from qdrant_client import QdrantClient
from typer.testing import CliRunner

from hfmrs import filters as filters_module
from hfmrs.filters import (
    FIELDS,
    AnyOf,
    FilterField,
    Filters,
    Index,
    IsEmpty,
    Match,
    Range,
    holds,
    params_limit_for_memory,
    quantized_limit_for_memory,
)
from hfmrs.store.base import TEXT, PointData, VectorSpec
from hfmrs.store.edge import EdgeStore
from hfmrs.store.server import ServerStore


def test_memory_rule():
    assert params_limit_for_memory(24, "fp16") == pytest.approx(10.737, abs=1e-3)
    assert params_limit_for_memory(24, "int8") == pytest.approx(2 * 10.737, abs=2e-3)
    assert params_limit_for_memory(8, "fp16") < 7 < params_limit_for_memory(24, "fp16")  # 7B: 24 GB, not 8 GB
    assert quantized_limit_for_memory(12) == 10.0
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="positive number of GB"):
            params_limit_for_memory(bad, "fp16")
    with pytest.raises(ValueError, match="dtype"):
        params_limit_for_memory(24, "fp8")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"min_downloads": -1}, "min_downloads must be at least 0, got -1"),
        ({"min_downloads": 1.5}, "min_downloads must be a whole number"),
        ({"min_downloads": "many"}, "min_downloads must be a number"),
        ({"fits_in_gb": 0}, "fits_in_gb must be more than 0"),
        ({"fits_in_gb": 8, "dtype": "fp8"}, "unknown dtype 'fp8'; choose one of: fp32, fp16, bf16, int8, int4"),
        ({"pipeline_tag": "x" * 201}, "pipeline_tag is longer than 200 characters"),
        ({"size_unknown": "yes"}, "size_unknown must be true or false"),
    ],
)
def test_bad_values_name_the_field(values, message):
    with pytest.raises(ValueError) as info:
        Filters(**values)
    assert message in str(info.value)


def test_unknown_filter_is_a_type_error():
    with pytest.raises(TypeError, match="unknown filter 'colour'; filters are: pipeline_tag, library"):
        Filters(colour="blue")


def test_values_defaults_and_identity():
    f = Filters(pipeline_tag="fill-mask", dtype="fp16", min_downloads=10)
    assert f.values == {"pipeline_tag": "fill-mask", "min_downloads": 10}  # the default dtype is not a value
    assert (f.pipeline_tag, f.dtype, f.library, f.exclude) == ("fill-mask", "fp16", None, ())
    assert f == Filters(min_downloads=10, pipeline_tag="fill-mask") and hash(f) == hash(Filters(**f.values))
    assert f.with_exclude("a", "b", "a").exclude == ("a", "b") and f.replace(min_downloads=None).values == {
        "pipeline_tag": "fill-mask"
    }
    assert pickle.loads(pickle.dumps(f.with_exclude("a"))) == copy.deepcopy(f.with_exclude("a"))
    with pytest.raises(AttributeError):
        f.pipeline_tag = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError, match="no field 'colour'"):
        _ = f.colour


def test_conditions_and_their_python_reference():
    f = Filters(pipeline_tag="fill-mask", min_downloads=10, fits_in_gb=8, dtype="int8", size_unknown=True)
    assert f.conditions() == [
        Match("pipeline_tag", "fill-mask"),
        Range("downloads", gte=10),
        AnyOf((Range("fp_params_billions", lte=7.158), Range("quantized_weights_gb", lte=6.667))),
        IsEmpty("params_billions"),
    ]
    assert (
        f.sized
        and not f.without_size().sized
        and f.without_size().values
        == {
            "pipeline_tag": "fill-mask",
            "min_downloads": 10,
            "dtype": "int8",
        }
    )
    assert f.only_unknown_size().conditions()[-1] == IsEmpty("params_billions")
    assert holds(Match("languages", "de"), {"languages": ["en", "de"]})  # a list matches by any element
    assert holds(AnyOf((Range("a", lte=1), Range("b", lte=1))), {"b": 0.5})
    assert not holds(Range("a", gte=0), {"a": None}) and holds(IsEmpty("a"), {"a": []})
    assert not Filters(min_downloads=5).with_exclude("m").matches({"id": "m", "downloads": 9})


# -- one new field, declared once, appears in the store adapters, the API, the CLI and the UI ---------------

MODEL_TYPE = FilterField(
    "model_type",
    str,
    "Only models of this model type (bert, llama, ...).",
    "Model type",
    lambda value, _: Match("model_type", value),
    (Index("model_type", "keyword"),),
    max_length=40,
)


@pytest.fixture
def with_model_type(monkeypatch):
    monkeypatch.setattr(filters_module, "FIELDS", (*FIELDS, MODEL_TYPE))
    import services.recommender.app as app_module
    import services.recommender.deps as deps
    import services.recommender.routes.models as models

    def reload_api():  # the API's routes read the table when their modules load
        for module in (deps, models, app_module):
            importlib.reload(module)

    reload_api()
    yield app_module
    monkeypatch.undo()
    reload_api()


def points() -> list[PointData]:
    types = ["bert", "llama", "bert", "gpt2"]
    return [
        PointData(f"org/m{i}", {"id": f"org/m{i}", "model_type": t}, {TEXT: [1.0, float(i)]})
        for i, t in enumerate(types)
    ]


@pytest.mark.parametrize("backend", ["edge", "server"])
def test_a_new_field_reaches_both_store_adapters(with_model_type, tmp_path, backend):
    specs = [VectorSpec(TEXT, 2)]
    if backend == "edge":
        store = EdgeStore.create(tmp_path / "shard", specs, [])
    else:
        store = ServerStore.create(QdrantClient(":memory:"), "models", specs, [])
    try:
        store.upsert(points())
        store.optimize()
        hits = store.search(TEXT, [1.0, 0.0], 10, Filters(model_type="bert"))
        assert sorted(h.model_id for h in hits) == ["org/m0", "org/m2"]
        assert store.count(Filters(model_type="llama")) == 1
        if backend == "edge":  # and the field got its index
            assert "model_type" in store._shard.info().payload_schema
    finally:
        store.close()


def test_a_new_field_is_an_api_parameter(with_model_type, settings, encoder):
    from hfmrs.pipeline import build
    from services.recommender.live import LiveEngine

    build(settings, encoder=encoder, show_progress=False)
    live = LiveEngine(settings, check_interval=0.0)
    try:
        api = TestClient(with_model_type.create_app(settings, live=live))
        schema = api.get("/openapi.json").json()
        params = schema["paths"]["/v1/models/{model_id}/similar"]["get"]["parameters"]
        assert "model_type" in {p["name"] for p in params}
        body = api.get("/v1/models/gpt2/similar", params={"model_type": "bert", "k": 20}).json()
        assert body["results"] and {r["id"] for r in body["results"]} <= {
            "bert-base-cased",
            "google-bert/bert-base-uncased",
            "acme/broken-cells",
        }
        too_long = api.get("/v1/models/gpt2/similar", params={"model_type": "x" * 41})
        assert too_long.status_code == 422 and "model_type" in too_long.json()["error"]["message"]
    finally:
        live.close()


def test_a_new_field_is_a_cli_option(with_model_type):
    import typer

    from hfmrs.cli import recommend, with_filter_options

    app = typer.Typer()
    app.command()(with_filter_options(recommend.__wrapped__))
    runner = CliRunner()
    assert "--model-type" in runner.invoke(app, ["--help"], env={"COLUMNS": "200"}).stdout
    bad = runner.invoke(app, ["gpt2", "--model-type", "x" * 41])  # refused before any store is opened
    assert bad.exit_code == 2 and "model_type is longer than 40 characters" in bad.output


def test_a_new_field_is_a_ui_control(with_model_type):
    from services.ui import handlers
    from services.ui.app import build_blocks

    assert "model_type" in [f.name for f in handlers.ui_fields()]
    assert handlers.filter_params({"model_type": " bert "}) == {"model_type": "bert"}
    from services.clients import RecommenderClient

    blocks = build_blocks(RecommenderClient.from_url("http://127.0.0.1:9", timeout=1.0))  # no API: no methods yet
    labels = [getattr(block, "label", None) for block in blocks.blocks.values()]
    assert "Model type" in labels
