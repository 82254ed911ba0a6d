"""Gradient-flow and Hessian analyzer for "Beyond Monotonicity" (Eq. 7-24, Theorems 1-3).

A single-state game y over joint actions, per-agent utilities q (Eq. 8) and a
mixer with parameters theta; the state of every flow is x = (q, theta).

Public API
----------
Model (:mod:`.mixers`, :mod:`.loss`)
    ``make_mixer(name, n_agents)`` with names ``vdn``, ``qmix`` (monotone MLP,
    squared weights), ``qmix-abs`` (QMIX's abs), ``nonmono`` (unconstrained MLP),
    or ``ModuleMixer(torch_module, n_agents)``.
    ``LossModel(payoff, mixer, tau, epsilon=0, dtype=..., device=...)``: ``loss``
    (L_tau, Eq. 14; ``tau=None`` is L_0, Eq. 10), ``field(x, "true" | "semi")``,
    ``hessian``, ``field_jacobian``, ``residual_jacobian``.
Flows (:mod:`.flow`, :mod:`.outcomes`)
    ``integrate(model, x0, FlowSettings(gradient="true" | "semi"))`` ->
    ``Trajectory``; ``run_flows`` for a batch; ``outcome_table(payoff, taus,
    mixers, gradients, n_runs)`` -> ``OutcomeTable`` of ``OutcomeRow``.
    Every trajectory, batch and row records which flow produced it:
    ``true`` = dx/dt = -grad L_tau with the policy differentiated (Eq. 17);
    ``semi`` = the policy held fixed while differentiating, re-evaluated at
    every instant (what Q-learning does).
Fixed points and spectra (:mod:`.fixed_points`, :mod:`.spectra`)
    ``find_zero_loss_point(model, greedy)`` -> ``ZeroLossPoint``;
    ``analyze_point(model, x)`` -> ``PointSpectrum``: Hessian of L_tau (the true
    flow's Jacobian is -H), the semi-gradient field's Jacobian, the normal space
    of the zero-loss set (row space of dQ_tot/dx) and the spectra restricted to
    it, quadratic forms along v = e_{i,b} - e_{i,g_i} with Eq. 19 and Eq. 21.
Verdicts (:mod:`.verdicts`), for callers such as the paper-table checks
    ``verify_theorem1(game, mixer=..., ...)``,
    ``verify_theorem2(game, tau, mixer=..., ...)``,
    ``verify_theorem3(game, tau, mixer=..., greedy=None, perturb=True)``
    each return a frozen ``TheoremVerdict`` (``holds``, ``verdict``,
    ``summary``, ``points`` with their spectra, named ``numbers``,
    ``perturbations``).  ``load_counterexamples()`` returns the stored
    Theorem 3 counterexamples.

Findings (what the numbers show, see docs/concepts/gradient-flows.md): Theorem 1 holds for the
unconstrained MLP; Theorem 2's conclusion holds, but Eq. 19's value does not;
Theorem 3 fails: at any zero-loss point H_tau = 2 J^T diag(mu) J is positive
semidefinite (L_tau >= 0 vanishes there), so IGM-inconsistent zero-loss points
are never saddles, Eq. 21's negative value is never observed, and both flows
stay near such points when started close to them.

>>> from stablepoint.catalog import get_game
>>> v = verify_theorem3(get_game("game-b"), tau=0.5, greedy=[(2, 2)], hidden=4, perturb=False)
>>> v.verdict, v.points[0].min_hessian_eigenvalue > -1e-9 * v.points[0].scale
('fails', True)
"""

from stablepoint.gradflow.fixed_points import ZeroLossPoint, find_zero_loss_point
from stablepoint.gradflow.flow import FlowBatch, FlowSettings, Trajectory, initial_states, integrate, run_flows
from stablepoint.gradflow.loss import GRADIENTS, LossModel
from stablepoint.gradflow.mixers import MIXERS, Mixer, MLPMixer, ModuleMixer, VDNMixer, make_mixer
from stablepoint.gradflow.outcomes import OutcomeRow, OutcomeTable, outcome_table
from stablepoint.gradflow.spectra import DirectionForm, PointSpectrum, analyze_point
from stablepoint.gradflow.verdicts import (
    CLAIMS,
    PerturbationOutcome,
    TheoremVerdict,
    load_counterexamples,
    verify_theorem1,
    verify_theorem2,
    verify_theorem3,
)

__all__ = [
    "CLAIMS",
    "DirectionForm",
    "FlowBatch",
    "FlowSettings",
    "GRADIENTS",
    "LossModel",
    "MIXERS",
    "MLPMixer",
    "Mixer",
    "ModuleMixer",
    "OutcomeRow",
    "OutcomeTable",
    "PerturbationOutcome",
    "PointSpectrum",
    "TheoremVerdict",
    "Trajectory",
    "VDNMixer",
    "ZeroLossPoint",
    "analyze_point",
    "find_zero_loss_point",
    "initial_states",
    "integrate",
    "load_counterexamples",
    "make_mixer",
    "outcome_table",
    "run_flows",
    "verify_theorem1",
    "verify_theorem2",
    "verify_theorem3",
]
