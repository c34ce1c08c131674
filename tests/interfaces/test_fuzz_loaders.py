"""Property-based fuzzing of every loader: random byte edits of a small valid sample never raise anything
but a ``TokenomyError`` naming the file (or load as a valid result).

The samples and the outcome check come from ``test_bad_inputs.py``; here hypothesis flips, inserts
and deletes bytes, cuts the file, or splices in non-UTF-8 bytes and extreme numbers, in the plain
or the gzip-compressed form (a cut gzip stream included). Bounded per loader so the file stays well
under a minute under the CI profile.
"""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bad_inputs import LOADERS, run_case, write_case

_SPLICE = [
    b"\xff",
    b"\xc3",
    b"\x00",
    b"\n",
    b",",
    b'"',
    b"{",
    b"]",
    b"-1",
    b"1e999",
    b"NaN",
    b"9" * 40,
    b"\r",
]

_EDIT = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.sampled_from(_SPLICE)),
    st.tuples(st.just("delete"), st.integers(0, 10_000), st.integers(1, 8)),
    st.tuples(st.just("cut"), st.integers(0, 10_000), st.just(0)),
)


def _mutate(data: bytes, edits: list[tuple[str, int, Any]]) -> bytes:
    buf = bytearray(data)
    for op, at, arg in edits:
        i = at % (len(buf) + 1)
        if op == "flip" and buf:
            buf[min(i, len(buf) - 1)] ^= int(arg)
        elif op == "insert":
            buf[i:i] = arg
        elif op == "delete":
            del buf[i : i + int(arg)]
        elif op == "cut":
            del buf[i:]
    return bytes(buf)


@pytest.mark.parametrize("loader", sorted(LOADERS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(_EDIT, min_size=1, max_size=4), compress=st.booleans(), cut_gzip=st.booleans())
def test_mutated_sample_loads_or_names_the_file(
    loader: str, edits: list[tuple[str, int, Any]], compress: bool, cut_gzip: bool
) -> None:
    text, gz, _ = LOADERS[loader]
    body = _mutate(text.encode(), edits)
    if compress or gz:
        body = gzip.compress(body)
        if cut_gzip:
            body = body[: max(1, len(body) * 2 // 3)]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_case(Path(tmp), loader, "", body)
        assert run_case(loader, path) in ("valid", "error")
