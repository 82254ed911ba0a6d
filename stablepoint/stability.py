"""Stable points, the transition graph u~ -> ubar, its attractors and their basins.

The analysis is method-agnostic (MRVF Section 3.1-3.2): it only calls
``method.fit(payoff, u_tilde)`` for every joint action u~ and reads the greedy
set ubar(u~) of the optimal fits.  From those sets:

* u~ is **strongly stable** when ``greedy_set == {u~}``, **weakly stable**
  when u~ is in the greedy set together with other joint actions, and not
  stable otherwise (MRVF Definition 1 and the four steps after it);
* the **transition graph** has an edge u~ -> v for every v in ubar(u~), so a
  stable point is a node with a self-loop;
* its **attractors** are the attracting components (closed strongly
  connected components, :func:`networkx.attracting_components`): a strongly
  stable point is a singleton attractor, a larger one is a set the greedy
  action can cycle in forever once it enters;
* the **basin** of an attractor comes in two strengths.  ``basin_some`` is
  every u~ from which SOME path of the graph reaches the attractor (some
  resolution of the ties leads there); ``basin_all`` is every u~ from which no
  path reaches any OTHER attractor, so every path that leaves the transient
  states ends there (with ties broken at random, each member of a greedy set
  with positive probability, the process is absorbed in it with probability
  1).  A weakly stable point outside every attractor can hold the process for
  as long as its ties resolve to itself; the basins describe where the process
  can (some) or must (all) end once it moves on.

``analyze(..., u_tildes=[...])`` computes only the given rows u~ -> ubar(u~)
(a row depends on ``method.fit(payoff, u~)`` alone, so each is exact); the
result is then ``partial`` and leaves out what needs the whole graph
(attractors, basins, reachability of the optimum).

Graph functions follow networkx: pure functions of a ``DiGraph`` whose nodes
are 0-based joint actions, with thin ``number_*`` / ``is_*`` helpers.

:func:`sweep_epsilon` repeats the analysis over a grid of exploration rates
and brackets the critical epsilons where the stable set changes.

Examples
--------
A transition table written by hand: (0, 0) is strongly stable, (1, 1) is
weakly stable (its fits tie with (0, 0)), and (0, 1) <-> (1, 0) is a 2-cycle
that never closes on itself:

>>> table = {(0, 0): [(0, 0)], (0, 1): [(1, 0)], (1, 0): [(0, 1)], (1, 1): [(1, 1), (0, 0)]}
>>> g = transition_graph(table)
>>> stability_kinds(g)
{(0, 0): 'strong', (1, 1): 'weak'}
>>> attractors(g)
(frozenset({(0, 0)}), frozenset({(0, 1), (1, 0)}))
>>> sorted(basin_some(g, {(0, 0)})), sorted(basin_all(g, {(0, 0)}))
([(0, 0), (1, 1)], [(0, 0), (1, 1)])
"""

from __future__ import annotations

import math
import dataclasses
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping, Sequence

import networkx as nx

from stablepoint.errors import BudgetExhaustedError, SettingsError
from stablepoint.methods.base import FitResult
from stablepoint.payoff import JointAction, Payoff
from stablepoint.visitation import check_epsilon

__all__ = [
    "STRONG",
    "WEAK",
    "StabilityResult",
    "AnalysisEstimate",
    "analyze",
    "fit_ignores_u_tilde",
    "format_duration",
    "transition_graph",
    "stability_kinds",
    "stable_points",
    "number_stable_points",
    "is_stable_point",
    "is_strongly_stable",
    "attractors",
    "number_attractors",
    "is_attractor",
    "basin_some",
    "basin_all",
    "CriticalInterval",
    "SweepResult",
    "sweep_epsilon",
]

#: Stability kinds (MRVF Definition 1, step 4).
STRONG = "strong"
WEAK = "weak"


# --------------------------------------------------------------------------- graph functions


def transition_graph(transitions: Mapping[JointAction, Iterable[JointAction]]) -> nx.DiGraph:
    """The directed graph u~ -> v for every v in the greedy set ubar(u~).

    Parameters
    ----------
    transitions : mapping
        ``u_tilde -> greedy set`` for every joint action; nodes keep the
        mapping's order, edges are added in sorted order (deterministic output).

    Returns
    -------
    networkx.DiGraph
        Nodes are joint-action tuples.

    Raises
    ------
    ValueError
        When a greedy set is empty or names a joint action that is not a key
        (every method must admit at least one greedy action per u~).

    Examples
    --------
    >>> g = transition_graph({(0,): [(1,)], (1,): [(1,)]})
    >>> sorted(g.edges)
    [((0,), (1,)), ((1,), (1,))]
    """
    g = nx.DiGraph()
    table = {tuple(int(a) for a in u): sorted(tuple(int(a) for a in v) for v in vs) for u, vs in transitions.items()}
    g.add_nodes_from(table)
    for u, vs in table.items():
        if not vs:
            raise ValueError(f"greedy set of u~ = {u} is empty")
        for v in vs:
            if v not in table:
                raise ValueError(f"greedy action {v} of u~ = {u} is not a node of the graph")
            g.add_edge(u, v)
    return g


