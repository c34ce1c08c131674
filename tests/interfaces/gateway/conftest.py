"""The gateway tests' fixtures; the helpers live in ``gateway_helpers`` (a unique module name: several
test folders have a conftest.py, so ``from conftest import ...`` could load another folder's)."""

from gateway_helpers import live_gateway

__all__ = ["live_gateway"]
