"""GraphSAGE trained by link prediction; its node embeddings become the `gnn` named vector.

Full-batch message passing: the bundled catalog (~17k nodes, ~140k edges) fits in memory many times
over, so no neighbour sampling is needed.  Aggregation is a sparse CSR matrix product (PyG's
SparseTensor path), which never materialises an edges × features message matrix: several times faster
than gather/scatter on CPU.  Link prediction with negative sampling: each epoch's positives are every
lineage and family edge plus a seeded sample of :data:`KNN_PER_EPOCH` kNN edges (kNN edges are 90% of
the graph and mostly restate the text similarity; sampling them keeps the epoch cheap and the rarer,
more informative relations weighty).  Each positive (u, v) gets ``negatives`` corrupted pairs
(u, random node); a pair's logit is the cosine of the two embeddings over a temperature, the same
cosine the `gnn` search ranks by, so training and serving agree.

Reproducible: parameters are initialised under a forked, seeded RNG, negatives come from a seeded
generator, and torch's deterministic algorithms are switched on for the run.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import SAGEConv

from hfmrs.training.graph import KINDS, Graph

log = logging.getLogger(__name__)

TEMPERATURE = 0.1  # cosine / 0.1 spans logits of ±10: enough to separate positives from negatives
KNN_PER_EPOCH = 32768


class SageEncoder(nn.Module):
    """Input projection, then two mean-aggregating GraphSAGE layers, L2-normalised output."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.inp = nn.Linear(in_dim, hidden)
        self.conv1 = SAGEConv(hidden, hidden)
        self.conv2 = SAGEConv(hidden, out_dim)
        # A skip from the input keeps each model's own features in its embedding even in dense
        # neighbourhoods, where two rounds of mean aggregation would otherwise blur near-copies.
        self.skip = nn.Linear(in_dim, out_dim)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.inp(x))
        h = F.relu(self.conv1(h, edge_index))
        return F.normalize(self.conv2(h, edge_index) + self.skip(x), dim=-1)


@dataclass
class GnnResult:
    vectors: np.ndarray  # one L2-normalised row per graph node
    summary: dict[str, Any]


@contextmanager
def _deterministic(seed: int):
    previous = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng():  # never disturb the caller's global RNG state
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(previous)


def _csr(edge_index: torch.Tensor, n: int) -> torch.Tensor:
    """The (symmetric) adjacency as a CSR tensor: SAGEConv then aggregates by sparse matrix product."""
    from torch_geometric.utils import to_torch_csr_tensor

    with warnings.catch_warnings():  # "sparse CSR support is in beta": the product used here is stable
        warnings.simplefilter("ignore", UserWarning)
        return to_torch_csr_tensor(edge_index, size=(n, n))


def _logits(z: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    return (z[pairs[:, 0]] * z[pairs[:, 1]]).sum(-1) / TEMPERATURE


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(random positive scores above random negative), ties count half (rank-based, O(n log n))."""
    from sklearn.metrics import roc_auc_score

    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    labels = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    return float(roc_auc_score(labels, np.concatenate([pos, neg])))


def train_gnn(
    graph: Graph,
    out_dim: int,
    hidden: int,
    epochs: int,
    lr: float,
    negatives: int,
    seed: int,
    validation: Sequence[tuple[int, int]] = (),
    show_progress: bool = True,
) -> GnnResult:
    """Train on ``graph`` and return every node's embedding.  ``validation`` (node index pairs kept
    out of the graph) gives a link-prediction AUC against as many seeded random pairs."""
    start = time.perf_counter()
    n = graph.x.shape[0]
    pairs = torch.from_numpy(graph.pairs)
    is_knn = torch.from_numpy(graph.kinds == KINDS.index("knn"))
    always, knn = pairs[~is_knn], pairs[is_knn]
    adjacency = _csr(graph.edge_index, n)
    losses: list[float] = []
    with _deterministic(seed):
        model = SageEncoder(graph.x.shape[1], hidden, out_dim)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        from rich.progress import Progress

        with Progress(transient=True, disable=not show_progress) as bar:
            task = bar.add_task("GNN training", total=epochs)
            for epoch in range(epochs):
                model.train()
                optimizer.zero_grad()
                z = model(graph.x, adjacency)
                sample = torch.randperm(len(knn), generator=gen)[:KNN_PER_EPOCH]
                positives = torch.cat([always, knn[sample]])
                if len(positives):
                    heads = positives[:, 0].repeat(negatives)
                    corrupt = torch.stack([heads, torch.randint(0, n, (len(heads),), generator=gen)], dim=1)
                    pos, neg = _logits(z, positives), _logits(z, corrupt)
                    loss = F.binary_cross_entropy_with_logits(
                        torch.cat([pos, neg]), torch.cat([torch.ones_like(pos), torch.zeros_like(neg)])
                    )
                    loss.backward()
                    optimizer.step()
                    losses.append(float(loss.detach()))
                bar.advance(task)
                if epoch % 25 == 0 or epoch == epochs - 1:
                    log.debug("GNN epoch %d loss %.4f", epoch, losses[-1] if losses else float("nan"))
        model.eval()
        with torch.no_grad():
            z = model(graph.x, adjacency)
        val_auc = float("nan")
        if validation:
            val = torch.tensor(list(validation), dtype=torch.long)
            rand = torch.stack([val[:, 0], torch.randint(0, n, (len(val),), generator=gen)], dim=1)
            val_auc = _auc(_logits(z, val).numpy(), _logits(z, rand).numpy())
    vectors = z.numpy().astype(np.float32)
    summary = {
        "model": "GraphSAGE(mean) x2 + input skip, link prediction, BCE with negative sampling",
        "epochs": epochs,
        "hidden": hidden,
        "dim": out_dim,
        "lr": lr,
        "negatives": negatives,
        "seed": seed,
        "final_loss": round(losses[-1], 6) if losses else None,
        "first_loss": round(losses[0], 6) if losses else None,
        "loss_curve": [round(v, 6) for v in losses[:: max(1, epochs // 20)]],
        "validation_pairs": len(validation),
        "validation_auc": None if np.isnan(val_auc) else round(val_auc, 4),
        "seconds": round(time.perf_counter() - start, 2),
    }
    log.info(
        "GNN: %d epochs, loss %.4f -> %.4f, validation AUC %s, %.1fs",
        epochs,
        summary["first_loss"] or 0,
        summary["final_loss"] or 0,
        summary["validation_auc"],
        summary["seconds"],
    )
    return GnnResult(vectors, summary)