def stability_kinds(g: nx.DiGraph) -> dict[JointAction, str]:
    """``{u: "strong" | "weak"}`` for every stable node, in node order.

    A node is stable when it has a self-loop (u~ is in its own greedy set);
    strongly stable when the self-loop is its only out-edge.

    Examples
    --------
    >>> stability_kinds(transition_graph({(0,): [(0,), (1,)], (1,): [(1,)]}))
    {(0,): 'weak', (1,): 'strong'}
    """
    kinds = {}
    for u in g.nodes:
        if g.has_edge(u, u):
            kinds[u] = STRONG if g.out_degree(u) == 1 else WEAK
    return kinds


def stable_points(g: nx.DiGraph) -> list[JointAction]:
    """Stable nodes (weak or strong), in node order.

    >>> stable_points(transition_graph({(0,): [(1,)], (1,): [(1,)]}))
    [(1,)]
    """
    return list(stability_kinds(g))


def number_stable_points(g: nx.DiGraph) -> int:
    """How many nodes are stable (weak or strong).

    >>> number_stable_points(transition_graph({(0,): [(1,)], (1,): [(0,)]}))
    0
    """
    return len(stability_kinds(g))


def is_stable_point(g: nx.DiGraph, u) -> bool:
    """Whether u is in its own greedy set (weakly or strongly stable).

    >>> is_stable_point(transition_graph({(0,): [(0,), (1,)], (1,): [(0,)]}), (0,))
    True
    """
    u = tuple(u)
    return g.has_edge(u, u)


def is_strongly_stable(g: nx.DiGraph, u) -> bool:
    """Whether the greedy set of u is exactly {u}.

    >>> is_strongly_stable(transition_graph({(0,): [(0,), (1,)], (1,): [(0,)]}), (0,))
    False
    """
    u = tuple(u)
    return g.has_edge(u, u) and g.out_degree(u) == 1


def attractors(g: nx.DiGraph) -> tuple[frozenset, ...]:
    """Attracting components (closed strongly connected components), sorted by smallest member.

    Built on :func:`networkx.attracting_components`.  A strongly stable point
    is a singleton attractor; a weakly stable point is in an attractor only if
    every other member of its greedy set leads back to it.

    See Also
    --------
    basin_some, basin_all, is_attractor

    Examples
    --------
    A 2-cycle between (0,) and (1,), entered from (2,):

    >>> attractors(transition_graph({(0,): [(1,)], (1,): [(0,)], (2,): [(0,)]}))
    (frozenset({(0,), (1,)}),)
    """
    return tuple(sorted((frozenset(c) for c in nx.attracting_components(g)), key=min))


def number_attractors(g: nx.DiGraph) -> int:
    """How many attracting components the graph has.

    >>> number_attractors(transition_graph({(0,): [(0,)], (1,): [(1,)]}))
    2
    """
    return len(attractors(g))


def is_attractor(g: nx.DiGraph, nodes) -> bool:
    """Whether ``nodes`` is exactly one attracting component of g.

    >>> g = transition_graph({(0,): [(0,), (1,)], (1,): [(1,)]})
    >>> is_attractor(g, [(1,)]), is_attractor(g, [(0,)])
    (True, False)
    """
    target = frozenset(tuple(u) for u in nodes)
    return target in set(attractors(g))


def _check_attractor(g: nx.DiGraph, attractor) -> frozenset:
    target = frozenset(tuple(u) for u in attractor)
    if target not in set(attractors(g)):
        raise ValueError(f"{sorted(target)} is not an attracting component of the graph")
    return target


def basin_some(g: nx.DiGraph, attractor) -> frozenset:
    """Every node from which SOME path reaches ``attractor`` (the attractor included).

    Raises
    ------
    ValueError
        When ``attractor`` is not an attracting component of g.

    Examples
    --------
    (2,) has a tie between two attractors, so it is in both "some" basins:

    >>> g = transition_graph({(0,): [(0,)], (1,): [(1,)], (2,): [(0,), (1,)]})
    >>> sorted(basin_some(g, [(0,)]))
    [(0,), (2,)]
    """
    target = _check_attractor(g, attractor)
    return frozenset(target | nx.ancestors(g, next(iter(target))))


def basin_all(g: nx.DiGraph, attractor) -> frozenset:
    """Every node from which no path reaches another attractor: all paths end in ``attractor``.

    Every node reaches at least one attractor (the graph is finite and every
    node has an out-edge), so these are exactly the nodes whose reachable
    attractors are ``attractor`` alone.

    Raises
    ------
    ValueError
        When ``attractor`` is not an attracting component of g.

    Examples
    --------
    >>> g = transition_graph({(0,): [(0,)], (1,): [(1,)], (2,): [(0,), (1,)], (3,): [(2,), (3,)]})
    >>> sorted(basin_all(g, [(0,)])), sorted(basin_some(g, [(0,)]))
    ([(0,)], [(0,), (2,), (3,)])
    """
    target = _check_attractor(g, attractor)
    others = [a for a in attractors(g) if a != target]
    excluded = set()
    for other in others:
        excluded |= basin_some(g, other)
    return frozenset(basin_some(g, target) - excluded)


# --------------------------------------------------------------------------- the analysis


