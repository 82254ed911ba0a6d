"""MRVF (MRVF Section 4.1, Table 2) as a transition map on final actions, plus its round trace.

Modelling choices (the paper's Eq. 5 survives only in a sentence; see
``shared/papers/README.md`` for the reconstruction used here):

* Round 1 fits Ideal QMIX to Qjt itself (Eq. 6); its possible outcomes are the
  actions it reaches on Qjt (stable points, weak ones included, and members of
  attractor cycles; see below).
* Round k > 1 starts from the previous round's greedy action p = ubar^{k-1}
  and fits Ideal QMIX to the clipped increment target

      Y^k(u) = max(Qjt(u) - Qjt(p), 0)                     (Eq. 5, reconstructed)

  under the centralized epsilon-greedy visitation of Eq. 8 (the ``visitation``
  setting) around each candidate.  The round can end at any stable point v of
  QMIX on Y^k (weak ones included).  Where QMIX's greedy dynamics on Y^k
  cycle (a closed strongly connected component of its transition graph with
  more than one action), the round does not converge and its greedy action
  keeps visiting the cycle's members, so each member is a possible ubar^k too.
  ``reached`` = stable points plus cycle members.
* Strict-improvement check: if Qjt(v) > Qjt(p) for a reached v the process
  continues from v; otherwise it terminates with output p.  So the round's
  possible results are the improving reached actions, plus p itself when the
  round can stop there: some reached action does not improve, or Y^k is
  constant (p is optimal: every action is a minimum of Y^k, nothing improves).
  The brief this was built from kept only the improving stable points; adding
  p is what the paper's early-termination rule does when a non-improving
  action is reached, and it makes "u~ stable for MRVF" mean "the process can
  stop at u~".

Numeric range: ``fit`` and ``rounds`` work on Qjt divided by its power-of-two
scale (the unit range of :mod:`stablepoint.tolerances`), so the "constant
target" and "strictly improves" tests (``VALUE_ATOL``) are relative to Qjt's
spread; each round's QMIX fit then brings its own target to unit range (so
a round's stable points are those QMIX reports on the target as a payoff).
Targets, Q_tot and losses are reported in Qjt's units.

``MRVF.fit(payoff, u_tilde)`` is one round from p = u_tilde: its ``greedy_set``
is that set of results, so u~ is (weakly or strongly) "stable" for MRVF exactly
when the multi-round process can terminate at u~.  ``MRVF.rounds`` follows
every branch from round 1 and returns the whole trace (this reproduces Table 2).

Examples
--------
MRVF Table 2 (uniform visitation): round 1 stops at (3, 3), round 2's target is
3 at (1, 1) and reaches it, round 3's target is zero and the process ends.

>>> from stablepoint.catalog import get_game
>>> trace = MRVF(solver="cvxpy").rounds(get_game("table5"))
>>> [(r.k, r.previous, sorted(r.outcome), r.terminates) for r in trace.rounds]
[(1, None, [(2, 2)], False), (2, (2, 2), [(0, 0)], False), (3, (0, 0), [(0, 0)], True)]
>>> trace.rounds[1].target.tolist(), sorted(trace.finals)
([[3.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], [(0, 0)])
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np

from stablepoint.methods.base import Fit, FitResult
from stablepoint.methods.common import as_payoff, unit_range_fit
from stablepoint.methods.qmix import QMIX
from stablepoint.payoff import JointAction, Payoff
from stablepoint.tolerances import VALUE_ATOL, from_unit, scale_exponent, to_unit

__all__ = ["MRVF", "MRVFRound", "MRVFTrace", "increment_target"]


def increment_target(y, previous) -> np.ndarray:
    """The clipped increment Y^k = max(Y - Y(previous), 0) of the reconstructed Eq. 5.

    >>> increment_target(np.array([[8., -12], [3, 5]]), (1, 1)).tolist()
    [[3.0, 0.0], [0.0, 0.0]]
    """
    y = np.asarray(y, dtype=np.float64)
    return np.maximum(y - y[tuple(previous)], 0.0)


@dataclass(frozen=True)
class MRVFRound:
    """One round of one branch of the multi-round process.

    Attributes
    ----------
    k : int
        Round number (1-based, as in the paper).
    previous : tuple of int or None
        ubar^{k-1}; None in round 1.
    target : ndarray
        Q_tot's target in this round: Qjt in round 1, Y^k after.
    stable : frozenset
        Stable points of Ideal QMIX on ``target`` (where the round can converge).
    cycles : frozenset of frozensets
        Attractor cycles of QMIX's greedy dynamics on ``target`` (rounds that
        do not converge); empty in the common case.
    improving : frozenset
        Reached actions (stable or on a cycle) with Qjt strictly above
        Qjt(previous); in round 1 every reached action.
    terminates : bool
        Whether the process can stop in this round (returning ``previous``).
    outcome : frozenset
        Possible results: ``improving``, plus ``previous`` when ``terminates``.
    reason : str
        Why the round ends the way it does, in words.
    """

    k: int
    previous: JointAction | None
    target: np.ndarray
    stable: frozenset
    cycles: frozenset
    improving: frozenset
    terminates: bool
    outcome: frozenset
    reason: str

    @property
    def reached(self) -> frozenset:
        """Every action the round's greedy action can end at or keep visiting."""
        return self.stable.union(*self.cycles)


