"""stablepoint: stable-point analysis of value-factorization methods in cooperative MARL.

The exact core (payoffs, visitations, Ideal-QMIX projection, per-method optimal
fits, stability graphs) is pure numpy/scipy/cvxpy; torch is imported only by
the gradient-flow and deep-RL sub-packages.
"""

from stablepoint.errors import StablepointError, PayoffError, SettingsError, ProblemTooLargeError
from stablepoint.payoff import Payoff, load_payoff

__all__ = [
    "Payoff",
    "load_payoff",
    "StablepointError",
    "PayoffError",
    "SettingsError",
    "ProblemTooLargeError",
]
__version__ = "0.1.0"
