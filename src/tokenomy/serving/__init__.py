"""Supply layer: serving as production (SPEC.md §3, Eq. 9). Imports only core and ledger records."""
