"""The one exception hierarchy of tokenomy (STYLE.md rule 4).

Expected scarcity (over budget, does not fit) is a return value, never an exception; misuse and bad
input raise one of these, with a message that names the bad value and what was expected; internal
invariants are ``assert``s.

    TokenomyError
    ├── ValidationError        a value is out of its domain (NaN, negative cost, unknown name)
    │   └── SchemaError        a record or file does not follow its documented schema
    ├── InfeasibleError        a solver was asked for something no allocation satisfies
    ├── LedgerError            the ledger store refused an operation (nothing was written)
    └── GateRefusedError       (tokenomy.autonomy.verdict) the tool-call gate did not allow a call
        ├── ActionDeniedError      the schedule denies the action's class
        └── ApprovalRequiredError  the class needs a confirmation that was not given
"""

from __future__ import annotations

__all__ = ["InfeasibleError", "LedgerError", "SchemaError", "TokenomyError", "ValidationError"]


class TokenomyError(Exception):
    """Base class of every error tokenomy raises on purpose."""


class ValidationError(TokenomyError, ValueError):
    """A value is outside its domain; the message names the field, the value and the valid form."""


class SchemaError(ValidationError):
    """A record or input file does not follow its documented schema (names file, line, field)."""


class InfeasibleError(TokenomyError):
    """The constraints admit no allocation (or the objective is unbounded)."""


class LedgerError(TokenomyError):
    """The ledger refused an operation; the store is unchanged."""
