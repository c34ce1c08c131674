"""The demo index links every ledger, including those a section keeps in its own subfolder."""

from __future__ import annotations

from pathlib import Path

from tokenomy.interfaces.cmd_demo import _write_index
from tokenomy.ledger import Ledger


def test_the_index_links_ledgers_in_subfolders_by_their_relative_path(tmp_path: Path) -> None:
    (tmp_path / "gateway").mkdir()
    Ledger(tmp_path / "gateway" / "gateway-ledger.duckdb").close()
    Ledger(tmp_path / "ledger.duckdb").close()
    page = _write_index(tmp_path, {}).read_text()
    assert 'href="gateway/gateway-ledger.duckdb"' in page
    assert 'href="ledger.duckdb"' in page
