"""The recommender service: HFMRS's public HTTP API (OpenAPI docs at /docs).

Routes parse and validate input, call the engine (through the live swap), and shape JSON; no ranking
happens here.  Free-text search asks the embedder service for the query vector over HTTP.
"""

from __future__ import annotations

import logging
from enum import Enum, StrEnum
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from hfmrs.clients import EmbedderClient
from hfmrs.engine import K_MAX, MAX_ID_LENGTH, MAX_QUERY_LENGTH, SORTS, Engine, Recommendation
from hfmrs.projection import catalog_map, subsample
from hfmrs.serving import LiveEngine
from hfmrs.settings import Settings, get_settings
from hfmrs.store.base import Filters
from services.common import ApiError, admin_guard, error_response, install_cors, install_error_handlers

log = logging.getLogger(__name__)

Sort = Enum("Sort", {s.replace("-", "_"): s for s in SORTS}, type=str)  # type: ignore[misc]
SCORE = Sort("score")


class LegacySort(StrEnum):
    none = "none"
    downloads_desc = "downloads-desc"
    downloads_asc = "downloads-asc"


class Result(BaseModel):
    id: str
    score: float
    downloads: int
    likes: int | None
    pipeline_tag: str | None
    library: str | None
    last_modified: str | None = None
    why: list[str] = Field(default_factory=list, description="Evidence shared with the query model.")
    license: str | None = None
    params_billions: float | None = Field(None, description="Parameters in billions (None: size unknown).")
    params_source: str | None = Field(
        None, description="Where the size comes from: safetensors or listed (exact); name, lineage, family (estimates)."
    )
    weight_format: str | None = Field(
        None, description="Quantized storage format (gguf, awq, gptq, fp8, mlx-4bit, ...); None = full precision."
    )
    leaderboard_average: float | None = Field(None, description="Open LLM Leaderboard v2 average score (LLMs).")


UnknownSize = Field(
    None, description="Models of unknown size that a size filter left out (null when no size filter was given)."
)
Notes = Field(default_factory=list, description="What to know about this list (left-out models, partial sorts).")


class SimilarResponse(BaseModel):
    query: str = Field(description="Canonical id of the query model.")
    method: str
    results: list[Result]
    unknown_size: int | None = UnknownSize
    notes: list[str] = Notes


class SearchResponse(BaseModel):
    query: str
    method: str = "text"
    results: list[Result]
    unknown_size: int | None = UnknownSize
    notes: list[str] = Notes


class LegacyItem(BaseModel):
    model_id: str
    score: float


class ModelSummary(BaseModel):
    id: str
    downloads: int


class MethodInfo(BaseModel):
    name: str
    description: str
    default: bool


class ColorBy(StrEnum):
    task = "task"
    cluster = "cluster"


class MapPoint(BaseModel):
    id: str
    x: float
    y: float
    pipeline_tag: str | None
    cluster: int | None
    downloads: int = 0


class MapResponse(BaseModel):
    build_id: str
    method: str = Field("pca", description="How the 2-D coordinates were made (PCA of the `text` vectors).")
    color_by: ColorBy
    total: int = Field(description="Models on the full map, before subsampling to `limit`.")
    points: list[MapPoint]


class Health(BaseModel):
    status: str
    build_id: str
    models: int
    snapshots: list[str]
    encoder: str
    methods: list[str]


class ErrorBody(BaseModel):
    code: str
    message: str
    suggestions: list[str] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown model id (with did-you-mean suggestions)."},
    422: {"model": ErrorResponse, "description": "Invalid parameter."},
    503: {"model": ErrorResponse, "description": "Not ready, or a dependency is down."},
}


FilterTag = Annotated[str | None, Query(max_length=200, description="Only models with this pipeline tag (task).")]
FilterLibrary = Annotated[str | None, Query(max_length=200, description="Only models of this library.")]
FilterLicense = Annotated[str | None, Query(max_length=200, description="Only models under this license.")]
FilterAuthor = Annotated[str | None, Query(max_length=200, description="Only models by this author.")]
MinDownloads = Annotated[
    int | None, Query(ge=0, le=10**12, description="Only models with at least this many downloads.")
]
ClusterParam = Annotated[int | None, Query(ge=0, le=10**6, description="Only models in this k-means cluster.")]
FitsIn = Annotated[
    float | None,
    Query(
        gt=0,
        le=100_000,
        description="Only models whose weights (plus 20 % for activations) fit in this many GB; models of unknown "
        "size are left out and counted in `unknown_size`.",
    ),
]
Dtype = Annotated[
    Literal["fp32", "fp16", "bf16", "int8", "int4"],
    Query(
        description="Precision full-precision weights are loaded at, for fits_in_gb (bytes per parameter: 4, 2, 2, "
        "1, 0.5). Quantized repositories (GGUF, AWQ, GPTQ, ...) are sized at their own format."
    ),
]
MaxParams = Annotated[
    float | None, Query(gt=0, le=100_000, description="Only models with at most this many billion parameters.")
]
K = Annotated[int, Query(ge=1, le=K_MAX, description=f"Number of results (1-{K_MAX}).")]


