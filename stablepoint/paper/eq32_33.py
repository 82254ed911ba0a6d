"""MRVF Eq. 32-33 (Appendix H.4): predator-prey with penalty -2, Ideal QMIX as epsilon -> 0.

The paper: the optimum (capture, capture) is stable for every epsilon in (0, 1],
while "non-capture" pairs become stable as epsilon -> 0, with the limit fit of
Eq. 33 (the capture row and column at -2, zero elsewhere) and loss
``12^2 o(eps^2)``.  That eps^2 weight on the capture-capture cell is the
DEcentralized policy of Eq. 2 (papers/README.md), so both visitations are run.

Symmetry cuts the work: the payoff only depends on whether each agent
captures, so permuting one agent's non-capture actions maps the payoff to
itself and carries stable points to stable points.  Four representatives
cover all joint actions: (capture, capture), (capture, other),
(other, capture) and (other, other) (1-based (1,1), (1,2), (2,1), (2,2));
``tests/test_tables.py`` checks this against a full analysis on a small game.

Size: 6 actions needs the branch-and-bound solver ("bnb"); without it the
regeneration runs the same game with 3 actions and says so.
"""

from __future__ import annotations

import math

import numpy as np

from stablepoint.catalog import predator_prey
from stablepoint.paper.core import Section, TableResult, exact_cell, fmt_matrix, load_published, number_cell, status_of

