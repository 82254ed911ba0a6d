"""The payoff tensor Y = Q_jt over joint actions, its loaders and its validation.

A :class:`Payoff` is an immutable float64 array of shape ``(A_1, ..., A_n)``
(n >= 2 agents, every A_i >= 2) with per-agent action labels and a name.
Joint actions are 0-based tuples of ints everywhere in code; only renderers
print them 1-based, as the papers do.

Three file formats load through :func:`load_payoff`:

* matrix CSV (2 agents): rows are agent 1's actions, columns agent 2's;
  an optional header row and/or first column of action labels;
* long CSV (any n): a header ``a1,...,an,value`` (any names, last one
  ``value``) and one row per joint action; action entries are integers
  (0-based) or labels;
* NumPy ``.npy``: an n-dimensional float array.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from stablepoint.errors import PayoffError
from stablepoint.tolerances import VALUE_ATOL, scale_exponent, to_unit

__all__ = ["Payoff", "load_payoff", "parse_matrix_csv", "parse_long_csv", "JointAction"]

#: A joint action: one 0-based action index per agent.
JointAction = tuple[int, ...]


def _validate_values(values) -> np.ndarray:
    dtype = getattr(values, "dtype", None)
    if dtype is not None and dtype.kind == "c":
        raise PayoffError(f"payoff values are complex (dtype {dtype}); a payoff needs real numbers")
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise PayoffError(f"payoff values are not numeric: {exc}") from None
    if arr.ndim < 2:
        raise PayoffError(
            f"a payoff needs at least 2 agents (array dimensions); got {arr.ndim}"
        )
    if any(s < 2 for s in arr.shape):
        raise PayoffError(
            f"every agent needs at least 2 actions; got shape {tuple(arr.shape)}"
        )
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise PayoffError(
            f"payoff contains NaN or infinity at joint action {tuple(i + 1 for i in bad)} (1-based)"
        )
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class Payoff:
    """An immutable joint-action value table Q_jt of a single-state cooperative game.

    Parameters
    ----------
    values : array_like, shape (A_1, ..., A_n)
        Q_jt(u) for every joint action u; converted to a read-only float64 array.
    labels : sequence of sequences of str, optional
        Action labels per agent; defaults to ``"1", "2", ...`` (1-based, as printed).
    name : str
        Short name used in reports.

    Examples
    --------
    The QTRAN game has its optimum at the top-left cell:

    >>> p = Payoff([[8, -12, -12], [-12, 0, 0], [-12, 0, 0]], name="qtran")
    >>> p.shape, p.n_agents, p.optimal_actions()
    ((3, 3), 2, [(0, 0)])
    """

    values: np.ndarray
    labels: tuple[tuple[str, ...], ...] = field(default=())
    name: str = ""

    def __post_init__(self):
        arr = _validate_values(self.values)
        object.__setattr__(self, "values", arr)
        if not self.labels:
            labels = tuple(tuple(str(a + 1) for a in range(s)) for s in arr.shape)
        else:
            labels = tuple(tuple(str(x) for x in agent) for agent in self.labels)
            if len(labels) != arr.ndim or any(
                len(lab) != s for lab, s in zip(labels, arr.shape)
            ):
                raise PayoffError(
                    f"labels do not match payoff shape {arr.shape}: "
                    f"got {[len(lab) for lab in labels]} labels per agent"
                )
            for i, lab in enumerate(labels):
                if len(set(lab)) != len(lab):
                    raise PayoffError(f"agent {i + 1} has duplicate action labels {lab}")
        object.__setattr__(self, "labels", labels)

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of actions per agent."""
        return tuple(self.values.shape)

    @property
    def n_agents(self) -> int:
        """Number of agents n."""
        return self.values.ndim

    @property
    def n_joint(self) -> int:
        """Number of joint actions |U|."""
        return int(self.values.size)

    def joint_actions(self) -> Iterator[JointAction]:
        """All joint actions in C (row-major) order."""
        return itertools.product(*(range(s) for s in self.shape))

    def __getitem__(self, u) -> float:
        return float(self.values[tuple(u)])

    def check_action(self, u: Sequence[int]) -> JointAction:
        """Validate a 0-based joint action and return it as a tuple of ints."""
        try:
            tup = tuple(int(x) for x in u)
        except (TypeError, ValueError):
            raise PayoffError(f"joint action {u!r} is not a sequence of integers") from None
        if len(tup) != self.n_agents or any(not 0 <= a < s for a, s in zip(tup, self.shape)):
            raise PayoffError(
                f"joint action {tuple(a + 1 for a in tup)} (1-based) is out of range for shape {self.shape}"
            )
        return tup

    def unit_values(self) -> np.ndarray:
        """The values divided by their power-of-two scale (spread in [1, 2), see :mod:`stablepoint.tolerances`)."""
        return to_unit(self.values, scale_exponent(self.values))

    def optimal_actions(self, atol: float = VALUE_ATOL) -> list[JointAction]:
        """The arg-max set u* of Q_jt, within ``atol`` in unit-range units, in C order.

        >>> Payoff([[1e-300, 0.9e-300], [0.0, 0.0]]).optimal_actions()
        [(0, 0)]
        """
        v = self.unit_values()
        return [tuple(int(i) for i in ix) for ix in np.argwhere(v >= v.max() - atol)]

    def worst_actions(self, atol: float = VALUE_ATOL) -> list[JointAction]:
        """The arg-min set of Q_jt, within ``atol`` in unit-range units, in C order."""
        v = self.unit_values()
        return [tuple(int(i) for i in ix) for ix in np.argwhere(v <= v.min() + atol)]

    def is_constant(self, atol: float = VALUE_ATOL) -> bool:
        """Whether Q_jt is constant up to ``atol`` in unit-range units."""
        v = self.unit_values()
        return float(v.max() - v.min()) <= atol

    def with_values(self, values, name: str | None = None) -> "Payoff":
        """A payoff with the same labels and new values (e.g. MRVF's clipped target)."""
        return Payoff(values, self.labels, self.name if name is None else name)

    def format_action(self, u: Sequence[int]) -> str:
        """A joint action printed 1-based, as in the papers: ``(1, 3)``."""
        return "(" + ", ".join(str(int(a) + 1) for a in u) + ")"

    def __repr__(self) -> str:
        return f"Payoff(name={self.name!r}, shape={self.shape})"


