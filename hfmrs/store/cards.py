"""Hit cards: a build's read-optimised copy of the payload fields search hits carry.

Qdrant Edge spends ~30 µs per hit reading a point's payload (the whole stored document is decoded
even when only a few fields are asked for): at k = 10 that was more than half of a similar() call.
The build therefore also writes, for every point, its :data:`~hfmrs.store.base.HIT_FIELDS` as one
compact JSON document in an append-only file, and a sorted table from point id to that document.
Served builds attach it to their store (:meth:`hfmrs.store.edge.EdgeStore.attach_cards`); searches then
ask Qdrant for ids and scores only and read hit payloads here (~3 µs each, memory-mapped, nothing
loaded at start-up).  The cards are written from the very payloads upserted into Qdrant, in the same
build, so they cannot disagree with it; a build without them is served from Qdrant's payloads.
"""

from __future__ import annotations

import mmap
import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from hfmrs.store.base import HIT_FIELDS

CARDS_DIR = "hit_cards"
DECODED_CARDS = 16_384  # decoded cards kept in memory (about 1.5 KB each): the hot set of a busy recommender


class CardWriter:
    """Collects cards while a build writes its points; :meth:`save` makes the files."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp.mkdir(parents=True)
        self._data = open(self._tmp / "cards.bin", "wb")  # noqa: SIM115 - closed in save()
        self._keys: list[bytes] = []
        self._offsets: list[int] = [0]

    def add(self, points: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """(point id, full payload) pairs, as upserted."""
        for pid, payload in points:
            blob = orjson.dumps({k: payload[k] for k in HIT_FIELDS if k in payload})
            self._data.write(blob)
            self._keys.append(uuid.UUID(pid).bytes)
            self._offsets.append(self._offsets[-1] + len(blob))

    def save(self) -> None:
        self._data.close()
        keys = np.array(self._keys, dtype="S16")
        order = np.argsort(keys, kind="stable")
        np.save(self._tmp / "keys.npy", keys[order])
        np.save(self._tmp / "card.npy", order.astype(np.int64))
        np.save(self._tmp / "offsets.npy", np.array(self._offsets, dtype=np.int64))
        if self.directory.exists():
            shutil.rmtree(self.directory)
        os.replace(self._tmp, self.directory)

    def discard(self) -> None:
        self._data.close()
        shutil.rmtree(self._tmp, ignore_errors=True)


class HitCards:
    """Memory-mapped cards of one build: point id -> hit payload."""

    def __init__(self, directory: Path):
        # Plain ndarray views of the maps (numpy.memmap's subclass makes every index ~1 µs slower).
        self._keys = np.asarray(np.load(directory / "keys.npy", mmap_mode="r"))
        self._card = np.asarray(np.load(directory / "card.npy", mmap_mode="r"))
        self._offsets = np.asarray(np.load(directory / "offsets.npy", mmap_mode="r"))
        self._data: mmap.mmap | None = None
        # Decoded cards by card index.  The same models come back request after request (popular lists,
        # big families), and decoding is most of reading a hit.  Callers never change a payload (a test
        # runs every method twice and compares); emptied when full, so memory stays bounded.
        self._decoded: dict[int, dict[str, Any]] = {}
        if self._offsets[-1]:
            with open(directory / "cards.bin", "rb") as f:
                self._data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)

    @classmethod
    def open(cls, directory: Path) -> HitCards | None:
        return cls(directory) if (directory / "keys.npy").exists() else None

    def __len__(self) -> int:
        return len(self._keys)

    def payloads(self, point_ids: Sequence[Any]) -> list[dict[str, Any] | None]:
        """Hit payloads for Qdrant point ids (UUID strings or objects); None for an unknown id."""
        if not len(point_ids) or not len(self._keys) or self._data is None:
            return [None] * len(point_ids)
        # Qdrant Edge gives UUID strings: fromhex is ~5x faster than parsing a uuid.UUID.
        raw = [p.bytes if isinstance(p, uuid.UUID) else bytes.fromhex(str(p).replace("-", "")) for p in point_ids]
        wanted = np.array(raw, dtype="S16")
        at = np.minimum(np.searchsorted(self._keys, wanted), len(self._keys) - 1)
        # Compared as numpy S16 (NUL-padded on both sides); .tolist() would strip trailing zero bytes.
        known = (self._keys[at] == wanted).tolist()
        cards = self._card[at].tolist()
        decoded = self._decoded
        if len(decoded) > DECODED_CARDS:
            decoded.clear()
        out: list[dict[str, Any] | None] = []
        for ok, card in zip(known, cards, strict=True):
            if not ok:
                out.append(None)
            elif (payload := decoded.get(card)) is not None:
                out.append(payload)
            else:
                start, end = int(self._offsets[card]), int(self._offsets[card + 1])
                out.append(decoded.setdefault(card, orjson.loads(self._data[start:end])))
        return out
