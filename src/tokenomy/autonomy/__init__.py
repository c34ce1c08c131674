"""Action layer: the agent as a principal–agent contract (SPEC.md §3, Eq. 6–8). Imports only core and ledger records."""
