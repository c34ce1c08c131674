"""Token-aware evaluation: failure-mode detectors and reports (SPEC.md §4–5). May import the layers."""
