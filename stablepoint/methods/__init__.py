"""Value-factorization methods under the stable-point model, looked up by name.

Each method maps ``(payoff, u_tilde)`` to a :class:`~stablepoint.methods.base.FitResult`
(all optimal fits and the exact greedy set, ties kept).

>>> sorted(METHODS)
['mrvf', 'qmix', 'qplex', 'resq', 'vdn', 'wqmix']
>>> get_method("wqmix", alpha=0.5).settings()["alpha"]
0.5
>>> method_settings("vdn")
('visitation', 'epsilon')
"""

from __future__ import annotations

import inspect

from stablepoint.errors import SettingsError
from stablepoint.methods.base import Fit, FitResult, Method
from stablepoint.methods.mrvf import MRVF
from stablepoint.methods.qmix import QMIX
from stablepoint.methods.qplex import QPLEX
from stablepoint.methods.resq import ResQ
from stablepoint.methods.vdn import VDN
from stablepoint.methods.wqmix import WQMIX

__all__ = ["METHODS", "get_method", "method_settings", "Fit", "FitResult", "Method"]

#: method name -> class; every class takes keyword-only settings.
METHODS: dict[str, type] = {
    "vdn": VDN,
    "qmix": QMIX,
    "wqmix": WQMIX,
    "resq": ResQ,
    "mrvf": MRVF,
    "qplex": QPLEX,
}


def _lookup(name) -> type:
    key = name.lower() if isinstance(name, str) else name
    if key not in METHODS:
        raise SettingsError(f"unknown method {name!r}; choose one of: {', '.join(METHODS)}")
    return METHODS[key]


def method_settings(name: str) -> tuple[str, ...]:
    """Names of the keyword settings the method ``name`` accepts.

    The class's ``setting_names`` when it declares them, else its keyword-only
    ``__init__`` parameters.
    """
    cls = _lookup(name)
    declared = getattr(cls, "setting_names", None)
    if declared is not None:
        return tuple(declared)
    params = inspect.signature(cls).parameters.values()
    return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


def get_method(name: str, **settings):
    """An instance of the method ``name`` with ``settings``.

    Raises
    ------
    SettingsError
        Unknown method (the message lists the valid ones), a setting the method
        does not take, or a setting outside its range.
    """
    cls = _lookup(name)
    valid = method_settings(name)
    unknown = sorted(set(settings) - set(valid))
    if unknown:
        raise SettingsError(
            f"method {name!r} does not take {', '.join(unknown)}; its settings: {', '.join(valid)}"
        )
    return cls(**settings)
