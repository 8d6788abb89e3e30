"""Resolving model ids: canonical ids, legacy aliases, case slips, "did you mean" and prefixes.

Shared by the catalog (at build time) and the engine (at serving time, from the build's id index),
so an id resolves the same way everywhere.  The index is a handful of sorted numpy arrays saved as
``.npy`` files and memory-mapped when served: opening it costs nothing at any catalog size, and
look-ups are binary searches (a 1M-model recommender starts in seconds, not minutes).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

SUGGEST_POOL = 200  # nearest names by plain ratio that "did you mean" ranks with WRatio
SUGGEST_CACHE = 4096  # recent misses whose suggestions are kept (an LRU)


class UnknownModelError(KeyError):
    """A model id (or alias) that is not in the catalog; carries "did you mean" suggestions.

    ``suggestions`` may be a function: the fuzzy search runs only when someone reads them (the API skips
    it for a client over its budget), and once."""

    def __init__(self, model_id: str, suggestions: list[str] | Callable[[], list[str]]):
        super().__init__(model_id)
        self.model_id = model_id
        self._suggestions = suggestions

    @property
    def suggestions(self) -> list[str]:
        if callable(self._suggestions):
            self._suggestions = self._suggestions()
        return self._suggestions

    def __str__(self) -> str:
        hint = f"; did you mean: {', '.join(self.suggestions)}" if self.suggestions else ""
        return f"unknown model id {self.model_id!r}{hint}"


_ARRAYS = (
    "ids",  # canonical ids, sorted (UTF-8 bytes); a row number is an index into this
    "downloads",  # int64 per row
    "exact",  # every id and alias, sorted
    "exact_row",
    "lower",  # every id and alias lower-cased, sorted; ids before aliases, then most downloaded
    "lower_name",  # the name as written, in `lower` order (what suggestions show)
    "lower_row",
    "tail",  # the lower-cased name part after "owner/" of each canonical id, sorted
    "tail_row",
    "popular",  # rows by downloads, most first (then id)
)


def _bytes_array(names: list[str]) -> np.ndarray:
    encoded = [n.encode("utf-8", "surrogatepass") for n in names]
    width = max((len(b) for b in encoded), default=1) or 1
    return np.array(encoded, dtype=f"S{width}")


def _key(text: str, array: np.ndarray) -> bytes | None:
    """``text`` as a key comparable with ``array``'s items, or None when it cannot match any: numpy
    pads fixed-width bytes with NULs (so an id with a NUL would match its prefix) and truncates longer
    values."""
    if "\x00" in text:
        return None
    key = text.encode("utf-8", "surrogatepass")
    return key if len(key) <= array.dtype.itemsize else None


class IdIndex:
    """Canonical ids with their aliases and download counts (popularity orders suggestions)."""

    def __init__(self, aliases: Mapping[str, Iterable[str]], downloads: Mapping[str, int]):
        ids = sorted(aliases)
        row_of = {m: i for i, m in enumerate(ids)}
        counts = np.array([int(downloads.get(m) or 0) for m in ids], dtype=np.int64)
        # (name, kind, row): kind 0 = the canonical id itself, 1 = an alias of that row.
        entries = [(m, 0, i) for i, m in enumerate(ids)]
        entries += [(a, 1, row_of[m]) for m in ids for a in dict.fromkeys(aliases[m]) if a != m]
        exact = sorted(entries, key=lambda e: (e[0], e[1], -counts[e[2]], ids[e[2]]))
        lower = sorted(entries, key=lambda e: (e[0].lower(), e[1], -counts[e[2]], ids[e[2]]))
        tails = sorted((m.lower().split("/", 1)[1], i) for i, m in enumerate(ids) if "/" in m)
        arrays = {
            "ids": _bytes_array(ids),
            "downloads": counts,
            "exact": _bytes_array([e[0] for e in exact]),
            "exact_row": np.array([e[2] for e in exact], dtype=np.int32),
            "lower": _bytes_array([e[0].lower() for e in lower]),
            "lower_name": _bytes_array([e[0] for e in lower]),
            "lower_row": np.array([e[2] for e in lower], dtype=np.int32),
            "tail": _bytes_array([t for t, _ in tails]),
            "tail_row": np.array([i for _, i in tails], dtype=np.int32),
            "popular": np.lexsort((np.arange(len(ids)), -counts)).astype(np.int32),
        }
        self._set(arrays)

    def _set(self, arrays: Mapping[str, np.ndarray]) -> None:
        self._a = dict(arrays)
        self._fuzzy: tuple[list[str], list[str]] | None = None  # `lower`, `tail` decoded on first suggest()
        self._suggested: OrderedDict[tuple[str, int], list[str]] = OrderedDict()  # the LRU of recent misses
        self._suggested_lock = threading.Lock()  # the API's worker threads share it

    # -- files -------------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write the arrays to ``directory`` (replaced atomically)."""
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in _ARRAYS:
            np.save(tmp / f"{name}.npy", self._a[name], allow_pickle=False)
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)

    @classmethod
    def load(cls, directory: Path) -> IdIndex:
        """Memory-map a saved index: no parsing, no sorting, pages are read on demand."""
        index = cls.__new__(cls)
        index._set({n: np.load(directory / f"{n}.npy", mmap_mode="r", allow_pickle=False) for n in _ARRAYS})
        return index

    # -- look-ups ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._a["ids"])

    def __iter__(self) -> Iterator[str]:
        """Canonical ids, sorted."""
        return (b.decode("utf-8", "surrogatepass") for b in self._a["ids"])

    def _id(self, row: int) -> str:
        return bytes(self._a["ids"][row]).decode("utf-8", "surrogatepass")

    def _position(self, text: str, keys: str) -> int | None:
        """Where ``text`` stands in the sorted array ``keys``, or None when it is not there."""
        array = self._a[keys]
        key = _key(text, array)
        if key is None or not len(array):
            return None
        i = int(np.searchsorted(array, key))
        return i if i < len(array) and array[i] == key else None

    def _lookup(self, text: str, keys: str, rows: str) -> int | None:
        i = self._position(text, keys)
        return None if i is None else int(self._a[rows][i])

    def find(self, model_id: str) -> str | None:
        """Canonical id for an id or alias (exact first, then case-insensitive), or None."""
        model_id = model_id.strip().strip("/")
        row = self._lookup(model_id, "exact", "exact_row")
        if row is None:
            row = self._lookup(model_id.lower(), "lower", "lower_row")
        return None if row is None else self._id(row)

    def resolve(self, model_id: str) -> str:
        found = self.find(model_id)
        if found is None:
            raise UnknownModelError(model_id, lambda: self.suggest(model_id))
        return found

    def downloads_of(self, model_id: str) -> int:
        row = self._position(model_id, "ids")  # rows are positions in the sorted ids
        return 0 if row is None else int(self._a["downloads"][row])

    def most_downloaded(self, limit: int) -> list[str]:
        return [self._id(int(r)) for r in self._a["popular"][:limit]]

    def suggest(self, model_id: str, limit: int = 5) -> list[str]:
        """The ``limit`` closest ids and aliases (best match, then most downloaded, then by name).

        Two passes, so an unknown id costs ~0.3 s at 1M names instead of ~5 s: the plain edit-distance
        ratio (bit-parallel, cheap) keeps the SUGGEST_POOL nearest names and the nearest name parts
        after "owner/" (so 'bert-base-uncasd' still finds 'google-bert/bert-base-uncased'); WRatio, which
        also credits partial and reordered matches, ranks that pool.  Below SUGGEST_POOL names the pool
        is everything and the answer is exactly WRatio's over all names."""
        query = model_id.strip().lower()
        if not query or not len(self):
            return []
        key = (query, limit)
        with self._suggested_lock:
            if key in self._suggested:  # a repeated miss (a retrying client, a broken link) costs a look-up
                self._suggested.move_to_end(key)
                return list(self._suggested[key])
        found = self._suggest(query, limit)
        with self._suggested_lock:
            self._suggested[key] = found
            if len(self._suggested) > SUGGEST_CACHE:
                self._suggested.popitem(last=False)
        return list(found)

    def _suggest(self, query: str, limit: int) -> list[str]:
        if self._fuzzy is None:  # decoded once, only on this error path (~0.6 s and ~150 MB at 1M)
            self._fuzzy = tuple(
                [b.decode("utf-8", "surrogatepass") for b in self._a[k].tolist()] for k in ("lower", "tail")
            )
        names, tails = self._fuzzy
        pool = {i for _, _, i in process.extract(query, names, scorer=fuzz.ratio, limit=SUGGEST_POOL)}
        for _, _, t in process.extract(query, tails, scorer=fuzz.ratio, limit=SUGGEST_POOL):
            if (i := self._position(self._id(int(self._a["tail_row"][t])).lower(), "lower")) is not None:
                pool.add(i)  # the canonical id's entry (ids sort before aliases in `lower`)
        positions = sorted(pool)
        # Every name of the pool is scored (a few hundred): WRatio gives many names the same score (90 for
        # any name containing the query), and only then do downloads decide, so none may be cut before.
        matches = process.extract(query, [names[i] for i in positions], scorer=fuzz.WRatio, limit=None)
        counts, rows, shown = self._a["downloads"], self._a["lower_row"], self._a["lower_name"]
        scored = sorted(
            (-round(score, 3), -int(counts[rows[p]]), bytes(shown[p]).decode("utf-8", "surrogatepass"), int(rows[p]))
            for _name, score, j in matches
            for p in [positions[j]]
        )
        found: dict[int, str] = {}  # one name per model: its best-matching id or alias
        for _, _, name, row in scored:
            found.setdefault(row, name)
            if len(found) == limit:
                break
        return list(found.values())

    def prefix(self, prefix: str, limit: int = 10) -> list[str]:
        """Canonical ids whose id, name part or alias starts with ``prefix`` (case-insensitive), most
        downloaded first."""
        key = prefix.strip().lower()
        if not key:
            return self.most_downloaded(limit)
        found = [self._prefix_rows(key, "lower", "lower_row")]
        if "/" not in key:  # also match the part after the organisation
            found.append(self._prefix_rows(key, "tail", "tail_row"))
        rows = np.unique(np.concatenate(found))
        if not len(rows):
            return []
        # Most downloaded first, then by id (rows are in id order, so a stable sort keeps that).
        best = rows[np.argsort(-self._a["downloads"][rows], kind="stable")][:limit]
        return [self._id(int(r)) for r in best]

    def _prefix_rows(self, key: str, keys: str, rows: str) -> np.ndarray:
        array = self._a[keys]
        low = _key(key, array)
        if low is None or not len(array):
            return np.zeros(0, dtype=np.int32)
        start = int(np.searchsorted(array, low, side="left"))
        # UTF-8 never contains 0xFF, so key + 0xFF sorts after every name that starts with key.
        end = int(np.searchsorted(array, np.bytes_(low + b"\xff"), side="left"))
        return np.asarray(self._a[rows][start:end], dtype=np.int32)
