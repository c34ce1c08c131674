"""The shared accounting object (SPEC.md §2): decision and outcome records, their storage and queries.

Imports only ``tokenomy.core``. Layers import the records (and may write through ``Ledger``).
"""

from tokenomy.ledger.batch import DecisionBatch
from tokenomy.ledger.records import SCHEMA_VERSION, Candidate, Decision, Layer, Outcome
from tokenomy.ledger.store import Ledger

__all__ = ["SCHEMA_VERSION", "Candidate", "Decision", "DecisionBatch", "Layer", "Ledger", "Outcome"]
