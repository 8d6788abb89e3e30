"""Every setting is documented: the README's table is exactly what hfmrs.docs generates."""

import re
from pathlib import Path

from hfmrs.docs import settings_table
from hfmrs.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_settings_table_is_generated_and_complete():
    text = README.read_text()
    match = re.search(r"<!-- settings-table:start -->\n(.*?)\n<!-- settings-table:end -->", text, re.S)
    assert match, "README lacks the settings table markers"
    assert match.group(1).strip() == settings_table(), "README settings table is stale: run `python -m hfmrs.docs`"
    for name in Settings.model_fields:
        assert f"`HFMRS_{name.upper()}`" in match.group(1)


def test_qdrant_url_alias(monkeypatch):
    monkeypatch.setenv("QDRANT_URL", "http://qdrant:6333")
    assert Settings(_env_file=None).qdrant_url == "http://qdrant:6333"


def test_shipped_default_method_is_the_evaluation_winner():
    # fused leads the report half of the team's practitioner-judged set (README "Evaluation").
    assert Settings.model_fields["default_method"].default == "fused"
