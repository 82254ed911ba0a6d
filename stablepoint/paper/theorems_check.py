"""The theorems' verdicts on the catalog games, for REPORT.md (the property tests cover random payoffs).

MRVF Theorem 2 with the computed threshold E (``stablepoint.paper.theorems``),
MRVF Theorem 3 (ResQ), the MRVF round-improvement claim behind Theorem 1's use
(counterexample on Table 5), and Beyond Monotonicity Theorem 3 (counterexample
via ``stablepoint.gradflow``).  See ``tests/test_theorems_mrvf.py`` and
``tests/test_theorems_bm.py``.
"""

from __future__ import annotations

from stablepoint.catalog import get_game
from stablepoint.paper.core import Section, TableResult, action_set, exact_cell, fmt, load_published, status_of
from stablepoint.paper.theorems import theorem2_threshold
from stablepoint.payoff import Payoff

GAMES = ("table5", "table8", "qtran", "game-a", "game-b", "table4d")


def regenerate(name: str = "theorems", progress=None) -> TableResult:
    from stablepoint.methods import get_method
    from stablepoint.methods.mrvf import increment_target
    from stablepoint.stability import analyze

    pub = load_published("theorems")
    cells, rows, notes = [], [], []
    for game in GAMES:
        p = get_game(game)
        e = theorem2_threshold(p)
        qmix = get_method("qmix", visitation="centralized", epsilon=0.9 * e)
        bad = [u for u in p.worst_actions() if qmix.fit(p, u).stable]
        cells.append(exact_cell(f"MRVF Theorem 2 on {game}: no arg-min stable at eps = 0.9 E", True, not bad,
                                f"E = {e:.4g}"))
        resq = get_method("resq")
        stable = {u: f for u in p.joint_actions() if (f := resq.fit(p, u)).stable}
        ok = set(stable) == set(p.optimal_actions()) and not any(f.strongly_stable for f in stable.values())
        cells.append(exact_cell(f"MRVF Theorem 3 (ResQ) on {game}: u* weakly stable, nothing else", True, ok))
        rows.append((game, fmt(e), action_set(p.worst_actions()), "none" if not bad else action_set(bad),
                     action_set(stable)))
        if progress is not None:
            progress(game)
    # the round-improvement claim: Table 5, round from (1, 2)
    p = get_game("table5")
    target = Payoff(increment_target(p.values, (0, 1)))
    eps = 0.05
    res = analyze(target, get_method("qmix", visitation="centralized", epsilon=eps))
    minima = frozenset(target.worst_actions())
    cycle = minima in res.attractors
    cells.append(exact_cell("MRVF round from (1, 2) on Table 5 only reaches improving actions (eps = 0.05 < E)", True,
                            not cycle, f"attractors of the round: {' | '.join(action_set(a) for a in res.attractors)}"))
    if cycle:
        notes.append(
            "MRVF's strict-improvement argument fails in the stable-point model: on Table 5, a round started at "
            f"(1, 2) (Q_jt = -12) with centralized eps = {eps} < E(Y^k) = {theorem2_threshold(target):.4g} has no "
            "stable minimum (Theorem 2 holds) but its greedy dynamics cycle among the minima "
            f"{action_set(minima)} of the clipped target, so the round never improves; the mrvf method reports "
            "that the process may stop there."
        )
    try:
        from stablepoint.gradflow import verdicts

        v = verdicts.verify_theorem3("game-a", tau=0.3, greedy=[(1, 1)], hidden=4, perturb=False, restarts=10)
        cells.append(exact_cell("Beyond Monotonicity Theorem 3 on Game A at greedy (2, 2), tau = 0.3", True,
                                bool(v.holds), v.summary))
        if not v.holds:
            notes.append("Beyond Monotonicity Theorem 3 fails: " + v.summary)
    except ImportError as exc:
        notes.append(f"Beyond Monotonicity verdicts unavailable: {exc}")
    notes.append("Random payoffs: tests/test_theorems_mrvf.py and tests/test_theorems_bm.py (hypothesis; "
                 "HYPOTHESIS_PROFILE=thorough for the larger run).")
    section = Section("MRVF Theorems 2 and 3 on catalog games (centralized eps = 0.9 E for Theorem 2; ResQ eps = 1)",
                      ("game", "E (Theorem 2)", "arg-min", "stable arg-min below E", "ResQ stable points"),
                      tuple(rows))
    return TableResult(name, "", pub["source"], status_of(cells), tuple(cells), (section,), tuple(notes))
