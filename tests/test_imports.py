"""Architecture rules of STYLE.md, checked on the source: who may import whom.

core imports nothing else from tokenomy; ledger imports only core; each layer (routing, autonomy,
serving, capital) imports only core and ledger, never a sibling; audit and economy may import layers
but not interfaces; only interfaces reads argv or environment variables.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tokenomy"
LAYERS = {"routing", "autonomy", "serving", "capital"}
ALLOWED = {
    "core": {"core"},
    "ledger": {"core", "ledger"},
    **{layer: {"core", "ledger", layer} for layer in LAYERS},
    "audit": {"core", "ledger", "audit", *LAYERS},
    "economy": {"core", "ledger", "economy", "audit", *LAYERS},
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:  # relative import: resolve against the package
                pkg = path.relative_to(SRC.parent).parent.parts
                base = ".".join(pkg[: len(pkg) - node.level + 1])
                found.append((node.lineno, f"{base}.{node.module}"))
            else:
                found.append((node.lineno, node.module))
    return found


def _violations(package: str) -> list[str]:
    bad = []
    for path in sorted((SRC / package).rglob("*.py")):
        for line, mod in _imports(path):
            parts = mod.split(".")
            if parts[0] == "tokenomy" and len(parts) > 1 and parts[1] not in ALLOWED[package]:
                bad.append(f"{path.relative_to(SRC)}:{line} imports {mod}")
            if parts[0] in ("os", "sys") and package != "interfaces":
                bad.append(f"{path.relative_to(SRC)}:{line} imports {mod} (only interfaces reads argv/env)")
    return bad


def _third_party(package: str) -> set[str]:
    roots = set()
    for path in sorted((SRC / package).rglob("*.py")):
        for _, mod in _imports(path):
            root = mod.split(".")[0]
            if root not in sys.stdlib_module_names and root not in ("tokenomy", "__future__"):
                roots.add(root)
    return roots


def test_core_imports_only_numpy_and_scipy_beyond_the_standard_library() -> None:
    assert _third_party("core") <= {"numpy", "scipy"}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_the_architecture_allows(package: str) -> None:
    assert _violations(package) == []


def test_the_checker_catches_a_sibling_import(tmp_path: Path) -> None:
    fake = tmp_path / "x.py"
    fake.write_text("from tokenomy.serving import engine\nimport os\n")
    mods = [m for _, m in _imports(fake)]
    assert mods == ["tokenomy.serving", "os"]
    assert "serving" not in ALLOWED["routing"]
