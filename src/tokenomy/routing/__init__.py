"""Demand layer: routing as screening (SPEC.md §3, Eq. 4). Imports only core and ledger records."""
