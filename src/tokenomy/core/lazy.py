"""Lazy public names for a package ``__init__`` (PEP 562), written once for every layer package.

A layer package lists its public names and the module defining each; ``lazy_exports`` returns the
module-level ``__getattr__`` and ``__dir__`` that import the defining module on first access and keep
the value in the package's namespace. ``import tokenomy.routing`` then costs nothing until a name is
used (many layer modules pull in DuckDB and pyarrow through the ledger). No I/O.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, home: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of package ``package``.

    Args:
        package: the package's ``__name__``.
        home: public name -> the module that defines it.

    Returns:
        ``(__getattr__, __dir__)`` to assign at module level in the package's ``__init__``.
    """

    def getattr_(name: str) -> object:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(importlib.import_module(package), name, value)
        return value

    def dir_() -> list[str]:
        namespace = vars(importlib.import_module(package))
        return sorted({*namespace, *namespace.get("__all__", ())})

    return getattr_, dir_
