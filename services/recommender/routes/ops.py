"""Operations: health, the admin reload, the service root, and the seed's legacy ``/recommend``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from hfmrs.engine import K_MAX, MAX_ID_LENGTH
from services.common import error_response
from services.recommender.deps import Live
from services.recommender.schemas import Health, LegacyItem, LegacySort

router = APIRouter(tags=["ops"])
seed = APIRouter(tags=["seed"])


@router.get("/health", response_model=Health, summary="200 only when a build is being served")
def health(live: Live) -> Any:
    if not live.ready:
        return error_response(503, "not_ready", "no build is being served yet")
    with live.acquire() as engine:
        manifest = engine.manifest
        return {
            "status": "ok",
            "build_id": engine.build_id,
            "models": len(engine.ids),
            "snapshots": manifest.get("snapshots", []),
            "encoder": manifest.get("encoder", ""),
            "methods": engine.methods,
            "coverage": engine.known_facts,
        }


def reload(request: Request) -> dict[str, Any]:
    """Switch to the newest build now (mounted by the app with the admin guard)."""
    return {"build_id": request.app.state.live.reload()}


@router.get("/", include_in_schema=False)
def root() -> JSONResponse:
    return JSONResponse({"service": "hfmrs-recommender", "docs": "/docs", "health": "/health"})


@seed.get("/recommend", response_model=list[LegacyItem], summary="The seed's endpoint (kept)")
async def recommend(
    live: Live,
    model_id: Annotated[str, Query(min_length=1, max_length=MAX_ID_LENGTH)],
    method: Annotated[str | None, Query(max_length=50)] = None,
    recommend_no: Annotated[int, Query(ge=1, le=K_MAX)] = 10,
    sort_by: Annotated[LegacySort, Query()] = LegacySort.none,
) -> Any:
    sort = "score" if sort_by is LegacySort.none else sort_by.value
    with live.acquire() as engine:
        result = engine.similar(model_id, k=recommend_no, method=method, sort=sort)
    return [{"model_id": r.id, "score": r.score} for r in result.results]
