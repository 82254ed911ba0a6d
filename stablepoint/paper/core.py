"""Result types and comparison helpers shared by the paper-table regenerations.

A regeneration returns a :class:`TableResult`: display sections (regenerated
beside published), per-cell verdicts (:class:`Cell`) and plain-language notes.
Verdicts:

``match``
    regenerated equals published within the paper's rounding (half a unit of
    the last printed decimal) or exactly for labels, sets and booleans;
``mismatch``
    it does not; the cell carries both values and the difference;
``new``
    nothing published to compare with (the regeneration adds information).

A table's ``status`` is ``match`` when every compared cell matches,
``mismatch`` when any does not, ``unavailable`` when a part of the toolkit it
needs is not installed yet, ``error`` when the regeneration raised.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = [
    "SameFitEverywhere",
    "Cell",
    "Section",
    "TableResult",
    "load_published",
    "number_cell",
    "exact_cell",
    "matrix_cells",
    "one_based",
    "action_set",
    "fmt",
    "fmt_matrix",
    "status_of",
]

VERDICTS = ("match", "mismatch", "new")


@dataclass(frozen=True)
class Cell:
    """One compared quantity.

    Attributes
    ----------
    key : str
        What it is, e.g. ``"k=2 target (1, 1)"`` (actions 1-based, as in the papers).
    published, regenerated : JSON-able
        The paper's value (None when not published) and ours.
    verdict : str
        ``"match"``, ``"mismatch"`` or ``"new"``.
    detail : str
        The difference or the rule used.
    """

    key: str
    published: Any
    regenerated: Any
    verdict: str
    detail: str = ""


@dataclass(frozen=True)
class Section:
    """A small display table: a title, a header row and rows of strings."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class TableResult:
    """The regeneration of one paper table (see the module docstring for ``status``)."""

    name: str
    title: str
    source: str
    status: str
    cells: tuple[Cell, ...] = ()
    sections: tuple[Section, ...] = ()
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    data: dict = field(default_factory=dict)

    @property
    def n_match(self) -> int:
        return sum(c.verdict == "match" for c in self.cells)

    @property
    def n_mismatch(self) -> int:
        return sum(c.verdict == "mismatch" for c in self.cells)

    @property
    def mismatches(self) -> tuple[Cell, ...]:
        return tuple(c for c in self.cells if c.verdict == "mismatch")

    def cell(self, key: str) -> Cell:
        """The cell named ``key`` (KeyError if absent)."""
        for c in self.cells:
            if c.key == key:
                return c
        raise KeyError(key)


def status_of(cells: Iterable[Cell]) -> str:
    """``"mismatch"`` if any cell mismatches, else ``"match"``."""
    return "mismatch" if any(c.verdict == "mismatch" for c in cells) else "match"


def load_published(name: str) -> dict:
    """The published values of one table, from ``stablepoint/data/published/<name>.json``.

    >>> load_published("table5")["b"]["loss"]
    36.22
    """
    path = resources.files("stablepoint").joinpath("data", "published", f"{name}.json")
    return json.loads(path.read_text())


def _plain(x):
    if isinstance(x, (np.floating, float)):
        return float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (tuple, list)):
        return [_plain(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return sorted(_plain(v) for v in x)
    return x


def number_cell(key: str, published, value, decimals: int, *, extra_tol: float = 1e-9) -> Cell:
    """Compare a number with a published one rounded to ``decimals`` places.

    >>> number_cell("L", 36.22, 326 / 9, 2).verdict
    'match'
    >>> number_cell("L", 45.56, 45.0, 2).detail
    'differs by -0.56 (tolerance 0.005)'
    """
    value = float(value)
    if published is None:
        return Cell(key, None, value, "new", "")
    tol = 0.5 * 10.0 ** (-decimals) + extra_tol
    diff = value - float(published)
    if abs(diff) <= tol:
        return Cell(key, float(published), value, "match", f"within {tol:g}")
    return Cell(key, float(published), value, "mismatch", f"differs by {diff:+.{max(decimals, 2)}g} (tolerance {tol:g})")


def exact_cell(key: str, published, value, detail: str = "") -> Cell:
    """Compare labels, sets, booleans exactly (None published: ``new``)."""
    published, value = _plain(published), _plain(value)
    if published is None:
        return Cell(key, None, value, "new", detail)
    verdict = "match" if published == value else "mismatch"
    return Cell(key, published, value, verdict, detail)


def matrix_cells(prefix: str, published, value, decimals: int, *, extra_tol: float = 1e-9) -> list[Cell]:
    """Entry-wise :func:`number_cell` over a matrix; keys are ``prefix (r, c)`` 1-based."""
    pub = np.asarray(published, dtype=float)
    val = np.asarray(value, dtype=float)
    if pub.shape != val.shape:
        return [Cell(prefix, pub.tolist(), val.tolist(), "mismatch", f"shape {pub.shape} vs {val.shape}")]
    return [
        number_cell(f"{prefix} {one_based(ix)}", pub[ix], val[ix], decimals, extra_tol=extra_tol)
        for ix in np.ndindex(pub.shape)
    ]


def one_based(u: Sequence[int]) -> str:
    """``(0, 2)`` -> ``"(1, 3)"``."""
    return "(" + ", ".join(str(int(a) + 1) for a in u) + ")"


def action_set(us) -> str:
    """A set of 0-based joint actions printed 1-based and sorted: ``{(1, 1), (3, 3)}``."""
    return "{" + ", ".join(one_based(u) for u in sorted(tuple(int(a) for a in u) for u in us)) + "}"


def fmt(x, digits: int = 4) -> str:
    """A number for display: integers without decimals, others to ``digits`` significant places."""
    x = float(x)
    if abs(x) < 1e-12:
        return "0"
    if abs(x - round(x)) < 1e-9:
        return str(int(round(x)))
    return f"{x:.{digits}g}"


def fmt_matrix(m, digits: int = 4) -> str:
    """A 2-D array as ``[a b c; d e f]``."""
    m = np.asarray(m, dtype=float)
    if m.ndim != 2:
        return str(np.round(m, digits).tolist())
    return "[" + "; ".join(" ".join(fmt(v, digits) for v in row) for row in m) + "]"


class SameFitEverywhere:
    """Wrap a method whose loss weights ignore u~ (uniform visitation): fit once, answer every u~.

    The stability analysis then costs one fit instead of |U|; only valid when the
    wrapped method's fit really does not depend on u~.
    """

    def __init__(self, method, payoff):
        self.name = method.name
        self.settings = method.settings
        self._fit = method.fit(payoff, (0,) * payoff.n_agents)

    def fit(self, payoff, u_tilde):
        return dataclasses.replace(self._fit, u_tilde=tuple(int(a) for a in u_tilde))
