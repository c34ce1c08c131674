"""A ledger file read in bulk for ``tokenomy audit``: its tables, its own per-request vectors.

The ledger's tables are exported to Parquet in a temporary folder (``Ledger.export_parquet``, under the
ledger's own lock), read back as Arrow tables, and handed to ``audit.importers.ledger_tables``, which
builds the audit log column by column and only the records the detectors read. The per-request vectors
are the ledger's own query (``Ledger.request_vectors``). A damaged file raises
:class:`tokenomy.core.errors.SchemaError` naming it. Used only by the audit.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tokenomy.audit.importers.ledger_tables import LedgerTables, from_tables
from tokenomy.audit.log import AuditLog
from tokenomy.ledger import Ledger

__all__ = ["read_ledger"]


def read_ledger(path: Path) -> tuple[AuditLog, list[Any], list[Any], list[dict[str, Any]]]:
    """A ledger file as an audit log, the decisions the detectors read, its outcomes and its per-request
    vectors, read in bulk: its tables exported to Parquet in a temporary folder, then built column by
    column (``audit.importers.ledger_tables``)."""
    with Ledger(path, read_only=True) as ledger, tempfile.TemporaryDirectory() as tmp:
        files = ledger.export_parquet(tmp)
        vectors: list[dict[str, Any]] = ledger.request_vectors().to_pylist()
        tables = {name: pq.read_table(f) for name, f in files.items()}
    t = LedgerTables(tables["decisions"], tables["candidates"], tables["outcomes"], tables["resource_prices"])
    log, d, o = from_tables(t, str(path))
    return log, d, o, vectors
