"""Baselines evaluated beside the engine's methods: random, popularity, and the seed's exact method.

The seed (the 2023 prototype) joined a model's text fields into one string, embedded it with
all-MiniLM-L6-v2 (the model's own default of 256 tokens), and ranked by cosine; its "Jaccard" was the
Jaccard index of those embeddings binarised at 0.  Both are reproduced here over the evaluation's
(hold-out stripped) catalog, ranked exactly in numpy, query block by query block: never an N×N matrix.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from hfmrs.catalog import Catalog, ModelRecord
from hfmrs.embedding import Encoder, VectorCache, embed_with_cache
from hfmrs.features import soup_hash

log = logging.getLogger(__name__)

# all-MiniLM-L6-v2 reads 256 tokens by default; the seed never changed it (the build reads 128).
SEED_MAX_SEQ_LENGTH = 256
BLOCK = 256  # query rows per matrix product: BLOCK × N floats at a time
SCORE_DECIMALS = 6  # as the engine: float noise must not reorder equal scores

Ranked = list[tuple[str, float | None]]


def seed_soup(record: ModelRecord) -> str:
    """The seed's soup: modelId, pipeline_tag, library_name, tags, architectures, model_type, datasets
    and author, joined with spaces, nothing removed (tags keep their ``dataset:``/``base_model:``
    prefixes, so the hold-out must already be stripped from ``record``)."""
    parts = [
        record.id,
        record.pipeline_tag or "",
        record.library or "",
        " ".join(record.tags),
        " ".join(record.architectures),
        record.model_type or "",
        " ".join(record.datasets),
        record.author,
    ]
    return " ".join(p for p in parts if p)


def embed_texts(
    encoder: Encoder, texts: Sequence[str], cache_dir: Path | None, show_progress: bool = False
) -> np.ndarray:
    """Unit vectors for ``texts`` (row per text), through a :class:`VectorCache` when ``cache_dir`` is set."""
    by_hash = {soup_hash(t): t for t in texts}
    cache = VectorCache(encoder.name, cache_dir) if cache_dir is not None else None
    vectors, embedded = embed_with_cache(encoder, by_hash, cache, show_progress=show_progress)
    if cache is not None and embedded:
        cache.save()
    log.info("seed soups: %d embedded now, %d from the cache", embedded, len(by_hash) - embedded)
    dim = encoder.dim
    matrix = np.stack([vectors[soup_hash(t)] for t in texts]) if texts else np.zeros((0, dim), np.float32)
    matrix = matrix.astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)  # cached float16 vectors are only nearly unit length


class DenseRanker:
    """Exact top-k over a dense matrix, by cosine or by Jaccard of the vectors binarised at 0.

    Ties are ordered as the engine orders them (score rounded to 6 decimals, then downloads, then id),
    and the scores are returned so tie-aware metrics can see them.
    """

    def __init__(self, ids: Sequence[str], matrix: np.ndarray, downloads: Sequence[int], mode: str = "cosine"):
        if mode not in ("cosine", "jaccard"):
            raise ValueError(f"unknown mode {mode!r}")
        self.ids = list(ids)
        self.row = {m: i for i, m in enumerate(self.ids)}
        self.mode = mode
        self.downloads = np.asarray(downloads, dtype=np.int64)
        self.id_rank = np.argsort(np.argsort(np.array(self.ids, dtype=object)))  # position of each id in sort order
        if mode == "cosine":
            self.matrix = matrix.astype(np.float32)
        else:
            # float32 0/1 so one matrix product counts shared bits; the popcounts give the union
            self.matrix = (matrix > 0).astype(np.float32)
            self.bits = self.matrix.sum(axis=1)

    def _scores(self, queries: np.ndarray) -> np.ndarray:
        if self.mode == "cosine":
            return queries @ self.matrix.T
        q = (queries > 0).astype(np.float32)
        inter = q @ self.matrix.T
        union = q.sum(axis=1, keepdims=True) + self.bits[None, :] - inter
        return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)

    def rank_vectors(
        self,
        queries: np.ndarray,
        k: int,
        exclude: Sequence[str | None] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[Ranked]:
        """Top ``k`` for each query vector (row), never the excluded id of that row."""
        out: list[Ranked] = []
        n = len(self.ids)
        take = min(n, k + 1)  # one spare: the excluded query itself
        for start in range(0, len(queries), BLOCK):
            scores = np.round(self._scores(queries[start : start + BLOCK]), SCORE_DECIMALS)
            for offset, row in enumerate(scores):
                skip = exclude[start + offset] if exclude is not None else None
                if skip is not None and (i := self.row.get(skip)) is not None:
                    row[i] = -np.inf
                top = np.argpartition(-row, take - 1)[:take] if take < n else np.arange(n)
                order = np.lexsort((self.id_rank[top], -self.downloads[top], -row[top]))
                out.append([(self.ids[j], float(row[j])) for j in top[order] if np.isfinite(row[j])][:k])
            if progress:
                progress(len(scores))
        return out

    def rank_ids(
        self, query_ids: Sequence[str], k: int, progress: Callable[[int], None] | None = None
    ) -> dict[str, Ranked]:
        """Top ``k`` neighbours of catalog models (themselves excluded)."""
        rows = [self.row[q] for q in query_ids]
        # the jaccard matrix is already 0/1, and binarising it again at 0 keeps it as it is
        ranked = self.rank_vectors(self.matrix[rows], k, exclude=list(query_ids), progress=progress)
        return dict(zip(query_ids, ranked, strict=True))


class SeedBaseline:
    """The seed's soup embedded with its encoder, ranked by exact cosine and by binarised Jaccard."""

    def __init__(self, catalog: Catalog, encoder: Encoder, cache_dir: Path | None, show_progress: bool = False):
        records = sorted(catalog, key=lambda r: r.id)
        self.encoder = encoder
        ids = [r.id for r in records]
        downloads = [r.downloads for r in records]
        matrix = embed_texts(encoder, [seed_soup(r) for r in records], cache_dir, show_progress)
        self.cosine = DenseRanker(ids, matrix, downloads, "cosine")
        self.jaccard = DenseRanker(ids, matrix, downloads, "jaccard")

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Free-text queries through the seed's encoder (not cached: they are few)."""
        return embed_texts(self.encoder, texts, None)


def popularity_ranking(downloads: Mapping[str, int], k: int) -> Callable[[str | None], Ranked]:
    """The same most-downloaded models for every query (minus the query itself); score = downloads."""
    top = sorted(downloads, key=lambda m: (-downloads[m], m))[: k + 1]

    def recommend(query: str | None) -> Ranked:
        return [(m, float(downloads[m])) for m in top if m != query][:k]

    return recommend


def random_ranking(ids: Sequence[str], k: int, seed: int = 0) -> Callable[[str | None], Ranked]:
    """``k`` distinct models drawn uniformly, from one seeded generator (so a run is reproducible);
    no scores, so no ties."""
    rng = np.random.default_rng(seed)
    pool = list(ids)

    def recommend(query: str | None) -> Ranked:
        picks = rng.choice(len(pool), size=min(len(pool), k + 1), replace=False)
        return [(pool[i], None) for i in picks if pool[i] != query][:k]

    return recommend
