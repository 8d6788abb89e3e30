"""Dependencies the recommender's routes share: the live engine, the embedder, validated ids, and the
filter query parameters, which are made from the one field table (:data:`hfmrs.filters.FIELDS`)."""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request

from hfmrs.engine import K_MAX, MAX_ID_LENGTH
from hfmrs.filters import FilterField, Filters, public_fields
from services.clients import EmbedderClient
from services.common import ApiError
from services.recommender.live import LiveEngine


# Dependencies are ``async def`` although they never await: FastAPI runs a plain ``def`` dependency in its
# thread pool, a hand-off per dependency per request for work of a microsecond.
async def get_live(request: Request) -> LiveEngine:
    return request.app.state.live


async def get_embedder(request: Request) -> EmbedderClient:
    return request.app.state.embedder


Live = Annotated[LiveEngine, Depends(get_live)]
Embedder = Annotated[EmbedderClient, Depends(get_embedder)]


def check_model_id(model_id: str) -> str:
    if len(model_id) > MAX_ID_LENGTH:
        raise ApiError(422, "invalid_parameter", f"model id is longer than {MAX_ID_LENGTH} characters")
    if not model_id.strip(" /"):
        raise ApiError(422, "invalid_parameter", "model id is empty")
    return model_id


async def checked_model_id(model_id: Annotated[str, Path(description="A Hub id, legacy id or URL-encoded id.")]) -> str:
    return check_model_id(model_id)


ModelId = Annotated[str, Depends(checked_model_id)]
K = Annotated[int, Query(ge=1, le=K_MAX, description=f"Number of results (1-{K_MAX}).")]
Collapse = Annotated[
    bool, Query(description="Group quantized, format and test copies under the model they copy (`variants`).")
]


def query_parameter(field: FilterField) -> inspect.Parameter:
    """A filter field as an optional query parameter, with its bounds, its choices and its help."""
    kind: Any = Literal[field.choices] if field.choices else field.type  # type: ignore[valid-type]
    bounds = {k: getattr(field, k) for k in ("ge", "gt", "le", "max_length") if getattr(field, k) is not None}
    annotation = Annotated[kind | None, Query(description=field.help, **bounds)]
    return inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=field.default, annotation=annotation)


def filter_dependency() -> Any:
    """``Depends()``-able: every public filter field as a query parameter, the values as one Filters."""

    async def filters(**values: Any) -> Filters:
        return Filters(**values)  # bounds were checked by FastAPI; Filters checks what spans fields

    filters.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [query_parameter(f) for f in public_fields()], return_annotation=Filters
    )
    return filters


FilterParams = Annotated[Filters, Depends(filter_dependency())]
