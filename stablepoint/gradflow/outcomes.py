"""Where random initial conditions end: true vs semi-gradient flow, several tau, several mixers.

The same initial conditions (q0 and raw theta0, from one seed) are used for
every tau, flow and mixer of equal size, so the rows of the table are paired.
Fractions are over the trajectories that converged (field norm below gtol);
the table also says how many did.

>>> from stablepoint.catalog import get_game
>>> table = outcome_table(get_game("game-a"), taus=(1.0,), mixers=("vdn",), gradients=("semi",),
...                       n_runs=2, settings=FlowSettings(t_max=200, gtol=1e-3))
>>> [(r.mixer, r.gradient, r.tau, r.n_runs) for r in table.rows]
[('vdn', 'semi', 1.0, 2)]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from stablepoint.gradflow.flow import FlowBatch, FlowSettings, initial_states, run_flows
from stablepoint.gradflow.loss import LossModel, check_gradient, check_tau
from stablepoint.gradflow.mixers import make_mixer
from stablepoint.payoff import Payoff

__all__ = ["OutcomeRow", "OutcomeTable", "outcome_table"]


@dataclass(frozen=True)
class OutcomeRow:
    """One (mixer, flow, tau) cell of the outcome table.

    Attributes
    ----------
    mixer, gradient : str
    tau : float
    n_runs, n_converged : int
    optimal : float
        Fraction of converged runs whose greedy joint action is u* (IGM-consistent fixed point).
    igm : float
        Fraction of converged runs whose greedy joint action maximizes their own Q_tot (Eq. 5).
    median_loss, max_field_norm, median_residual : float
        Over converged runs: L_tau, |dx/dt| (< gtol by construction) and max |y - Q_tot|.
    greedy_counts : tuple of (joint action, count)
        Over all runs.
    """

    mixer: str
    gradient: str
    tau: float
    n_runs: int
    n_converged: int
    optimal: float
    igm: float
    median_loss: float
    max_field_norm: float
    median_residual: float
    greedy_counts: tuple


@dataclass(frozen=True, eq=False)
class OutcomeTable:
    """The outcome table and the batches behind it."""

    game: str
    rows: tuple
    batches: tuple
    settings: FlowSettings
    seed: int


def _row(batch: FlowBatch) -> OutcomeRow:
    conv = [t for t in batch.trajectories if t.converged]

    def med(values):
        return float(np.median(values)) if values else float("nan")

    return OutcomeRow(
        mixer=batch.mixer, gradient=batch.gradient, tau=batch.tau, n_runs=batch.n_runs,
        n_converged=len(conv), optimal=batch.fraction("optimal"), igm=batch.fraction("igm_consistent"),
        median_loss=med([t.final_loss for t in conv]),
        max_field_norm=max((t.field_norm for t in conv), default=float("nan")),
        median_residual=med([t.max_residual for t in conv]),
        greedy_counts=tuple(batch.greedy_counts().items()),
    )


def outcome_table(payoff: Payoff, *, taus: Sequence[float] = (1.0, 0.3, 0.1),
                  mixers: Sequence[str] = ("nonmono", "qmix"), gradients: Sequence[str] = ("true", "semi"),
                  n_runs: int = 20, seed: int = 0, hidden: int = 8, epsilon: float = 0.0,
                  settings: FlowSettings = FlowSettings(), workers: int = 1,
                  progress: Callable[[int, int], None] | None = None,
                  on_row: Callable[[OutcomeRow], None] | None = None) -> OutcomeTable:
    """Integrate ``n_runs`` random initial conditions for every mixer x flow x tau.

    Parameters
    ----------
    payoff : Payoff
    taus : sequence of float
    mixers : sequence of str
        Mixer names; the first of equal parameter count share theta0.
    gradients : sequence of {"true", "semi"}
    n_runs, seed : int
    hidden : int
        MLP width.
    epsilon : float
        Uniform exploration mixed into the softmax.
    settings : FlowSettings
        Its ``gradient`` is overridden per row.
    workers : int
        Processes per batch of trajectories (see :func:`~stablepoint.gradflow.flow.run_flows`).
    progress : callable, optional
        ``progress(done, total)`` as trajectories finish.
    on_row : callable, optional
        ``on_row(row)`` as each row (one mixer x flow x tau) is finished, in table order.
    """
    taus = [check_tau(t) for t in taus]
    gradients = [check_gradient(g) for g in gradients]
    mixers = [make_mixer(m, payoff.n_agents, hidden=hidden) for m in mixers]
    total = len(taus) * len(gradients) * len(mixers) * n_runs
    finished = [0]

    def tick(done, n):
        # run_flows reports its own running count; turn it into the table's
        if progress is not None:
            progress(finished[0] + done, total)

    rows, batches = [], []
    for mixer in mixers:
        base = LossModel(payoff, mixer, tau=taus[0], epsilon=epsilon)
        x0s = initial_states(base, n_runs, seed)
        for kind in gradients:
            for tau in taus:
                model = base.with_tau(tau)
                batch = run_flows(model, x0s, dataclasses.replace(settings, gradient=kind),
                                  workers=workers, progress=tick)
                finished[0] += n_runs
                batches.append(batch)
                rows.append(_row(batch))
                if on_row is not None:
                    on_row(rows[-1])
    return OutcomeTable(payoff.name, tuple(rows), tuple(batches), settings, seed)
