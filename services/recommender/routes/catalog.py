"""``/v1/methods`` and ``/v1/map``: what the serving build offers, and the catalog as a 2-D map."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from hfmrs.engine import K_MAX, MethodInfo
from hfmrs.projection import catalog_map, subsample
from services.recommender.deps import Live, check_model_id
from services.recommender.schemas import ColorBy, MapResponse

router = APIRouter(prefix="/v1", tags=["catalog"])

MAP_LIMIT = 20_000  # points per /v1/map answer: enough for a WebGL scatter, small enough for one response


@router.get("/methods", response_model=list[MethodInfo], summary="Recommendation methods of the serving build")
def methods(live: Live) -> list[MethodInfo]:
    with live.acquire() as engine:
        return engine.method_infos()


@router.get("/map", response_model=MapResponse, summary="2-D map of the catalog (for the UI's explore tab)")
def catalog_map_route(
    live: Live,
    color_by: Annotated[ColorBy, Query(description="What the UI colours points by.")] = ColorBy.task,
    limit: Annotated[int, Query(ge=1, le=MAP_LIMIT, description="Most points returned (a seeded sample).")] = 5000,
    include: Annotated[
        list[str] | None,
        Query(max_length=K_MAX + 1, description="Model ids always on the map (a model and its neighbours)."),
    ] = None,
) -> dict[str, Any]:
    with live.acquire() as engine:
        keep = [engine.resolve(check_model_id(i)) for i in include or []]
        points = catalog_map(engine.store, engine.build_id, live.builds.artifact_dir(engine.build_id))
        build_id = engine.build_id
    return {
        "build_id": build_id,
        "method": "pca",
        "color_by": color_by,
        "total": len(points),
        "points": subsample(points, limit, keep),
    }