def filter_query(
    pipeline_tag: FilterTag = None,
    library: FilterLibrary = None,
    license: FilterLicense = None,
    author: FilterAuthor = None,
    min_downloads: MinDownloads = None,
    cluster: ClusterParam = None,
    fits_in_gb: FitsIn = None,
    dtype: Dtype = "fp16",
    max_params_billions: MaxParams = None,
) -> Filters:
    """The filter query parameters every listing route takes, as one dependency."""
    return Filters(
        pipeline_tag=pipeline_tag,
        library=library,
        license=license,
        author=author,
        min_downloads=min_downloads,
        cluster=cluster,
        max_params_billions=max_params_billions,
        fits_in_gb=fits_in_gb,
        dtype=dtype,
    )


FilterParams = Annotated[Filters, Depends(filter_query)]
MAP_LIMIT = 20_000  # points per /v1/map answer: enough for a WebGL scatter, small enough for one response


def _results(recs: list[Recommendation]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in recs]


def create_app(
    settings: Settings | None = None,
    live: LiveEngine | None = None,
    embedder: EmbedderClient | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    live = live or LiveEngine(settings)
    if embedder is None:
        url = settings.embedder_url or f"http://{settings.host}:{settings.embedder_port}"
        embedder = EmbedderClient(httpx.Client(base_url=url, timeout=10.0))

    app = FastAPI(
        title="HFMRS recommender",
        version="1.0",
        description="Similar Hugging Face models: by model id, by free text, with filters and explanations.",
        responses=ERRORS,
    )
    install_error_handlers(app)
    install_cors(app)
    app.state.live = live
    app.state.settings = settings

    def model_id_checked(model_id: str) -> str:
        if len(model_id) > MAX_ID_LENGTH:
            raise ApiError(422, "invalid_parameter", f"model id is longer than {MAX_ID_LENGTH} characters")
        if not model_id.strip(" /"):
            raise ApiError(422, "invalid_parameter", "model id is empty")
        return model_id

    v1 = APIRouter(prefix="/v1", tags=["v1"])

    @v1.get("/models/{model_id:path}/similar", response_model=SimilarResponse, summary="Models similar to a model")
    async def similar(
        model_id: str,
        filters: FilterParams,
        k: K = 10,
        method: Annotated[
            str | None, Query(max_length=50, description="Method (GET /v1/methods); default: the best.")
        ] = None,
        sort: Annotated[Sort, Query(description="Order of the top k.")] = SCORE,
        diversity: Annotated[
            float | None,
            Query(ge=0, le=1, description="MMR λ: 1 = the method's ranking, lower = more varied results; unset = off."),
        ] = None,
        per_author: Annotated[
            int | None, Query(ge=1, le=K_MAX, description="At most this many results per author.")
        ] = None,
    ) -> Any:
        model_id_checked(model_id)
        with live.acquire() as engine:
            result = engine.similar(
                model_id,
                k=k,
                method=method,
                sort=sort.value,
                filters=filters,
                diversity=diversity,
                per_author=per_author,
            )
        # The hot path is an async route: the Edge query takes well under a millisecond, less than a
        # thread-pool hand-off; the response model serialises straight to JSON bytes (pydantic-core).
        return {
            "query": result.query,
            "method": result.method,
            "results": _results(result.results),
            "unknown_size": result.unknown_size,
            "notes": result.notes,
        }

    @v1.get("/models/{model_id:path}", summary="Everything the catalog knows about a model")
    def model_info(model_id: str) -> dict[str, Any]:
        model_id_checked(model_id)
        with live.acquire() as engine:
            payload = engine.info(model_id)
        return {k: v for k, v in payload.items() if k not in ("tokens",)}

    @v1.get("/models", response_model=list[ModelSummary], summary="Autocomplete: ids by prefix, most downloaded first")
    def models(
        prefix: Annotated[str, Query(max_length=MAX_ID_LENGTH)] = "",
        limit: Annotated[int, Query(ge=1, le=K_MAX)] = 10,
    ) -> list[dict[str, Any]]:
        with live.acquire() as engine:
            return engine.autocomplete(prefix, limit)

    @v1.get("/search", response_model=SearchResponse, summary="Free-text search: describe the model you need")
    def search(
        q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_LENGTH, description="What you need, in words.")],
        filters: FilterParams,
        k: K = 10,
        sort: Annotated[Sort, Query()] = SCORE,
    ) -> dict[str, Any]:
        if not q.strip():
            raise ApiError(422, "invalid_parameter", "q is blank")
        with live.acquire() as engine:
            check_encoder(engine, embedder)
            vector = embedder.embed([q])[0]
            results = engine.search_vector(vector, k=k, sort=sort.value, filters=filters)
            unknown, notes = engine.coverage(filters, sort.value, results)
        return {"query": q, "method": "text", "results": _results(results), "unknown_size": unknown, "notes": notes}

    @v1.get("/methods", response_model=list[MethodInfo], summary="Recommendation methods of the serving build")
    def methods() -> list[dict[str, Any]]:
        with live.acquire() as engine:
            return [
                {"name": n, "description": r.description, "default": n == engine.default_method}
                for n, r in engine.recommenders.items()
            ]

    @v1.get("/map", response_model=MapResponse, summary="2-D map of the catalog (for the UI's explore tab)")
    def catalog_map_route(
        color_by: Annotated[ColorBy, Query(description="What the UI colours points by.")] = ColorBy.task,
        limit: Annotated[int, Query(ge=1, le=MAP_LIMIT, description="Most points returned (a seeded sample).")] = 5000,
        include: Annotated[
            list[str] | None,
            Query(max_length=K_MAX + 1, description="Model ids always on the map (a model and its neighbours)."),
        ] = None,
    ) -> dict[str, Any]:
        with live.acquire() as engine:
            keep = [engine.resolve(model_id_checked(i)) for i in include or []]
            points = catalog_map(engine.store, engine.build_id, live.builds.artifact_dir(engine.build_id))
            build_id = engine.build_id
        return {
            "build_id": build_id,
            "method": "pca",
            "color_by": color_by,
            "total": len(points),
            "points": subsample(points, limit, keep),
        }

    app.include_router(v1)

    @app.get("/recommend", response_model=list[LegacyItem], tags=["seed"], summary="The seed's endpoint (kept)")
    async def recommend(
        model_id: Annotated[str, Query(min_length=1, max_length=MAX_ID_LENGTH)],
        method: Annotated[str | None, Query(max_length=50)] = None,
        recommend_no: Annotated[int, Query(ge=1, le=K_MAX)] = 10,
        sort_by: Annotated[LegacySort, Query()] = LegacySort.none,
    ) -> Any:
        sort = "score" if sort_by is LegacySort.none else sort_by.value
        with live.acquire() as engine:
            result = engine.similar(model_id, k=recommend_no, method=method, sort=sort)
        return [{"model_id": r.id, "score": r.score} for r in result.results]

    @app.get("/health", response_model=Health, tags=["ops"], summary="200 only when a build is being served")
    def health() -> Any:
        if not live.ready:
            return error_response(503, "not_ready", "no build is being served yet")
        with live.acquire() as engine:
            m = engine.manifest
            return {
                "status": "ok",
                "build_id": engine.build_id,
                "models": len(engine.ids),
                "snapshots": m.get("snapshots", []),
                "encoder": m.get("encoder", ""),
                "methods": engine.methods,
            }

    @app.post(
        "/admin/reload", tags=["ops"], summary="Switch to the newest build now", dependencies=[admin_guard(settings)]
    )
    def reload() -> dict[str, Any]:
        return {"build_id": live.reload()}

    @app.get("/", include_in_schema=False)
    def root() -> JSONResponse:
        return JSONResponse({"service": "hfmrs-recommender", "docs": "/docs", "health": "/health"})

    return app


def check_encoder(engine: Engine, embedder: EmbedderClient) -> None:
    """Free-text queries must be embedded by the encoder the build was made with."""
    wanted = engine.manifest.get("encoder")
    got = embedder.name
    if wanted and got != wanted:
        raise ApiError(503, "encoder_mismatch", f"the embedder serves {got!r} but the build was made with {wanted!r}")