@dataclass(frozen=True)
class StabilityResult:
    """Stable points, transition graph, attractors and basins of one method on one payoff.

    Attributes
    ----------
    payoff : Payoff
        The analysed payoff Q_jt.
    method : str
        The method's name.
    settings : mapping
        The method's ``settings()`` (JSON-able).
    transitions : mapping
        ``u_tilde -> FitResult`` for every joint action (every computed row
        when ``partial``), in C order.
    graph : networkx.DiGraph
        Frozen transition graph u~ -> ubar (:func:`transition_graph`).
    kinds : mapping
        ``u -> "strong" | "weak"`` for the stable points, in C order.
    attractors : tuple of frozenset or None
        Attracting components, sorted by smallest member (None when ``partial``).
    basins_some : tuple of frozenset or None
        Per attractor, every u~ from which SOME path reaches it (None when ``partial``).
    basins_all : tuple of frozenset or None
        Per attractor, every u~ from which EVERY path ends in it (None when ``partial``).
    optimal : tuple of joint actions
        The arg-max set u* of Q_jt.
    partial : bool
        True when only some rows u~ of the transition graph were computed
        (``analyze(..., u_tildes=...)`` naming fewer than every joint action).
        Then ``transitions`` and ``kinds`` hold the computed rows only (each
        exactly as the full analysis gives it), ``graph`` has out-edges only
        from those rows (its other nodes are their greedy actions, whose own
        rows are unknown), and everything that needs the whole graph is None:
        ``attractors``, ``basins_some``, ``basins_all``,
        ``optimum_reachable_from``, ``optimum_reachable_from_every`` and
        ``optimum_guaranteed_from``; ``optimum_stable`` is None unless the
        computed rows decide it.
    """

    payoff: Payoff
    method: str
    settings: Mapping[str, Any]
    transitions: Mapping[JointAction, FitResult]
    graph: nx.DiGraph = field(repr=False)
    kinds: Mapping[JointAction, str]
    attractors: tuple[frozenset, ...] | None
    basins_some: tuple[frozenset, ...] | None
    basins_all: tuple[frozenset, ...] | None
    optimal: tuple[JointAction, ...]
    partial: bool = False
    unfinished: tuple[JointAction, ...] = ()
    budget: float | None = None

    def __reduce__(self):
        # Read-only mappings and the frozen graph do not pickle; results cross process boundaries
        # (stablepoint.bounded), so they travel as plain dicts and a graph copy and are re-frozen.
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for key, value in values.items():
            if isinstance(value, MappingProxyType):
                values[key] = dict(value)
        values["graph"] = nx.DiGraph(self.graph)
        return (_rebuild_result, (values,))

    @property
    def rows(self) -> tuple[JointAction, ...]:
        """The u~ whose rows were computed, in C order (every joint action unless ``partial``)."""
        return tuple(self.transitions)

    @property
    def stable_points(self) -> tuple[JointAction, ...]:
        """Every stable u~ (weak or strong), in C order."""
        return tuple(self.kinds)

    @property
    def certified(self) -> bool:
        """Whether every fit was proven optimal and every requested row finished (no budget stopped early)."""
        return not self.unfinished and all(f.certified for f in self.transitions.values())

    def greedy_set(self, u_tilde) -> frozenset:
        """The greedy set ubar(u~) (KeyError for a row a ``partial`` result did not compute)."""
        return self.transitions[tuple(int(a) for a in u_tilde)].greedy_set

    def kind(self, u) -> str | None:
        """``"strong"``, ``"weak"`` or None (not stable, or a row a ``partial`` result did not compute)."""
        return self.kinds.get(tuple(int(a) for a in u))

    def _need_whole_graph(self, what: str) -> None:
        if self.partial:
            raise ValueError(
                f"{what} needs every row of the transition graph; this result is partial "
                f"({len(self.transitions)} of {self.payoff.n_joint} rows)"
            )

    def attractor_kind(self, index: int) -> str:
        """``"point"`` for a singleton attractor (a strongly stable point), ``"cycle"`` otherwise.

        Raises ValueError on a ``partial`` result (it has no attractors).
        """
        self._need_whole_graph("attractor_kind")
        return "point" if len(self.attractors[index]) == 1 else "cycle"

    @property
    def optimum_stable(self) -> bool | None:
        """Whether some optimal joint action u* is stable (weakly or strongly).

        On a ``partial`` result: True when a computed optimal row is stable,
        False when every optimal row was computed and none is stable, None
        (undecided) otherwise.
        """
        if any(u in self.kinds for u in self.optimal):
            return True
        if self.partial and not all(u in self.transitions for u in self.optimal):
            return None
        return False

    @property
    def optimum_reachable_from(self) -> frozenset | None:
        """Every u~ from which SOME path of the graph reaches an optimal joint action (None when ``partial``)."""
        if self.partial:
            return None
        reach = set(self.optimal)
        for u in self.optimal:
            reach |= nx.ancestors(self.graph, u)
        return frozenset(reach)

    @property
    def optimum_reachable_from_every(self) -> bool | None:
        """Whether every u~ has a path to an optimal joint action (None when ``partial``)."""
        if self.partial:
            return None
        return len(self.optimum_reachable_from) == self.graph.number_of_nodes()

    @property
    def optimum_guaranteed_from(self) -> frozenset | None:
        """Every u~ whose every path ends in an attractor made only of optimal joint actions (None when ``partial``)."""
        if self.partial:
            return None
        optimal = set(self.optimal)
        good = [i for i, a in enumerate(self.attractors) if a <= optimal]
        bad = [i for i, a in enumerate(self.attractors) if not a <= optimal]
        reach_good = set().union(*(self.basins_some[i] for i in good)) if good else set()
        reach_bad = set().union(*(self.basins_some[i] for i in bad)) if bad else set()
        return frozenset(reach_good - reach_bad)


