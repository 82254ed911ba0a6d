"""Exception types for bad input; the CLI turns each into a one-line error with exit code 2."""

__all__ = ["StablepointError", "PayoffError", "SettingsError", "ProblemTooLargeError", "BudgetExhaustedError"]


class StablepointError(ValueError):
    """Base class for every user-facing input error raised by stablepoint."""


class PayoffError(StablepointError):
    """A payoff could not be read or is not a valid payoff tensor."""


class SettingsError(StablepointError):
    """An option is outside its valid range or names something unknown."""


class ProblemTooLargeError(StablepointError):
    """An exact computation would take too long; the message says how big and how to proceed."""


class BudgetExhaustedError(StablepointError):
    """A time budget ended before any part of the answer was finished; nothing to report."""
