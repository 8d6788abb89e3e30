"""The README's settings table, generated from :class:`~hfmrs.settings.Settings` (run this module to print it).

A test fails when the README's table differs from this output, so every setting is documented.
"""

from __future__ import annotations

from hfmrs.settings import BUNDLED_DATA, PROJECT_ROOT, Settings


def env_names(name: str) -> list[str]:
    """The environment variables that set a field: HFMRS_<NAME> and any declared alias."""
    field = Settings.model_fields[name]
    names = [f"HFMRS_{name.upper()}"]
    alias = field.validation_alias
    if alias is not None:
        names += [c for c in getattr(alias, "choices", []) if isinstance(c, str) and c not in names]
    return names


def _default(name: str) -> str:
    if name == "live_snapshot_dir":
        return "$HFMRS_HOME/snapshots"
    value = Settings.model_fields[name].default
    if hasattr(value, "is_relative_to") and value.is_relative_to(BUNDLED_DATA):
        return str(value.relative_to(PROJECT_ROOT))
    return "unset" if value is None or value == "" else str(value)


def settings_table() -> str:
    rows = ["| variable | default | what |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        names = " or ".join(f"`{n}`" for n in env_names(name))
        rows.append(f"| {names} | `{_default(name)}` | {field.description} |")
    return "\n".join(rows)


if __name__ == "__main__":  # pragma: no cover
    print(settings_table())
