"""`jaccard`: true set similarity of feature tokens.

The seed binarised embeddings and called that Jaccard; this is the real thing on the token sets.
Candidates come from the binary sparse vector `tokens` (a dot product of two binary vectors counts
shared tokens), then each candidate is rescored exactly inside Qdrant by a formula,
|A ∩ B| / (|A| + |B| - |A ∩ B|), with |B| the indexed `token_count` payload field.  No N×N matrix and
no payload shipped for the pool: one query with a prefetch.

Exactness: a model with Jaccard J to the query shares at least J·|A| tokens with it, so whenever the
candidate pool reaches past the k-th best Jaccard's overlap the answer is exact; the pool size
(``HFMRS_JACCARD_CANDIDATES``) bounds the work.  Tests compare against brute force.
"""

from __future__ import annotations

from hfmrs.features import sparse_tokens
from hfmrs.filters import Filters
from hfmrs.ranking import score_key
from hfmrs.recommenders.base import Recommender
from hfmrs.store.base import Hit, PointData, SparseVector

TIE_MARGIN = 20


def jaccard(a: set[str], b: set[str]) -> float:
    """Reference Jaccard of two sets (tests compare the store's formula against it)."""
    if not a and not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


class JaccardRecommender(Recommender):
    name = "jaccard"
    bounded_score = True
    description = "Exact Jaccard similarity of feature-token sets (sparse-vector candidates, exact rescoring)."

    def __init__(self, store, candidates: int = 1000):
        super().__init__(store)
        self.candidates = candidates

    def similar(self, query: PointData, k: int, filters: Filters) -> list[Hit]:
        query_tokens = query.payload.get("tokens", [])
        if not query_tokens:
            return []
        indices, values = sparse_tokens(query_tokens)
        # Ask for more than k so the engine's tie-break (not Qdrant's) decides among equal scores.
        hits = self.store.jaccard_search(
            SparseVector(indices, values), max(self.candidates, k), k + TIE_MARGIN, filters
        )
        hits.sort(key=score_key)
        return hits[:k]
