"""The four layers composed on one price bus, and experiments (SPEC.md §5). May import the layers."""
