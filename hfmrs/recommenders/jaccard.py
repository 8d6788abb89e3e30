"""`jaccard`: true set similarity of feature tokens.

The seed binarised embeddings and called that Jaccard; this is the real thing on the token sets.
Candidates come from the binary sparse vector `tokens` (a dot product of two binary vectors counts
shared tokens), then each candidate is rescored exactly, |A ∩ B| / |A ∪ B|, from the token lists in
its payload.  No N×N matrix: one sparse query plus O(candidates) work.

Exactness: a model with Jaccard J to the query shares at least J·|A| tokens with it, so whenever the
candidate pool reaches past the k-th best Jaccard's overlap the answer is exact; the pool size
(``HFMRS_JACCARD_CANDIDATES``) bounds the work.  Tests compare against brute force.
"""

from __future__ import annotations

from hfmrs.features import sparse_tokens
from hfmrs.ranking import score_key
from hfmrs.recommenders.base import Recommender
from hfmrs.store.base import TOKENS, Filters, Hit, PointData, SparseVector


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


class JaccardRecommender(Recommender):
    name = "jaccard"
    description = "Exact Jaccard similarity of feature-token sets (sparse-vector candidates, exact rescoring)."

    def __init__(self, store, candidates: int = 1000):
        super().__init__(store)
        self.candidates = candidates

    def similar(self, query: PointData, k: int, filters: Filters) -> list[Hit]:
        query_tokens = set(query.payload.get("tokens", []))
        if not query_tokens:
            return []
        indices, values = sparse_tokens(query_tokens)
        pool = self.store.search(TOKENS, SparseVector(indices, values), max(self.candidates, k), filters)
        rescored = [
            Hit(model_id=h.model_id, score=jaccard(query_tokens, set(h.payload.get("tokens", []))), payload=h.payload)
            for h in pool
        ]
        rescored.sort(key=score_key)  # the engine's tie-break, so truncating to k keeps the same ties
        return rescored[:k]