# --------------------------------------------------------------------------- loaders


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_rows(text: str, source: str) -> list[list[str]]:
    rows = [
        [cell.strip() for cell in row]
        for row in csv.reader(io.StringIO(text))
        if any(cell.strip() for cell in row)
    ]
    if not rows:
        raise PayoffError(f"{source}: the CSV is empty")
    if all(len(row) == 1 for row in rows):
        # one field per line: a file separated by something else than commas
        for sep, shown in _OTHER_SEPARATORS:
            if any(sep in row[0] for row in rows):
                raise PayoffError(
                    f"{source}: fields are separated by {shown}, not commas; write the CSV with comma separators"
                )
    return rows


_OTHER_SEPARATORS = ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'"), (" ", "spaces"))

#: a long CSV whose action columns span more joint actions than this (and than its rows) is
#: refused before the table is allocated
_MAX_SPARSE_JOINT = 1_000_000


def parse_matrix_csv(text: str, name: str = "", source: str = "<csv>") -> Payoff:
    """A 2-agent payoff from matrix-CSV text (rows: agent 1, columns: agent 2).

    A first row whose cells (after the corner) are not all numbers is a header
    of agent-2 labels; a first column likewise holds agent-1 labels.
    """
    rows = _read_rows(text, source)
    # A header row starts with a non-numeric cell (a label or an empty corner) and
    # has a non-numeric cell after it; a data row with a bad value starts with a number.
    has_header = not _is_number(rows[0][0]) and not all(_is_number(c) for c in rows[0][1:])
    header = rows[0] if has_header else None
    body = rows[1:] if has_header else rows
    if not body:
        raise PayoffError(f"{source}: no data rows after the header")
    has_row_labels = all(not _is_number(r[0]) for r in body)
    row_labels = [r[0] for r in body] if has_row_labels else None
    if has_row_labels:
        body = [r[1:] for r in body]
    widths = sorted({len(r) for r in body})
    if len(widths) != 1:
        raise PayoffError(f"{source}: ragged matrix: rows have {widths} value columns")
    width = widths[0]
    for r_i, r in enumerate(body):
        for c_i, cell in enumerate(r):
            if not _is_number(cell):
                raise PayoffError(
                    f"{source}: non-numeric value {cell!r} at row {r_i + 1}, column {c_i + 1}"
                )
    col_labels = None
    if header is not None:
        if len(header) == width + 1:
            col_labels = header[1:]  # the first cell is a corner label
        elif len(header) == width and not has_row_labels:
            col_labels = header
        else:
            raise PayoffError(
                f"{source}: header has {len(header)} cells for {width} value columns"
            )
    values = np.array([[float(c) for c in r] for r in body])
    labels = ()
    if row_labels is not None or col_labels is not None:
        labels = (
            tuple(row_labels) if row_labels is not None else tuple(str(i + 1) for i in range(values.shape[0])),
            tuple(col_labels) if col_labels is not None else tuple(str(i + 1) for i in range(values.shape[1])),
        )
    return Payoff(values, labels, name)