def _rebuild_result(values: dict) -> StabilityResult:
    """Inverse of :meth:`StabilityResult.__reduce__`."""
    values = dict(values)
    for key in ("settings", "transitions", "kinds"):
        values[key] = MappingProxyType(dict(values[key]))
    values["graph"] = nx.freeze(values["graph"])
    return StabilityResult(**values)


def _as_payoff(payoff) -> Payoff:
    return payoff if isinstance(payoff, Payoff) else Payoff(payoff)


def _check_u_tildes(payoff: Payoff, u_tildes) -> list[JointAction]:
    """Validate ``u_tildes`` (0-based joint actions): the rows in C order; SettingsError when malformed."""
    import numbers

    import numpy as np

    n, shape = payoff.n_agents, payoff.shape
    if isinstance(u_tildes, (str, bytes)):
        raise SettingsError(f"u_tildes must be a sequence of joint actions, got the string {u_tildes!r}")
    try:
        items = list(u_tildes)
    except TypeError:
        raise SettingsError(
            f"u_tildes must be a sequence of joint actions (each {n} ints), got {type(u_tildes).__name__}"
        ) from None
    if not items:
        raise SettingsError("u_tildes is empty: give at least one joint action")
    seen: dict[JointAction, int] = {}
    for pos, u in enumerate(items):
        if isinstance(u, (str, bytes)) or np.ndim(u) != 1:
            hint = " (wrap a single joint action in a list: [(0, 1, ...)])" if np.ndim(u) == 0 else ""
            raise SettingsError(
                f"u_tildes[{pos}] = {u!r} is not a joint action: expected a sequence of {n} ints{hint}"
            )
        entries = list(u)
        if len(entries) != n:
            raise SettingsError(
                f"u_tildes[{pos}] = {tuple(entries)} has {len(entries)} entries; the payoff has {n} agents"
            )
        for i, a in enumerate(entries):
            if isinstance(a, (bool, np.bool_)) or not isinstance(a, numbers.Integral):
                raise SettingsError(f"u_tildes[{pos}] = {tuple(entries)}: action {a!r} of agent {i + 1} is not an integer")
            if not 0 <= int(a) < shape[i]:
                raise SettingsError(
                    f"u_tildes[{pos}] = {tuple(int(x) for x in entries)}: action {int(a)} of agent {i + 1} "
                    f"is out of range 0..{shape[i] - 1} (0-based)"
                )
        key = tuple(int(a) for a in entries)
        if key in seen:
            raise SettingsError(f"u_tildes lists {key} twice (positions {seen[key]} and {pos})")
        seen[key] = pos
    return sorted(seen)


def fit_ignores_u_tilde(method) -> bool:
    """Whether ``method`` declares that its fit is the same for every u~ (then one fit answers for all).

    A method declares it with a ``fit_ignores_u_tilde()`` method returning True
    (e.g. QMIX and VDN when the visitation is uniform or epsilon = 1).  Only
    ``u_tilde`` differs between the rows' results.
    """
    declared = getattr(method, "fit_ignores_u_tilde", None)
    return bool(declared()) if callable(declared) else False


@dataclass(frozen=True)
class AnalysisEstimate:
    """The size of an analysis and how long it should take, from its first row (a probe solve).

    Attributes
    ----------
    shape : tuple of int
        The payoff's shape.
    rows : int
        Rows u~ to solve (1 when one fit answers for every u~).
    jobs : int
        Worker processes.
    first_row_seconds : float or None
        Wall time until the first row was back (None: not within the probe window).
    seconds : float
        Estimated wall time of the whole analysis: the wall time until the first row was back
        (start-up included) plus ``first_row_seconds`` per further wave of ``jobs`` rows; with
        no row back, ``probe_seconds`` per wave.
    lower_bound : bool
        True when no row finished within the probe window, so ``seconds`` is at least
        the true time only if the rows cost alike (each took longer than the window).
    fit_once : bool
        Whether one fit answers for every u~.
    """

    shape: tuple
    rows: int
    jobs: int
    first_row_seconds: float | None
    seconds: float
    lower_bound: bool
    fit_once: bool = False

    @classmethod
    def from_first(cls, payoff, rows, jobs, seconds, elapsed=None, once=False):
        """From the first row's own solve time ``seconds`` and the wall time ``elapsed`` until it was
        back (start-up included): the start-up once, then one solve per wave of ``jobs`` rows."""
        waves = math.ceil(rows / max(1, jobs))
        spent = float(seconds if elapsed is None else max(elapsed, seconds))
        return cls(tuple(payoff.shape), rows, jobs, float(seconds), spent + float(seconds) * (waves - 1), False,
                   bool(once))

    @classmethod
    def from_probe(cls, payoff, rows, jobs, probe_seconds, once=False):
        waves = math.ceil(rows / max(1, jobs))
        return cls(tuple(payoff.shape), rows, jobs, None, float(probe_seconds) * waves, True, bool(once))

    def describe(self) -> str:
        """One line: size and estimate, e.g. ``125 rows u~ of a 5x5x5 payoff on 2 jobs: about 12 s``."""
        shape = "x".join(str(s) for s in self.shape)
        what = ("1 fit (the same for every u~)" if self.fit_once
                else f"{self.rows} rows u~" + (f" on {self.jobs} jobs" if self.jobs > 1 else ""))
        when = (f"more than {format_duration(self.seconds)} (no row finished in {format_duration(self.seconds / math.ceil(self.rows / self.jobs))})"
                if self.lower_bound else
                f"about {format_duration(self.seconds)} (first row in {format_duration(self.first_row_seconds)})")
        return f"{what} of a {shape} payoff: {when}"


