"""Ranking helpers built on the live-ingest field ``download_velocity`` (memory rules: :mod:`hfmrs.sizes`).

Recommenders that blend a popularity prior into their score use :func:`trending_prior`.
"""

from __future__ import annotations

import math

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