EPSILONS = (1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
VISITATIONS = ("centralized", "decentralized")
BISECTION_STEPS = 12
#: smallest span^2 * min weight that the exact solvers resolve (cvxpy/Clarabel gap ~1e-11)
RESOLUTION = 1e-8
#: None: 6 actions with "bnb", else 3 (cvxpy); tests set a small number
ACTIONS = None

CLASSES = {"capture-capture": (0, 0), "capture-other": (0, 1), "other-capture": (1, 0), "other-other": (1, 1)}


def _solver_and_actions(pub) -> tuple[str, int, str]:
    from stablepoint.projection import SOLVERS

    if ACTIONS is not None:
        return ("bnb" if "bnb" in SOLVERS else "cvxpy"), int(ACTIONS), "set by the caller"
    if "bnb" in SOLVERS:
        return "bnb", int(pub["actions"]), "the paper's size"
    return "cvxpy", 3, "reduced from 6: the branch-and-bound solver is not available, the cvxpy reference is too slow at 6x6"


def regenerate(name: str = "eq32_33", progress=None) -> TableResult:
    from stablepoint.methods import get_method

    pub = load_published("eq32_33")
    solver, actions, why = _solver_and_actions(pub)
    payoff = predator_prey(pub["penalty"], actions)

    span2 = float(np.ptp(payoff.values)) ** 2

    def smallest_weight(vis, eps):
        w = get_method("qmix", visitation=vis, epsilon=eps).weights(payoff, CLASSES["other-other"])
        return float(w[w > 0].min())

    def resolvable(vis, eps):
        # the cvxpy reference solves to ~1e-11; loss differences of order span^2 * min weight must stand above it
        return span2 * smallest_weight(vis, eps) >= RESOLUTION

    def stable(vis, eps, u):
        # ties are decided relative to the smallest weight: the absolute default (1e-7) would tie everything
        atol = min(1e-7, 1e-3 * span2 * smallest_weight(vis, eps))
        options = {"loss_atol": atol, "loss_rtol": 1e-9}
        return get_method("qmix", visitation=vis, epsilon=eps, solver=solver, solver_options=options).fit(payoff, u)

    cells, rows, notes, crit_rows = [], [], [], []
    limit = np.zeros(payoff.shape)
    limit[0, :] = limit[:, 0] = pub["penalty"]
    for vis in VISITATIONS:
        table = {}
        grid = [e for e in EPSILONS if resolvable(vis, e)]
        skipped = [e for e in EPSILONS if e not in grid]
        if skipped:
            notes.append(f"{vis}: eps = {', '.join(f'{e:g}' for e in skipped)} not computed: the smallest visitation "
                         f"weight times the payoff range^2 falls below {RESOLUTION:g}, under the exact solver's "
                         "resolution; the trend above it is reported instead.")
        for eps in grid:
            fits = {cls: stable(vis, eps, u) for cls, u in CLASSES.items()}
            table[eps] = fits
            rows.append((vis, f"{eps:g}", *("yes" if fits[c].stable else "-" for c in CLASSES)))
            if progress is not None:
                progress(f"{vis} eps={eps:g}")
        low = grid[-1]
        opt_always = all(table[e]["capture-capture"].stable for e in grid)
        cells.append(exact_cell(f"{vis}: optimum stable for every epsilon on the grid", True, opt_always))
        cells.append(exact_cell(f"{vis}: non-capture pairs stable at the smallest epsilon (eps = {low:g})", True,
                                table[low]["other-other"].stable))
        cells.append(exact_cell(f"{vis}: non-capture pairs not stable at eps = 1", True,
                                not table[1.0]["other-other"].stable))
        # critical epsilon of the non-capture pair: bisection (log scale) inside the grid interval where it flips
        flags = [table[e]["other-other"].stable for e in grid]
        flips = [i for i in range(len(grid) - 1) if flags[i] != flags[i + 1]]
        for i in flips:
            hi, lo = grid[i], grid[i + 1]
            hi_flag = flags[i]
            for _ in range(BISECTION_STEPS):
                mid = math.sqrt(hi * lo)
                if stable(vis, mid, CLASSES["other-other"]).stable == hi_flag:
                    hi = mid
                else:
                    lo = mid
            cells.append(number_cell(f"{vis}: critical epsilon of the non-capture pairs", None, math.sqrt(hi * lo), 4))
            crit_rows.append((vis, f"{lo:.4g}", f"{hi:.4g}",
                              f"{'stable' if not hi_flag else 'not stable'} below, {'stable' if hi_flag else 'not stable'} above"))
        fit = table[low]["other-other"]
        q_tot = fit.fits[0].q_tot
        dev = float(np.max(np.abs(q_tot - limit)))
        cells.append(exact_cell(f"{vis}: Q_tot* at non-capture u~, eps = {low:g}, is the Eq. 33 limit (within 0.1)",
                                True, dev <= 0.1, f"max deviation {dev:.3g}; fit {fmt_matrix(q_tot, 3)}"))
        w_cc = get_method("qmix", visitation=vis, epsilon=low).weights(payoff, CLASSES["other-other"])[0, 0]
        ratio = fit.loss / w_cc
        if vis == "decentralized":
            cells.append(number_cell(f"{vis}: L_tot* / pi(capture, capture) at eps = {low:g} (Eq. 33: 12^2)",
                                     144.0, ratio, 0))
        else:
            cells.append(number_cell(f"{vis}: L_tot* / pi(capture, capture) at eps = {low:g}", None, ratio, 0))
        notes.append(f"{vis}: at eps = {low:g} the non-capture fit is {fmt_matrix(q_tot, 3)} with "
                     f"L_tot* = {fit.loss:.3e} = {ratio:.4g} x pi(capture, capture) = {w_cc:.3e}.")
    summary = []
    for vis in VISITATIONS:
        flags = {c.key: c.regenerated for c in cells if c.key.startswith(vis)}
        low_key = next(k for k in flags if "stable at the smallest epsilon" in k)
        crit = [c.regenerated for c in cells if c.key == f"{vis}: critical epsilon of the non-capture pairs"]
        if flags[low_key]:
            summary.append(f"under {vis} epsilon-greedy they are stable below epsilon ~ {crit[0]:.4g}" if crit
                           else f"under {vis} epsilon-greedy they are stable")
        else:
            summary.append(f"under {vis} epsilon-greedy they are never stable on the grid")
    notes.insert(0, "The optimum is stable for every epsilon; non-capture pairs: " + "; ".join(summary)
                 + ". The paper's epsilon -> 0 claim (and its eps^2 loss term) holds for the decentralized policy of "
                 "Eq. 2, not for the centralized one of Eq. 8.")
    if actions != pub["actions"]:
        notes.append(f"Run with {actions} actions per agent, not the paper's {pub['actions']}: {why}.")
    notes.append("Stable points per class by the symmetry argument in the module docstring; "
                 f"solver {solver}; epsilon grid {', '.join(f'{e:g}' for e in EPSILONS)}.")
    sections = [
        Section(f"Ideal QMIX stable points on predator-prey (penalty {pub['penalty']:g}, {actions}x{actions}) by class",
                ("visitation", "epsilon", *CLASSES), tuple(rows)),
    ]
    if crit_rows:
        sections.append(Section("Critical epsilon of the non-capture pairs (bisection, log scale)",
                                ("visitation", "lower", "upper", "stability"), tuple(crit_rows)))
    return TableResult(name, "", pub["source"], status_of(cells), tuple(cells), tuple(sections), tuple(notes))