def parse_long_csv(text: str, name: str = "", source: str = "<csv>") -> Payoff:
    """A payoff for any n from long-CSV text: header ``a1,...,an,value``, one row per joint action.

    Action entries are 0-based integers or labels (labels are numbered in order of
    first appearance).  Every joint action must appear exactly once.
    """
    rows = _read_rows(text, source)
    header, rows = rows[0], rows[1:]
    n = len(header) - 1
    if n < 2:
        raise PayoffError(f"{source}: a long CSV needs at least 2 agent columns before 'value'")
    if not rows:
        raise PayoffError(f"{source}: no data rows after the header")
    entries: list[tuple[list[str], float]] = []
    for r_i, row in enumerate(rows, start=2):
        if len(row) != n + 1:
            raise PayoffError(f"{source}: line {r_i} has {len(row)} fields, expected {n + 1}")
        if not _is_number(row[-1]):
            raise PayoffError(f"{source}: line {r_i}: value {row[-1]!r} is not a number")
        if not math.isfinite(float(row[-1])):
            raise PayoffError(f"{source}: line {r_i}: value {row[-1]!r} is NaN or infinity")
        entries.append((row[:-1], float(row[-1])))
    for r_i, (key, _) in enumerate(entries, start=2):
        for i, cell in enumerate(key):
            if _is_number(cell) and not cell.lstrip("+-").isdigit():
                raise PayoffError(
                    f"{source}: line {r_i}: action index {cell!r} in column {header[i]!r} is not an integer "
                    "(give 0-based integers or labels)"
                )
    integer_cols = [all(e[0][i].lstrip("-").isdigit() for e in entries) for i in range(n)]
    labels: list[list[str] | None] = []  # None: an integer column (labels made after the size check)
    sizes: list[int] = []
    for i in range(n):
        seen = [e[0][i] for e in entries]
        if integer_cols[i]:
            idx = sorted({int(s) for s in seen})
            if idx[0] < 0:
                raise PayoffError(f"{source}: column {header[i]!r} has a negative action index")
            labels.append(None)
            sizes.append(idx[-1] + 1)
        else:
            labels.append(list(dict.fromkeys(seen)))
            sizes.append(len(labels[-1]))
    shape = tuple(sizes)
    n_joint = math.prod(shape)
    if n_joint > len(entries) and n_joint > _MAX_SPARSE_JOINT:
        # refuse before allocating: most joint actions must be missing
        biggest = max(range(n), key=lambda i: shape[i])
        if integer_cols[biggest]:
            line, key = max(enumerate((e[0] for e in entries), start=2), key=lambda t: int(t[1][biggest]))
            where = f"action index {key[biggest]} in column {header[biggest]!r} (line {line})"
        else:
            where = f"{shape[biggest]} distinct labels in column {header[biggest]!r}"
        raise PayoffError(
            f"{source}: {where} makes {n_joint:,} joint actions but the file has {len(entries)} rows; "
            "joint actions missing (each needs one row)"
        )
    labels = [lab if lab is not None else [str(k + 1) for k in range(size)] for lab, size in zip(labels, shape)]
    values = np.full(shape, np.nan)
    for key, val in entries:
        ix = tuple(
            int(key[i]) if integer_cols[i] else labels[i].index(key[i]) for i in range(n)
        )
        if not math.isnan(values[ix]):
            shown = ",".join(key)
            raise PayoffError(f"{source}: duplicate joint action ({shown})")
        values[ix] = val
    if np.isnan(values).any():
        missing = tuple(int(i) + 1 for i in np.argwhere(np.isnan(values))[0])
        raise PayoffError(
            f"{source}: {int(np.isnan(values).sum())} joint action(s) missing, e.g. {missing} (1-based)"
        )
    if not np.isfinite(values).all():
        raise PayoffError(f"{source}: payoff contains NaN or infinity")
    has_labels = not all(integer_cols)
    return Payoff(values, tuple(tuple(lab) for lab in labels) if has_labels else (), name)


def load_payoff(path: str | Path, fmt: str = "auto", name: str | None = None) -> Payoff:
    """Load a payoff from ``.npy``, a matrix CSV or a long CSV.

    Parameters
    ----------
    path : str or Path
        The file.
    fmt : {"auto", "matrix", "long", "npy"}
        ``auto`` picks ``npy`` by extension, ``long`` for a CSV whose header's last
        field is ``value`` (any case), ``matrix`` otherwise.
    name : str, optional
        Defaults to the file's stem.

    Raises
    ------
    PayoffError
        On a missing or unreadable file, or on any invalid content.
    """
    path = Path(path)
    name = path.stem if name is None else name
    if fmt not in {"auto", "matrix", "long", "npy"}:
        raise PayoffError(f"unknown payoff format {fmt!r}; choose auto, matrix, long or npy")
    if not path.is_file():
        raise PayoffError(f"payoff file not found: {path}")
    if fmt == "npy" or (fmt == "auto" and path.suffix.lower() == ".npy"):
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as exc:  # numpy raises several types for bad files
            raise PayoffError(f"{path}: not a readable .npy array ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
        if arr.dtype.kind not in "iuf":
            raise PayoffError(
                f"{path}: the .npy values are not real numbers (dtype {arr.dtype}); a payoff needs a float or integer array"
            )
        return Payoff(arr, (), name)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise PayoffError(f"{path}: cannot read as text ({exc})") from None
    if fmt == "auto":
        first = _read_rows(text, str(path))[0]
        fmt = "long" if first[-1].strip().lower() == "value" else "matrix"
    parse = parse_long_csv if fmt == "long" else parse_matrix_csv
    return parse(text, name=name, source=str(path))