@dataclass(frozen=True)
class MRVFTrace:
    """Every branch of the multi-round process, round by round.

    Attributes
    ----------
    rounds : tuple of MRVFRound
        Ordered by round, then by previous action; one entry per distinct
        (k, previous) pair.
    finals : frozenset
        Joint actions where some branch terminates (the process's outputs).
    complete : bool
        Whether every branch terminated within ``max_rounds``.
    """

    rounds: tuple[MRVFRound, ...]
    finals: frozenset
    complete: bool


def _scaled_round(rnd: MRVFRound, k: int) -> MRVFRound:
    target = from_unit(rnd.target, k)
    target.setflags(write=False)
    return dataclasses.replace(rnd, target=target)


class MRVF:
    """Multi-round value factorization with Ideal QMIX in every round.

    Parameters
    ----------
    visitation : {"centralized", "decentralized", "uniform"}
        Policy around each round's candidate (Eq. 8 is "centralized").
    epsilon : float in [0, 1]
        Exploration rate (1.0, the default, is uniform, as in Table 2).
    solver, solver_options
        As for :class:`stablepoint.methods.qmix.QMIX`.
    """

    name = "mrvf"
    #: keyword settings of ``__init__`` (the CLI checks options against these).
    setting_names = ("visitation", "epsilon", "solver", "solver_options")

    def __init__(self, *, visitation="centralized", epsilon=1.0, solver="auto", solver_options=None):
        # The rounds only need greedy sets, not the loss of every forced greedy action.
        self._qmix = QMIX(visitation=visitation, epsilon=epsilon, solver=solver, solver_options=solver_options,
                          losses="greedy")
        self.visitation = self._qmix.visitation
        self.epsilon = self._qmix.epsilon
        self.solver = self._qmix.solver
        self.solver_options = self._qmix.solver_options
        self._cache: dict = {}

    def warm_up(self, payoff) -> None:
        """Load the compiled kernels before row workers are forked (see :func:`~stablepoint.methods.common.warm_up_fit`)."""
        self._qmix.warm_up(payoff)

    def settings(self) -> dict:
        """JSON-able settings: the inner QMIX's, less ``losses`` (always "greedy" here)."""
        settings = self._qmix.settings()
        del settings["losses"]
        return settings

    def _qmix_dynamics(self, target: np.ndarray):
        """QMIX on ``target``: ({reached action: its FitResult}, stable set, cycles), memoised."""
        key = (target.shape, target.tobytes())
        if key not in self._cache:
            payoff = Payoff(target)
            actions = list(itertools.product(*(range(s) for s in target.shape)))
            if self._qmix.visitation_ignores_u_tilde():
                # Every u~ has the same fit: its greedy set G is closed and every member is stable.
                res = self._qmix.fit(payoff, actions[0])
                fits = {v: res for v in res.greedy_set}
                self._cache[key] = (fits, frozenset(fits), frozenset())
            else:
                import networkx as nx

                all_fits = {v: self._qmix.fit(payoff, v) for v in actions}
                graph = nx.DiGraph()
                graph.add_nodes_from(actions)
                graph.add_edges_from((v, w) for v, res in all_fits.items() for w in res.greedy_set)
                stable = frozenset(v for v, res in all_fits.items() if res.stable)
                cycles = frozenset(
                    frozenset(c) for c in nx.attracting_components(graph) if len(c) > 1
                )
                reached = stable.union(*cycles)
                self._cache[key] = ({v: all_fits[v] for v in reached}, stable, cycles)
        return self._cache[key]

    def _round(self, payoff: Payoff, k: int, previous) -> tuple[MRVFRound, dict]:
        y = payoff.values
        target = y.copy() if previous is None else increment_target(y, previous)
        target.setflags(write=False)
        none = frozenset()
        if previous is not None and float(target.max()) <= VALUE_ATOL:
            return (
                MRVFRound(k, previous, target, none, none, none, True, frozenset({previous}),
                          "constant target: no joint action improves on the previous one"),
                {},
            )
        fits, stable, cycles = self._qmix_dynamics(target)
        reached = frozenset(fits)
        cyc = " (QMIX on the target cycles: cycle members count as reached)" if cycles else ""
        if previous is None:
            improving, terminates = reached, False
            reason = "first round: every stable point of QMIX on Qjt" + cyc
        else:
            improving = frozenset(v for v in reached if y[v] > y[previous] + VALUE_ATOL)
            terminates = improving != reached
            if not improving:
                reason = "no reached action improves: early termination" + cyc
            elif terminates:
                reason = "some reached actions improve, others do not (the process may stop)" + cyc
            else:
                reason = "every reached action strictly improves" + cyc
        outcome = improving | ({previous} if terminates else none)
        rnd = MRVFRound(k, previous, target, stable, cycles, improving, terminates, outcome, reason)
        return rnd, fits

    @unit_range_fit(value_keys=("target",))
    def fit(self, payoff: Payoff, u_tilde) -> FitResult:
        """One round from ubar^{k-1} = u~: the possible next greedy actions (u~ itself if it may stop).

        ``loss`` is the Ideal-QMIX loss of the round at an action it reaches
        (the first in C order; 0 when the target is constant).  ``fits`` hold,
        per reached action, QMIX's fit of Y^k around it, with ``info`` giving
        the target, the reached action and whether it improves.
        """
        payoff = as_payoff(payoff)
        u = payoff.check_action(u_tilde)
        rnd, fits = self._round(payoff, 2, u)
        fit_list = []
        for v in sorted(fits):
            res = fits[v]
            q_tot = next((f.q_tot for f in res.fits if v in f.greedy), res.fits[0].q_tot)
            fit_list.append(
                Fit(q_tot=q_tot, greedy=frozenset({v}) if v in rnd.improving else frozenset({u}),
                    info={"target": rnd.target, "reached": v, "improves": v in rnd.improving})
            )
        if not fits:
            # Constant (zero) target: fitted exactly by zero, the process stops at u~.
            fit_list.append(Fit(q_tot=rnd.target, greedy=frozenset({u}), info={"target": rnd.target, "reached": None}))
        loss = 0.0 if not fits else float(fits[min(fits)].loss)
        return FitResult(
            method=self.name,
            u_tilde=u,
            loss=loss,
            greedy_set=rnd.outcome,
            fits=tuple(fit_list),
            greedy_losses=None,
            certified=all(r.certified for r in fits.values()),
            message=rnd.reason,
        )

    def rounds(self, payoff: Payoff, start=None, max_rounds: int | None = None) -> MRVFTrace:
        """Follow every branch of the process until it terminates or ``max_rounds`` is reached.

        Parameters
        ----------
        payoff : Payoff
            Qjt.
        start : tuple of int, optional
            Take this as ubar^1 instead of computing round 1 (follow one branch).
        max_rounds : int, optional
            Default |U| + 1: rounds strictly improve Qjt, so at most |U| of them
            continue (MRVF Theorem 1).
        """
        payoff = as_payoff(payoff)
        k = scale_exponent(payoff.values)
        if k != 0:  # unit range (module notes); targets are reported in the payoff's units
            unit = payoff.with_values(to_unit(payoff.values, k))
            trace = self.rounds(unit, start, max_rounds)
            return dataclasses.replace(trace, rounds=tuple(_scaled_round(r, k) for r in trace.rounds))
        limit = payoff.n_joint + 1 if max_rounds is None else int(max_rounds)
        rounds: list[MRVFRound] = []
        finals: set = set()
        if start is None:
            first, _ = self._round(payoff, 1, None)
            rounds.append(first)
            frontier, k = set(first.outcome), 2
        else:
            frontier, k = {payoff.check_action(start)}, 2
        while frontier and k <= limit:
            next_frontier: set = set()
            for p in sorted(frontier):
                rnd, _ = self._round(payoff, k, p)
                rounds.append(rnd)
                if rnd.terminates:
                    finals.add(p)
                next_frontier |= rnd.improving
            frontier, k = next_frontier, k + 1
        return MRVFTrace(rounds=tuple(rounds), finals=frozenset(finals), complete=not frontier)

    def __repr__(self) -> str:
        return f"MRVF({', '.join(f'{k}={v!r}' for k, v in self.settings().items())})"
