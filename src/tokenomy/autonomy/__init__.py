"""Action layer: the agent as a principal–agent contract (SPEC.md §3, Eq. 6–8).

Imports only ``tokenomy.core`` and ``tokenomy.ledger`` records; never a sibling layer, never a file.
"""
