"""The shared accounting object (SPEC.md §2): decision and outcome records, their storage and queries.

Imports only ``tokenomy.core``. Layers import the records (and may write through ``Ledger``).
``COLUMN_UNITS`` gives the unit of every priced or measured column (docs/ledger.md, Units); ``KINDS``
the decision kinds of each layer, extended with ``register_kind``.
"""

from tokenomy.ledger.batch import DecisionBatch
from tokenomy.ledger.kinds import KINDS, UNKNOWN, kinds_of, register_kind
from tokenomy.ledger.layers import Layer
from tokenomy.ledger.records import SCHEMA_VERSION, Candidate, Decision, Outcome
from tokenomy.ledger.schema import COLUMN_UNITS
from tokenomy.ledger.store import Ledger

__all__ = [
    "COLUMN_UNITS",
    "KINDS",
    "SCHEMA_VERSION",
    "UNKNOWN",
    "Candidate",
    "Decision",
    "DecisionBatch",
    "Layer",
    "Ledger",
    "Outcome",
    "kinds_of",
    "register_kind",
]
