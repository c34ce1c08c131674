"""Capital layer: caches and RL as investment (SPEC.md §3, Eq. 10–12). Imports only core and ledger records."""