def format_duration(seconds: float) -> str:
    """Seconds as a short human duration: ``"12 s"``, ``"3.6 min"``, ``"2.5 h"``, ``"3 days"``, ``"1e+05 years"``."""
    s = float(seconds)
    if s < 120:
        return f"{s:.3g} s"
    if s < 7200:
        return f"{s / 60:.3g} min"
    if s < 2 * 86400:
        return f"{s / 3600:.3g} h"
    if s < 2 * 365 * 86400:
        return f"{s / 86400:.3g} days"
    return f"{s / (365 * 86400):.3g} years"


def analyze(
    payoff,
    method,
    *,
    progress: Callable[[int, int, FitResult], Any] | None = None,
    u_tildes: Iterable[Sequence[int]] | None = None,
    jobs: int = 1,
    budget: float | None = None,
    on_estimate: Callable[["AnalysisEstimate"], Any] | None = None,
    probe_seconds: float = 10.0,
) -> StabilityResult:
    """Stability analysis of ``method`` on ``payoff``: one ``method.fit`` per joint action u~.

    Parameters
    ----------
    payoff : Payoff or array_like
        Q_jt, shape (A_1, ..., A_n).
    method : Method
        Anything with ``fit(payoff, u_tilde) -> FitResult`` and a ``name``;
        ``settings()`` is recorded when present.
    progress : callable, optional
        Called as ``progress(done, total, fit_result)`` after each u~ (use it
        for progress bars and to save partial results).
    u_tildes : sequence of joint actions, optional
        Compute only these rows u~ of the transition graph (0-based, e.g.
        ``[(0, 1, 2)]`` or an int array of shape (k, n_agents)); they are
        fitted and stored in C order.  Each row (greedy set, stable kind,
        loss, greedy losses, certification) is exactly the full analysis's
        row, because a row depends only on ``method.fit(payoff, u~)``.  Unless
        they name every joint action the result is ``partial``: quantities
        that need the whole graph are None (see :class:`StabilityResult`).
        None (default): every joint action.
    jobs : int
        Worker processes fitting rows side by side (forked,
        :mod:`stablepoint.rowpool`); 1 (default) fits in this process.  The
        result does not depend on it.
    budget : float, optional
        Seconds for the whole analysis.  Rows not finished when it ends are
        listed in ``unfinished`` (the result is then partial and not
        certified); the workers are killed, so the budget holds even inside a
        compiled solve.  Implies worker processes.
    on_estimate : callable, optional
        Called once as ``on_estimate(AnalysisEstimate)`` when the first row
        is back or ``probe_seconds`` passed without one (then the estimate
        is a lower bound).  It may raise to stop the analysis (the CLI
        refuses analyses far beyond reach this way).  Implies worker
        processes.
    probe_seconds : float
        See ``on_estimate``.

    Returns
    -------
    StabilityResult

    Raises
    ------
    SettingsError
        When ``u_tildes`` is empty, or an entry is not a sequence of
        ``n_agents`` integers, is out of range, or is repeated.
    ValueError
        When the method returns a fit for another u~ or an empty or
        out-of-range greedy set (a method bug, not bad user input).

    Notes
    -----
    Methods that declare ``fit_ignores_u_tilde()`` (the loss weights are the
    same for every u~, e.g. QMIX and VDN at epsilon = 1) are fitted once; the
    other rows are that fit with their own u~ (:func:`fit_ignores_u_tilde`).

    Examples
    --------
    A toy method whose fit always moves to the payoff's best cell in u~'s row
    (a stand-in for a real method; see ``stablepoint.methods``):

    >>> import numpy as np
    >>> from stablepoint.methods.base import FitResult
    >>> class RowBest:
    ...     name = "row-best"
    ...     def fit(self, payoff, u):
    ...         row = payoff.values[u[0]]
    ...         best = frozenset((u[0], int(j)) for j in np.flatnonzero(row == row.max()))
    ...         return FitResult(self.name, tuple(u), 0.0, best, ())
    >>> res = analyze(Payoff([[1, 2], [3, 0]]), RowBest())
    >>> dict(res.kinds), res.attractors
    ({(0, 1): 'strong', (1, 0): 'strong'}, (frozenset({(0, 1)}), frozenset({(1, 0)})))
    >>> res.optimal, res.optimum_stable, sorted(res.optimum_reachable_from)
    (((1, 0),), True, [(1, 0), (1, 1)])

    Only the rows (1, 1) and (0, 0) (fitted in C order): the graph is partial,
    and what needs all of it is None:

    >>> part = analyze(Payoff([[1, 2], [3, 0]]), RowBest(), u_tildes=[(1, 1), (0, 0)])
    >>> part.partial, part.rows, sorted(part.greedy_set((0, 0))), dict(part.kinds)
    (True, ((0, 0), (1, 1)), [(0, 1)], {})
    >>> part.attractors, part.optimum_stable, part.optimum_reachable_from
    (None, None, None)
    """
    payoff = _as_payoff(payoff)
    if not callable(getattr(method, "fit", None)):
        raise SettingsError(f"method {method!r} has no fit(payoff, u_tilde)")
    rows = list(payoff.joint_actions()) if u_tildes is None else _check_u_tildes(payoff, u_tildes)
    name = str(getattr(method, "name", type(method).__name__))
    settings = dict(method.settings()) if callable(getattr(method, "settings", None)) else {}
    if budget is not None and not (budget > 0):
        raise SettingsError(f"budget must be a positive number of seconds, got {budget!r}")
    jobs = _check_jobs(jobs)
    once = fit_ignores_u_tilde(method)
    # The rows actually solved: one when every u~ has the same fit.
    solve = rows[:1] if once else rows
    total = len(rows)
    fits: dict[JointAction, FitResult] = {}

    def take(u, fit):
        _check_fit(payoff, name, u, fit)
        targets = rows if once else [u]
        for v in targets:
            fits[v] = fit if v == u else dataclasses.replace(fit, u_tilde=v)
            if progress is not None:
                progress(len(fits), total, fits[v])

    pooled = (jobs > 1 and len(solve) > 1) or budget is not None or on_estimate is not None
    if pooled:
        from stablepoint.rowpool import fork_available

        pooled = fork_available()
    if not pooled:
        start = time.perf_counter()
        for i, u in enumerate(solve):
            take(u, method.fit(payoff, u))
            if i == 0 and on_estimate is not None:
                on_estimate(AnalysisEstimate.from_first(payoff, len(solve), 1, time.perf_counter() - start,
                                                        once=once))
    else:
        _pooled_rows(payoff, method, solve, jobs, budget, on_estimate, probe_seconds, once, take)
    unfinished = tuple(u for u in rows if u not in fits)
    ordered = {u: fits[u] for u in rows if u in fits}
    if len(ordered) < payoff.n_joint:
        result = _assemble_partial(payoff, name, settings, ordered)
    else:
        result = _assemble(payoff, name, settings, ordered)
    return dataclasses.replace(result, unfinished=unfinished, budget=None if budget is None else float(budget))


