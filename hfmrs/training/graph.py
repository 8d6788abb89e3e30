"""The GNN's graph: model nodes with features, and three kinds of edges.

* lineage: child -> base model, from the *train* side of the lineage split only;
* family: models sharing author and the first word of their name (``gpt2``, ``gpt2-medium``, ...),
  each linked to the family's most downloaded member (a star, not a clique, so a family of n adds
  n - 1 edges);
* kNN: each model's nearest neighbours on the `text` vectors (chunked matrix products, never N×N).

Every held-out (test) lineage pair is removed from the graph whatever kind of edge produced it, so the
evaluation never scores an edge the GNN saw.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from hfmrs.catalog import ModelRecord
from hfmrs.features import name_words

log = logging.getLogger(__name__)

CATEGORICAL = ("pipeline_tag", "library", "model_type")
TOP_VALUES = 40  # one-hot columns per categorical field; rarer values share an "other" column
KINDS = ("lineage", "family", "knn")
KNN_CHUNK = 1024  # query rows per matrix product: memory is KNN_CHUNK × N floats, not N × N


@dataclass
class Graph:
    ids: list[str]  # node order
    x: torch.Tensor  # node features
    edge_index: torch.Tensor  # 2 × E, both directions of every undirected edge
    pairs: np.ndarray  # E' × 2 unique undirected pairs (u < v): the positives of link prediction
    kinds: np.ndarray  # per pair: the first kind that produced it, an index into KINDS
    counts: dict[str, int] = field(default_factory=dict)

    def has_pair(self, a: str, b: str) -> bool:
        index = {m: i for i, m in enumerate(self.ids)}
        u, v = sorted((index[a], index[b]))
        return bool(((self.pairs[:, 0] == u) & (self.pairs[:, 1] == v)).any())


def node_features(records: Sequence[ModelRecord], text: np.ndarray) -> torch.Tensor:
    """`text` vector ⊕ one-hot task/library/model type (top values) ⊕ log popularity."""
    blocks = [text.astype(np.float32)]
    for name in CATEGORICAL:
        values = [getattr(r, name) or "" for r in records]
        top = [v for v, _ in sorted(Counter(v for v in values if v).items(), key=lambda kv: (-kv[1], kv[0]))]
        column = {v: i for i, v in enumerate(top[:TOP_VALUES])}
        onehot = np.zeros((len(records), TOP_VALUES + 1), dtype=np.float32)
        for row, value in enumerate(values):
            if value:
                onehot[row, column.get(value, TOP_VALUES)] = 1.0
        blocks.append(onehot)
    downloads = np.array([[np.log10(1 + max(r.downloads, 0)) / 10] for r in records], dtype=np.float32)
    blocks.append(downloads)
    return torch.from_numpy(np.concatenate(blocks, axis=1))


def knn_pairs(text: np.ndarray, k: int) -> list[tuple[int, int]]:
    """Each row's ``k`` nearest other rows by cosine, in chunks of rows (ties broken by index)."""
    n = len(text)
    k = min(k, n - 1)
    if k <= 0:
        return []
    x = torch.nn.functional.normalize(torch.from_numpy(text.astype(np.float32)), dim=1)
    out: list[tuple[int, int]] = []
    for start in range(0, n, KNN_CHUNK):
        sims = x[start : start + KNN_CHUNK] @ x.T
        rows = torch.arange(start, min(start + KNN_CHUNK, n))
        sims[rows - start, rows] = -torch.inf  # never one's own neighbour
        top = torch.topk(sims, k, dim=1).indices
        out.extend((int(r), int(c)) for r, cols in zip(rows.tolist(), top.tolist(), strict=True) for c in cols)
    return out


def family_pairs(records: Sequence[ModelRecord]) -> list[tuple[int, int]]:
    """Star edges inside each family (same author, same first name word) to its most downloaded member."""
    families: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        words = name_words(r.id)
        if words:
            families[(r.author or "", words[0])].append(i)
    out = []
    for members in families.values():
        if len(members) < 2:
            continue
        head = min(members, key=lambda i: (-records[i].downloads, records[i].id))
        out.extend((head, i) for i in members if i != head)
    return out


def build_graph(
    records: Sequence[ModelRecord],
    text: np.ndarray,
    lineage: Iterable[tuple[str, str]],
    held_out: Iterable[tuple[str, str]],
    knn: int,
) -> Graph:
    """The training graph over ``records`` (row i of ``text`` is records[i]'s vector).  ``lineage``
    holds the (child, parent) pairs the GNN may learn from; no pair in ``held_out`` is ever an edge."""
    ids = [r.id for r in records]
    index = {m: i for i, m in enumerate(ids)}
    forbidden = {tuple(sorted((index[a], index[b]))) for a, b in held_out if a in index and b in index}
    kinds = {
        "lineage": [(index[c], index[p]) for c, p in lineage if c in index and p in index],
        "family": family_pairs(records),
        "knn": knn_pairs(text, knn),
    }
    unique: dict[tuple[int, int], int] = {}  # pair -> kind index; insertion order is deterministic
    counts: dict[str, int] = {}
    for kind_index, kind in enumerate(KINDS):
        before = len(unique)
        for u, v in kinds[kind]:
            pair = (min(u, v), max(u, v))
            if u != v and pair not in forbidden:
                unique.setdefault(pair, kind_index)
        counts[kind] = len(unique) - before  # new undirected edges this kind added
    ordered = sorted(unique)
    pairs = np.array(ordered, dtype=np.int64).reshape(-1, 2)
    kind_of = np.array([unique[p] for p in ordered], dtype=np.int64)
    both = np.concatenate([pairs, pairs[:, ::-1]], axis=0).T
    counts["held_out_pairs"] = len(forbidden)  # pairs barred from the graph
    log.info("GNN graph: %d nodes, %d undirected edges %s", len(ids), len(pairs), counts)
    edge_index = torch.from_numpy(np.ascontiguousarray(both))
    return Graph(ids, node_features(records, text), edge_index, pairs, kind_of, counts)
