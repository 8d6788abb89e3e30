"""Ranking and filter helpers built on the live-ingest fields (``download_velocity``, ``params_billions``).

Frontends turn "fits in N GB at fp16" into ``Filters(max_params_billions=params_limit_for_memory(N, "fp16"))``;
recommenders that blend a popularity prior into their score use :func:`trending_prior`.
"""

from __future__ import annotations

import math
from typing import Literal

# Bytes one parameter takes in memory at each precision.
BYTES_PER_PARAM: dict[str, float] = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
# Weights are not all a model needs: activations, the KV cache and the CUDA context add about a fifth on
# top for inference at modest batch and context sizes (the usual rule of thumb: memory ~= 1.2 x weights).
MEMORY_OVERHEAD = 1.2
GIB = 1024**3  # "24 GB" cards hold 24 GiB; sizes are read as binary gigabytes

Dtype = Literal["fp32", "fp16", "bf16", "int8", "int4"]


def params_limit_for_memory(gb: float, dtype: Dtype = "fp16", overhead: float = MEMORY_OVERHEAD) -> float:
    """Billions of parameters whose weights fit in ``gb`` GiB at ``dtype``, with ``overhead`` for activations.

    ``params_limit_for_memory(24, "fp16")`` is about 10.7: a 7B model fits a 24 GB card in fp16, a 13B one
    does not (it needs int8).
    """
    if dtype not in BYTES_PER_PARAM:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of: {', '.join(BYTES_PER_PARAM)}")
    if not isinstance(gb, (int, float)) or isinstance(gb, bool) or not math.isfinite(gb) or gb <= 0:
        raise ValueError(f"memory must be a positive number of GB, got {gb!r}")
    if overhead < 1:
        raise ValueError(f"overhead must be at least 1, got {overhead!r}")
    return round(gb * GIB / (BYTES_PER_PARAM[dtype] * overhead) / 1e9, 3)


# Velocity (downloads/day) at which the prior reaches tanh(1) ~= 0.76 of its maximum.  The Hub's top 10k move
# between a few and tens of thousands of 30-day downloads per day, so 1,000/day separates "trending" from noise.
TRENDING_SCALE = 1_000.0


def trending_prior(velocity: float | None, scale: float = TRENDING_SCALE) -> float:
    """A bounded prior in (-1, 1) from ``download_velocity``: 0 when unknown or flat, > 0 when gaining.

    Bounded so no amount of hype outweighs similarity; apply it as ``score + weight * prior`` with a small
    weight (see :func:`with_trending_prior`).
    """
    if velocity is None or not math.isfinite(velocity):
        return 0.0
    return math.tanh(velocity / scale)


def with_trending_prior(score: float, velocity: float | None, weight: float = 0.05) -> float:
    """``score`` nudged by the trending prior: at most ``weight`` up or down (cosine scores live in [-1, 1])."""
    return score + weight * trending_prior(velocity)
