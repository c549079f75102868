"""The README's mapping table is the one the rules generate."""

from pathlib import Path

from xenshift.config import keys
from xenshift.convert.mapping_table import block, table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_has_the_current_mapping_table() -> None:
    assert block() in README.read_text(), \
        "run: python -m xenshift.convert.mapping_table --write README.md"


def test_every_catalog_key_has_a_row() -> None:
    rows = table().splitlines()
    for info in keys.all_keys():
        assert any(row.startswith(f"| `{info.name}` |") for row in rows)