def _check_jobs(jobs) -> int:
    import numbers

    if isinstance(jobs, bool) or not isinstance(jobs, numbers.Integral) or int(jobs) < 1:
        raise SettingsError(f"jobs must be a positive integer, got {jobs!r}")
    return int(jobs)


def _check_fit(payoff: Payoff, name: str, u: JointAction, fit: FitResult) -> None:
    if tuple(int(a) for a in fit.u_tilde) != u:
        raise ValueError(f"{name}.fit returned u~ = {tuple(fit.u_tilde)} for u~ = {u}")
    for v in fit.greedy_set:
        if payoff.check_action(v) != tuple(v):
            raise ValueError(f"{name}.fit greedy action {v!r} is not a tuple of ints")


def _pooled_rows(payoff, method, solve, jobs, budget, on_estimate, probe_seconds, once, take) -> None:
    """Fit ``solve`` in forked workers (:mod:`stablepoint.rowpool`) until done or the budget ends."""
    from stablepoint.rowpool import RowPool

    start = time.monotonic()
    warm_up = getattr(method, "warm_up", None)
    if callable(warm_up):
        # Compile (or load) the kernels once here, not once per forked worker, and outside the
        # probe window: a first run on a fresh machine compiles for tens of seconds.
        warm_up(payoff)
    t0 = time.monotonic()
    with RowPool(payoff, method, solve, jobs) as pool:
        pool.started = t0
        deadline = None if budget is None else start + float(budget)
        estimated = on_estimate is None
        while pool.pending:
            now = time.monotonic()
            waits = []
            if deadline is not None:
                waits.append(deadline - now)
            if not estimated:
                waits.append(pool.started + probe_seconds - now)
            timeout = max(0.0, min(waits)) if waits else None
            out = pool.next(timeout)
            if out is None:  # a deadline or the probe window passed
                if not estimated and time.monotonic() >= pool.started + probe_seconds:
                    estimated = True
                    on_estimate(AnalysisEstimate.from_probe(payoff, len(solve), pool.jobs, probe_seconds, once))
                if deadline is not None and time.monotonic() >= deadline:
                    return
                continue
            if out.error is not None:
                raise out.error
            if not estimated:
                estimated = True
                on_estimate(AnalysisEstimate.from_first(payoff, len(solve), pool.jobs, out.seconds,
                                                        elapsed=time.monotonic() - pool.started, once=once))
            take(out.u_tilde, out.fit)


