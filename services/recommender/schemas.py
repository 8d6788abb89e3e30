"""Response shapes of the public API.

Results are the engine's own dataclasses (:class:`hfmrs.engine.Similar`, :class:`~hfmrs.engine.Recommendation`,
:class:`~hfmrs.engine.ModelSummary`, :class:`~hfmrs.engine.MethodInfo`): FastAPI documents and serialises them
as they are, so a field added to a result is added to the API in one place.  Only what the engine has no
type for (the map, health, the seed's legacy shape) is declared here; errors are ``services.common``'s.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from hfmrs.engine import SORTS, MethodInfo, ModelSummary, Recommendation, Similar
from services.common import ErrorResponse

__all__ = [
    "ERRORS",
    "ColorBy",
    "Health",
    "LegacyItem",
    "LegacySort",
    "MapPoint",
    "MapResponse",
    "MethodInfo",
    "ModelSummary",
    "Recommendation",
    "Similar",
    "Sort",
]

Sort = StrEnum("Sort", {s.replace("-", "_"): s for s in SORTS})  # type: ignore[misc]


class LegacySort(StrEnum):
    none = "none"
    downloads_desc = "downloads-desc"
    downloads_asc = "downloads-asc"


class LegacyItem(BaseModel):
    model_id: str
    score: float


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
    coverage: dict[str, int] = Field(
        description="models: all of them; size, likes: how many have a known size (estimates included) "
        "and likes. A size filter leaves out the models of unknown size."
    )


ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown model id (with did-you-mean suggestions)."},
    422: {"model": ErrorResponse, "description": "Invalid parameter."},
    429: {"model": ErrorResponse, "description": "Over HFMRS_RATE_LIMIT for this client (with Retry-After)."},
    503: {"model": ErrorResponse, "description": "Not ready, or a dependency is down."},
}
