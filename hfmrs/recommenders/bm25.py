"""`bm25`: lexical ranking of the soups with BM25, as Qdrant sparse vectors.

Documents were embedded at build time with term-frequency weights (``Bm25Config(avg_len=mean soup
length)``, :func:`hfmrs.pipeline.bm25_documents`) and the `bm25` vector carries Qdrant's IDF modifier,
so a query vector of ones over the query soup's tokens scores exactly BM25.  The query side needs no
statistics: ``embed_query`` gives every unique token weight 1 and shares the documents' tokenizer.
"""

from __future__ import annotations

from functools import lru_cache

from hfmrs.features import lexical_text
from hfmrs.filters import Filters
from hfmrs.recommenders.base import Recommender
from hfmrs.store.base import BM25, Hit, PointData, SparseVector


@lru_cache(maxsize=1)
def _model():
    import qdrant_edge as qe

    return qe.Bm25()


def bm25_query(text: str) -> SparseVector | None:
    """The query vector of ``text`` (None when it has no indexable token)."""
    if not text.strip():
        return None
    vec = _model().embed_query(text)
    if not len(vec.indices):
        return None
    return SparseVector(indices=list(vec.indices), values=list(vec.values))


class Bm25Recommender(Recommender):
    name = "bm25"
    description = "BM25 over the text soups (Qdrant sparse vectors with the IDF modifier)."

    def similar(self, query: PointData, k: int, filters: Filters) -> list[Hit]:
        vector = bm25_query(lexical_text(query.payload.get("soup") or "", query.payload.get("author")))
        return [] if vector is None else self.store.search(BM25, vector, k, filters)