def _assemble_partial(payoff: Payoff, name: str, settings: dict, fits: dict) -> StabilityResult:
    """Rows of some u~ only: edges from those rows; nothing that needs the whole graph."""
    g = nx.DiGraph()
    g.add_nodes_from(fits)
    for u, f in fits.items():
        if not f.greedy_set:
            raise ValueError(f"greedy set of u~ = {u} is empty")
        g.add_edges_from((u, tuple(int(a) for a in v)) for v in sorted(f.greedy_set))
    kinds = {u: k for u, k in ((u, _kind_of(f)) for u, f in fits.items()) if k is not None}
    return StabilityResult(
        payoff=payoff,
        method=name,
        settings=MappingProxyType(dict(settings)),
        transitions=MappingProxyType(dict(fits)),
        graph=nx.freeze(g),
        kinds=MappingProxyType(kinds),
        attractors=None,
        basins_some=None,
        basins_all=None,
        optimal=tuple(payoff.optimal_actions()),
        partial=True,
    )


def _assemble(payoff: Payoff, name: str, settings: dict, fits: dict) -> StabilityResult:
    g = transition_graph({u: f.greedy_set for u, f in fits.items()})
    atts = attractors(g)
    some = tuple(basin_some(g, a) for a in atts)
    every = []
    for i, a in enumerate(atts):
        others = set().union(*(some[j] for j in range(len(atts)) if j != i)) if len(atts) > 1 else set()
        every.append(frozenset(some[i] - others))
    return StabilityResult(
        payoff=payoff,
        method=name,
        settings=MappingProxyType(dict(settings)),
        transitions=MappingProxyType(dict(fits)),
        graph=nx.freeze(g),
        kinds=MappingProxyType(stability_kinds(g)),
        attractors=atts,
        basins_some=some,
        basins_all=tuple(every),
        optimal=tuple(payoff.optimal_actions()),
    )


# --------------------------------------------------------------------------- epsilon sweeps


@dataclass(frozen=True)
class CriticalInterval:
    """An interval of epsilon in which one joint action's stability kind changes.

    Attributes
    ----------
    action : joint action
        The u~ whose kind changes.
    lo, hi : float
        The bracket, ``hi - lo <= tol`` of the sweep (or the grid gap when the
        bisection budget ran out); the kind is ``before`` at ``lo`` and
        ``after`` at ``hi``.
    before, after : str or None
        ``"strong"``, ``"weak"`` or None (not stable).
    """

    action: JointAction
    lo: float
    hi: float
    before: str | None
    after: str | None

    @property
    def midpoint(self) -> float:
        """The critical epsilon's estimate, (lo + hi) / 2."""
        return 0.5 * (self.lo + self.hi)


@dataclass(frozen=True)
class SweepResult:
    """Stable sets over a grid of epsilons and the critical intervals between them.

    Attributes
    ----------
    epsilons : tuple of float
        The grid, ascending.
    results : tuple of StabilityResult
        The full analysis at each grid point.
    critical : tuple of CriticalInterval
        One bracket per (grid gap, joint action) whose kind differs at the two
        ends, sorted by ``lo`` then action.  A kind that changes and changes
        back inside one grid gap is not seen: refine the grid.
    tol : float
        Bisection tolerance on epsilon.
    unfinished : tuple of float
        Grid epsilons not analysed because ``sweep_epsilon``'s budget ended (then
        ``results`` and ``critical`` cover the finished ones only; a bracket
        whose bisection the budget stopped is wider than ``tol``).
    budget : float or None
        The sweep's budget in seconds, when one was given.
    """

    epsilons: tuple[float, ...]
    results: tuple[StabilityResult, ...]
    critical: tuple[CriticalInterval, ...]
    tol: float
    unfinished: tuple[float, ...] = ()
    budget: float | None = None

    @property
    def complete(self) -> bool:
        """Whether every grid epsilon was analysed and every bracket bisected down to ``tol``."""
        return not self.unfinished and all(c.hi - c.lo <= self.tol * (1 + 1e-9) for c in self.critical)

    @property
    def payoff(self) -> Payoff:
        return self.results[0].payoff

    @property
    def method(self) -> str:
        return self.results[0].method

    def stable_sets(self) -> tuple[frozenset, ...]:
        """The stable joint actions at each grid epsilon."""
        return tuple(frozenset(r.kinds) for r in self.results)

    def kinds(self) -> tuple[Mapping[JointAction, str], ...]:
        """``u -> kind`` of the stable points at each grid epsilon."""
        return tuple(r.kinds for r in self.results)


def _kind_of(fit: FitResult) -> str | None:
    u = tuple(int(a) for a in fit.u_tilde)
    if u not in fit.greedy_set:
        return None
    return STRONG if len(fit.greedy_set) == 1 else WEAK


