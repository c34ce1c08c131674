"""Terminal tables: user text cannot drive the terminal or break the rows."""

from __future__ import annotations

from tokenomy.interfaces.table import format_table


def test_control_characters_in_a_cell_are_shown_escaped() -> None:
    rows = [
        {"model": "g\x1b[31mpt\n", "id": "a\x00b", "cost": 1.5},
        {"model": "λ-µ ok", "id": "c", "cost": 2.0},
    ]
    out = format_table(rows)
    assert "\x1b" not in out and "\x00" not in out
    assert out.count("\n") == 3  # header, rule, two rows: the newline in a name did not add a line
    assert "g\\x1b[31mpt\\n" in out and "a\\x00b" in out
    assert "λ-µ ok" in out  # printable non-ASCII text is kept as it is
