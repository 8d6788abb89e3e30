"""Fill in `text` vectors that are missing or were made by another encoder (the embedder's job)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from hfmrs.embedding import Encoder
from hfmrs.store.base import TEXT, ModelStore

log = logging.getLogger(__name__)
BATCH = 512


def stale_points(store: ModelStore, encoder_name: str) -> list[tuple[str, str]]:
    """(model id, soup) of points whose `text` vector is missing or not from ``encoder_name``."""
    return [
        (p.id, p.payload.get("soup", ""))
        for p in store.scroll(fields=["soup", "text_encoder"])
        if p.payload.get("text_encoder") != encoder_name
    ]


def embed_stale(store: ModelStore, encoder: Encoder, progress: Callable[..., Any] | None = None) -> int:
    todo = stale_points(store, encoder.name)
    for start in range(0, len(todo), BATCH):
        chunk = todo[start : start + BATCH]
        vectors = encoder.encode([soup for _, soup in chunk])
        store.set_vectors({model_id: {TEXT: v.tolist()} for (model_id, _), v in zip(chunk, vectors, strict=True)})
        store.set_payload([model_id for model_id, _ in chunk], {"text_encoder": encoder.name})
        if progress:
            progress(done=start + len(chunk), total=len(todo))
    log.info("embedded %d stale points", len(todo))
    return len(todo)
