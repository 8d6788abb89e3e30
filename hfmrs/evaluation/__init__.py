"""Evaluation with real ground truth (held-out Hub lineage, model families, task text queries), and
the data report (EDA and clustering).

* :mod:`~hfmrs.evaluation.metrics`: pure, tie-aware ranking metrics and bootstrap intervals.
* :mod:`~hfmrs.evaluation.ground_truth`: the three query sets and their relevant sets.
* :mod:`~hfmrs.evaluation.baselines`: random, popularity and the seed's exact method.
* :mod:`~hfmrs.evaluation.evaluator`: ``Evaluator(queries, relevant)(recommender) -> dict``.
* :mod:`~hfmrs.evaluation.runner`: the evaluation build and ``evaluation.md`` / ``evaluation.json``.
* :mod:`~hfmrs.evaluation.report`: ``report.html``, ``report.json`` and ``figures/*.png``.

The full run on the bundled catalog is one command each (the first evaluation embeds the seed's
soups with all-MiniLM-L6-v2, several minutes on a laptop CPU; re-runs reuse the cache)::

    hfmrs evaluate --out reports/      # every method and baseline, k = 5, 10, 30
    hfmrs report --out reports/
"""
