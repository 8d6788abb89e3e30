"""The training job: k-means clusters and GNN vectors written back into a build, hybrid weights tuned.

:func:`make_trainer` returns a :data:`hfmrs.pipeline.Trainer`: it runs after a build's points are
written and before the build is published, so a build is served either fully trained or not at all.
It reads the `text` vectors back from Qdrant and writes

* each model's k-means ``cluster`` id into its payload (an indexed field; one call per cluster),
* each model's GNN embedding as the `gnn` named vector,

and returns a summary for the manifest (``training``): the k-means curve and choice, the GNN's losses
and validation AUC, the tuned hybrid weights, the edges used, and timings.  The same summary and the
k-means curve are written to the build's artefact folder (``training.json``) for the report.

Lineage: only the ``train`` side of the shared split (:func:`hfmrs.lineage.split_lineage`) is read.
A seeded fold of it (:data:`TUNE_FRACTION`) is kept out of the GNN's graph to tune the hybrid weights
and measure the GNN's link-prediction AUC on edges it never saw; no ``test`` pair is ever an edge.
"""

from hfmrs.training.trainer import TUNE_FRACTION, make_trainer, train, train_pairs, tune_fold

__all__ = ["TUNE_FRACTION", "make_trainer", "train", "train_pairs", "tune_fold"]
