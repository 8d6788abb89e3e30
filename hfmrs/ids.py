"""Resolving model ids: canonical ids, legacy aliases, case slips, "did you mean" and prefixes.

Shared by the catalog (at build time) and the engine (at serving time, from the build's id index),
so an id resolves the same way everywhere.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping

from rapidfuzz import fuzz, process


class UnknownModelError(KeyError):
    """A model id (or alias) that is not in the catalog; carries "did you mean" suggestions."""

    def __init__(self, model_id: str, suggestions: list[str]):
        super().__init__(model_id)
        self.model_id = model_id
        self.suggestions = suggestions

    def __str__(self) -> str:
        hint = f"; did you mean: {', '.join(self.suggestions)}" if self.suggestions else ""
        return f"unknown model id {self.model_id!r}{hint}"


class IdIndex:
    """Canonical ids with their aliases and download counts (popularity orders suggestions)."""

    def __init__(self, aliases: Mapping[str, Iterable[str]], downloads: Mapping[str, int]):
        self.downloads = dict(downloads)
        self._ids = set(aliases)
        self._alias_to_id: dict[str, str] = {}
        self._lower_to_id: dict[str, str] = {}
        for model_id, names in aliases.items():
            self._lower_to_id.setdefault(model_id.lower(), model_id)
            for alias in names:
                self._alias_to_id[alias] = model_id
                self._lower_to_id.setdefault(alias.lower(), model_id)
        self._names = sorted(self._ids | set(self._alias_to_id))
        self._lower_sorted = sorted((n.lower(), n) for n in self._names)

    def __len__(self) -> int:
        return len(self._ids)

    def find(self, model_id: str) -> str | None:
        """Canonical id for an id or alias (exact first, then case-insensitive), or None."""
        model_id = model_id.strip().strip("/")
        if model_id in self._ids:
            return model_id
        if model_id in self._alias_to_id:
            return self._alias_to_id[model_id]
        return self._lower_to_id.get(model_id.lower())

    def resolve(self, model_id: str) -> str:
        found = self.find(model_id)
        if found is None:
            raise UnknownModelError(model_id, self.suggest(model_id))
        return found

    def suggest(self, model_id: str, limit: int = 5) -> list[str]:
        """The ``limit`` closest ids and aliases (best match, then most downloaded, then by name)."""
        if not model_id.strip():
            return []
        matches = process.extract(model_id, self._names, scorer=fuzz.WRatio, limit=limit * 3, processor=str.lower)
        ranked = sorted(matches, key=lambda m: (-round(m[1], 3), -self.downloads.get(self.find(m[0]) or m[0], 0), m[0]))
        return [name for name, _score, _idx in ranked[:limit]]

    def prefix(self, prefix: str, limit: int = 10) -> list[str]:
        """Canonical ids whose id, name part or alias starts with ``prefix`` (case-insensitive), most
        downloaded first."""
        key = prefix.strip().lower()
        found: set[str] = set()
        if not key:
            found = self._ids
        else:
            start = bisect.bisect_left(self._lower_sorted, (key, ""))
            for lower, name in self._lower_sorted[start:]:
                if not lower.startswith(key):
                    break
                found.add(self.find(name) or name)
            if "/" not in key:  # also match the part after the organisation
                found.update(m for m in self._ids if m.lower().split("/", 1)[-1].startswith(key))
        return sorted(found, key=lambda m: (-self.downloads.get(m, 0), m))[:limit]
