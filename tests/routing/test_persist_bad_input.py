"""A damaged saved router is refused with one line naming the file, never a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tokenomy.core.errors import ValidationError
from tokenomy.routing.persist import load_object


@pytest.mark.parametrize(
    ("json_bytes", "arrays", "match"),
    [
        (b"\xff{", True, "not UTF-8 JSON"),
        (b'{"format": 1', True, "not UTF-8 JSON"),
        (b"[1, 2]", True, "expected a JSON object"),
        (b'{"format": "tokenomy.router", "version": 1, "object": {}}', False, "not a readable saved router"),
    ],
)
def test_a_damaged_saved_router_is_one_clear_error(
    tmp_path: Path, json_bytes: bytes, arrays: bool, match: str
) -> None:
    (tmp_path / "router.json").write_bytes(json_bytes)
    if arrays:
        np.savez(tmp_path / "arrays.npz", a=np.zeros(2))
    else:
        (tmp_path / "arrays.npz").write_bytes(b"garbage")
    with pytest.raises(ValidationError, match=match):
        load_object(tmp_path)