def sweep_epsilon(
    payoff,
    method_factory: Callable[[float], Any],
    epsilons: Sequence[float],
    *,
    tol: float = 1e-3,
    progress: Callable[[int, int, float, FitResult], Any] | None = None,
    jobs: int = 1,
    budget: float | None = None,
    on_estimate: Callable[["AnalysisEstimate"], Any] | None = None,
    probe_seconds: float = 10.0,
) -> SweepResult:
    """Stable set per epsilon and brackets of the critical epsilons where it changes.

    The stability of u~ depends only on ``fit(payoff, u~)``, so a change of the
    stable set between two grid points is bracketed per joint action: bisect
    epsilon on that action's own fit until the bracket is at most ``tol`` wide.

    Parameters
    ----------
    payoff : Payoff or array_like
    method_factory : callable
        ``epsilon -> method`` (e.g. ``lambda e: get_method("qmix", epsilon=e)``).
    epsilons : sequence of float
        Grid points in [0, 1]; sorted and deduplicated here.
    tol : float
        Width of the final brackets (> 0).
    progress : callable, optional
        ``progress(done, total, epsilon, fit_result)`` after every fit; ``total``
        grows when the bisection stage is planned.
    jobs, budget, on_estimate, probe_seconds
        As for :func:`analyze`; ``budget`` bounds the whole sweep and
        ``on_estimate`` is called once, for the first grid point's analysis.
        When the budget ends, the grid points not analysed are listed in
        ``unfinished`` (a grid point whose analysis the budget cut is one of
        them) and bisections stop where they are.

    Returns
    -------
    SweepResult

    Raises
    ------
    SettingsError
        An epsilon outside [0, 1], an empty grid, or ``tol <= 0``.

    Examples
    --------
    A toy method for which (1, 1) is stable exactly when epsilon < 0.3:

    >>> from stablepoint.methods.base import FitResult
    >>> class Toy:
    ...     name = "toy"
    ...     def __init__(self, eps): self.eps = eps
    ...     def fit(self, payoff, u):
    ...         keep = u == (1, 1) and self.eps < 0.3
    ...         return FitResult("toy", u, 0.0, frozenset({u if keep else (0, 0)}), ())
    >>> sw = sweep_epsilon([[1, 0], [0, 0]], Toy, [0.0, 0.5, 1.0], tol=1e-3)
    >>> [sorted(s) for s in sw.stable_sets()]
    [[(0, 0), (1, 1)], [(0, 0)], [(0, 0)]]
    >>> c = sw.critical[0]
    >>> c.action, c.before, c.after, c.hi - c.lo <= 1e-3, c.lo < 0.3 <= c.hi
    ((1, 1), 'strong', None, True, True)
    """
    payoff = _as_payoff(payoff)
    try:
        tol = float(tol)
    except (TypeError, ValueError):
        raise SettingsError(f"sweep tolerance must be a positive number, got {tol!r}") from None
    if not tol > 0 or math.isinf(tol):
        raise SettingsError(f"sweep tolerance must be a positive number, got {tol!r}")
    grid = sorted({check_epsilon(e) for e in epsilons})
    if not grid:
        raise SettingsError("the epsilon grid is empty")
    n_joint = payoff.n_joint
    state = {"done": 0, "total": len(grid) * n_joint}

    def tick(eps, fit):
        state["done"] += 1
        if progress is not None:
            progress(state["done"], state["total"], eps, fit)

    if budget is not None and not (budget > 0):
        raise SettingsError(f"budget must be a positive number of seconds, got {budget!r}")
    deadline = None if budget is None else time.monotonic() + float(budget)

    def left():
        return None if deadline is None else deadline - time.monotonic()

    results = []
    unfinished: list[float] = []
    for k, eps in enumerate(grid):
        if deadline is not None and left() <= 0:
            unfinished = list(grid[k:])
            break
        res = analyze(payoff, method_factory(eps), progress=lambda d, t, f, e=eps: tick(e, f), jobs=jobs,
                      budget=left(), on_estimate=on_estimate if k == 0 else None, probe_seconds=probe_seconds)
        if res.unfinished:
            unfinished = list(grid[k:])
            break
        results.append(res)
    if not results:
        raise BudgetExhaustedError(
            f"the {float(budget):g} s budget ended before the first epsilon's analysis finished "
            f"(0 of {len(unfinished)} epsilon values); raise --budget or use a smaller grid or game"
        )
    grid = grid[:len(results)]

    # Plan every bisection first so that the progress total is known.
    plans = []
    for k in range(len(grid) - 1):
        lo_res, hi_res = results[k], results[k + 1]
        for u in lo_res.transitions:
            a, b = lo_res.kind(u), hi_res.kind(u)
            if a != b:
                steps = max(0, math.ceil(math.log2((grid[k + 1] - grid[k]) / tol)))
                plans.append((u, grid[k], grid[k + 1], a, b, steps))
    state["total"] += sum(p[-1] for p in plans)

    critical = []
    for u, lo, hi, a, b, steps in plans:
        for _ in range(steps):
            if deadline is not None and left() <= 0:
                break
            mid = 0.5 * (lo + hi)
            if deadline is None:
                fit = method_factory(mid).fit(payoff, u)
            else:  # one row in a worker, so that the budget holds inside the solve too
                one = analyze(payoff, method_factory(mid), u_tildes=[u], budget=left())
                if one.unfinished:
                    break
                fit = one.transitions[u]
            tick(mid, fit)
            if _kind_of(fit) == a:
                lo = mid
            else:
                # Any kind other than the left one (the right one or a third) moves hi.
                hi, b = mid, _kind_of(fit)
        critical.append(CriticalInterval(u, lo, hi, a, b))
    critical.sort(key=lambda c: (c.lo, c.action))
    return SweepResult(tuple(grid), tuple(results), tuple(critical), tol, tuple(unfinished),
                       None if budget is None else float(budget))
