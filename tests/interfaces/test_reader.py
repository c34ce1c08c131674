"""The shared reader: compression by magic bytes, UTF-8 errors with line and byte offset, numeric fields."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pytest

from tokenomy.core.errors import SchemaError
from tokenomy.interfaces.loaders.reader import (
    csv_rows,
    float_field,
    int_field,
    iter_lines,
    json_lines,
    read_json,
)


@pytest.mark.parametrize("pack", [lambda b: b, gzip.compress, lzma.compress, bz2.compress])
def test_compression_is_detected_from_the_bytes_not_the_suffix(tmp_path: Path, pack: object) -> None:
    path = tmp_path / "rows.txt"  # no telling suffix
    path.write_bytes(pack(b"a,b\n1,2\n"))  # type: ignore[operator]
    assert list(csv_rows(path, ("a",))) == [(2, {"a": "1", "b": "2"})]


def test_non_utf8_names_line_and_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "\xff"}\n')
    with pytest.raises(SchemaError, match=r"t\.jsonl: line 2: byte offset 16: not UTF-8"):
        list(iter_lines(path))


def test_truncated_gzip_names_the_line_reached(tmp_path: Path) -> None:
    path = tmp_path / "t.csv.gz"
    path.write_bytes(
        gzip.compress(b"a\n" + b"".join(b"%d\n" % (i * 7919 % 100003) for i in range(5000)))[:2000]
    )
    with pytest.raises(SchemaError, match=r"t\.csv\.gz: after line \d+: truncated or corrupt gzip"):
        list(csv_rows(path))


def test_json_errors_name_line_column_and_range(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\n{"a": }\n')
    with pytest.raises(SchemaError, match=r"line 2: not JSON \(Expecting value at line 1, column 7\)"):
        list(json_lines(path))
    path.write_text('{"a": ' + "9" * 400 + "}")
    with pytest.raises(SchemaError, match="out of range; expected a finite number"):
        read_json(path)


def test_directory_and_missing_file_are_named(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="is a directory; expected a file"):
        list(iter_lines(tmp_path))
    with pytest.raises(SchemaError, match="no such file"):
        list(iter_lines(tmp_path / "nope.csv"))


def test_ragged_csv_row_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3\n")
    with pytest.raises(SchemaError, match=r"t\.csv: line 3: 1 field\(s\); expected 2"):
        list(csv_rows(path))


@pytest.mark.parametrize(
    "value", ["inf", "nan", "1e999", "9" * 400 + ".5", "2.5", True, [1], None, "-1", "x"]
)
def test_int_field_refuses_what_is_not_a_finite_whole_number(value: object) -> None:
    with pytest.raises(SchemaError, match=r"f: line 3: field 'n'=.*; expected a finite whole number ≥ 0"):
        int_field(value, "f: line 3", "n", lo=0)


def test_int_and_float_fields_accept_their_forms() -> None:
    assert (
        int_field("3", "w", "n") == 3
        and int_field("3.0", "w", "n") == 3
        and int_field(10**30, "w", "n") == 10**30
    )
    assert float_field("0.5", "w", "x", lo=0, hi=1) == 0.5
    with pytest.raises(SchemaError, match=r"expected a finite number in \[0, 1\]"):
        float_field(1.5, "w", "x", lo=0, hi=1)
