"""``/v1/models/...`` and ``/v1/search``: similar models, free-text search, a model's record, autocomplete."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from hfmrs.engine import K_MAX, MAX_ID_LENGTH, MAX_QUERY_LENGTH, Engine, ModelSummary, SearchResult, Similar
from hfmrs.search import DEFAULT_METHOD as DEFAULT_SEARCH_METHOD
from hfmrs.search import METHODS as SEARCH_METHODS
from services.clients import EmbedderClient
from services.common import ApiError
from services.recommender.deps import Collapse, Embedder, FilterParams, K, Live, ModelId
from services.recommender.schemas import Sort

router = APIRouter(prefix="/v1", tags=["models"])

SCORE = Sort("score")


@router.get("/models/{model_id:path}/similar", response_model=Similar, summary="Models similar to a model")
async def similar(
    model_id: ModelId,
    live: Live,
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
    relation: Annotated[
        Literal["all", "family", "alternatives"],
        Query(
            description="family: the model's lineage and release (base, fine-tunes, size variants, copies); "
            "alternatives: other models for the same job; all: both, best first."
        ),
    ] = "all",
    collapse: Collapse = True,
) -> Similar:
    # The hot path is an async route: the Edge queries take a few milliseconds, more than a thread-pool
    # hand-off would save.
    with live.acquire() as engine:
        return engine.similar(
            model_id,
            k=k,
            method=method,
            sort=sort.value,
            filters=filters,
            diversity=diversity,
            per_author=per_author,
            relation=relation,
            collapse=collapse,
        )


@router.get("/models/{model_id:path}", summary="Everything the catalog knows about a model")
def model_info(model_id: ModelId, live: Live) -> dict[str, Any]:
    with live.acquire() as engine:
        payload = engine.info(model_id)
    return {k: v for k, v in payload.items() if k != "tokens"}


@router.get("/models", response_model=list[ModelSummary], summary="Autocomplete: ids by prefix, most downloaded first")
def models(
    live: Live,
    prefix: Annotated[str, Query(max_length=MAX_ID_LENGTH)] = "",
    limit: Annotated[int, Query(ge=1, le=K_MAX)] = 10,
) -> list[ModelSummary]:
    with live.acquire() as engine:
        return engine.autocomplete(prefix, limit)


@router.get("/search", response_model=SearchResult, summary="Free-text search: describe the model you need")
def search(
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_LENGTH, description="What you need, in words.")],
    live: Live,
    embedder: Embedder,
    filters: FilterParams,
    k: K = 10,
    sort: Annotated[Sort, Query()] = SCORE,
    method: Annotated[
        Literal[tuple(SEARCH_METHODS)],  # type: ignore[valid-type]
        Query(description="; ".join(f"{name}: {text}" for name, text in SEARCH_METHODS.items())),
    ] = DEFAULT_SEARCH_METHOD,
    understand: Annotated[
        bool, Query(description="Read task, language, size, licence and format from the text (see `understood`).")
    ] = True,
    ignore: Annotated[
        list[str] | None,
        Query(max_length=20, description="Parts of `understood` to drop (tasks, languages, size, or a filter name)."),
    ] = None,
    collapse: Collapse = True,
) -> SearchResult:
    if not q.strip():
        raise ApiError(422, "invalid_parameter", "q is blank")
    with live.acquire() as engine:
        check_encoder(engine, embedder)
        vector = embedder.embed([q])[0]
        return engine.search(
            q,
            vector,
            k=k,
            method=method,
            sort=sort.value,
            filters=filters,
            understand=understand,
            ignore=ignore or (),
            collapse=collapse,
        )


def check_encoder(engine: Engine, embedder: EmbedderClient) -> None:
    """Free-text queries must be embedded by the encoder the build was made with."""
    wanted = engine.manifest.get("encoder")
    got = embedder.name
    if wanted and got != wanted:
        raise ApiError(503, "encoder_mismatch", f"the embedder serves {got!r} but the build was made with {wanted!r}")
