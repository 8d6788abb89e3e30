"""The quality prior: how much a model is used and kept up, from its record alone (0 to 1).

It orders near-ties towards the models people use: a 100-download personal fine-tune should not outrank
the well-known model it copies, nor the well-known alternative, when the evidence for both is alike.
Four parts, each in [0, 1]: **popularity** (log downloads: 10M is 1), **appreciation** (log likes: ~3k
is 1; where no snapshot has likes, half the popularity stands in, so old snapshots are not punished),
**recency** (last update: 2025 or later is 1, down to 0.1 before 2022) and **completeness** (a card that
names the task, library, licence, data or languages, and its base model or paper).  How much the prior
counts against similarity is the recommender's setting (``HFMRS_QUALITY_PRIOR``), not this module's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hfmrs.catalog import ModelRecord

WEIGHTS = {"popularity": 0.55, "appreciation": 0.15, "recency": 0.15, "completeness": 0.15}
RECENCY = {2025: 1.0, 2024: 0.75, 2023: 0.5, 2022: 0.3}


def parts(record: ModelRecord) -> dict[str, float]:
    popularity = min(1.0, math.log10(1 + max(record.downloads, 0)) / 7)
    likes = record.likes
    appreciation = min(1.0, math.log10(1 + likes) / 3.5) if likes is not None and likes >= 0 else popularity / 2
    year = int(record.last_modified[:4]) if record.last_modified else None
    recency = 0.3 if year is None else RECENCY.get(min(year, 2025), 0.1)
    facts = (
        record.pipeline_tag,
        record.library,
        record.license,
        record.datasets or record.languages,
        record.base_models or record.arxiv,
    )
    completeness = sum(1 for fact in facts if fact) / len(facts)
    return {"popularity": popularity, "appreciation": appreciation, "recency": recency, "completeness": completeness}


def quality(record: ModelRecord) -> float:
    return round(sum(WEIGHTS[name] * value for name, value in parts(record).items()), 4)
