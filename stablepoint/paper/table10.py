"""MRVF Table 10: the risk-reward construction (Appendix E.1) rebuilt from its reward vectors.

(a) Q_jt(u) = sign * (r_row(u_1) + r_col(u_2)), positive on the diagonal;
(b) the same after the action mapping (rows and columns permuted).  The
catalog generator ``risk_reward`` is checked for the construction's
invariants on a few seeds.
"""

from __future__ import annotations

import itertools

import numpy as np

from stablepoint.catalog import get_game, risk_reward
from stablepoint.paper.core import Section, TableResult, exact_cell, fmt_matrix, load_published, matrix_cells, status_of


def _build(row_rewards, col_rewards, row_ids, col_ids) -> np.ndarray:
    """sign(v) * sum r_i(v_i): + when the mapped actions agree."""
    out = np.empty((len(row_ids), len(col_ids)))
    for r, c in itertools.product(range(len(row_ids)), range(len(col_ids))):
        total = row_rewards[r] + col_rewards[c]
        out[r, c] = total if row_ids[r] == col_ids[c] else -total
    return out


def regenerate(name: str = "table10", progress=None) -> TableResult:
    pub = load_published("table10")
    a, b = pub["a"], pub["b"]
    # before mapping, action k of either agent is mapped action k
    rebuilt_a = _build(a["row_rewards"], a["col_rewards"], range(3), range(3))
    # after mapping, an action is identified by its reward (the rewards are distinct)
    rows_b = [a["row_rewards"].index(v) for v in b["row_rewards"]]
    cols_b = [a["col_rewards"].index(v) for v in b["col_rewards"]]
    rebuilt_b = _build(b["row_rewards"], b["col_rewards"], rows_b, cols_b)
    cells = [*matrix_cells("(a)", a["values"], rebuilt_a, 0), *matrix_cells("(b)", b["values"], rebuilt_b, 0)]
    cells.append(exact_cell("catalog table10a equals (a)", True, bool(np.array_equal(get_game("table10a").values, rebuilt_a))))
    cells.append(exact_cell("catalog table10b equals (b)", True, bool(np.array_equal(get_game("table10b").values, rebuilt_b))))
    gen_ok = True
    for agents, actions, seed in ((2, 3, 0), (3, 5, 0), (3, 5, 1), (5, 8, 2)):
        y = risk_reward(agents, actions, seed).values
        pos = np.argwhere(y > 0)
        one_per_action = all(len(set(pos[:, i])) == actions for i in range(agents))
        gen_ok &= len(pos) == actions and one_per_action and float(np.abs(y).max()) <= 10.0
    cells.append(exact_cell("generator: exactly one positive cell per mapped action, |Q_jt| <= 10", True, gen_ok,
                            "risk-reward agents/actions/seed = 2/3/0, 3/5/0, 3/5/1, 5/8/2"))
    section = Section("Risk-reward matrix rebuilt from the reward vectors",
                      ("matrix", "published", "rebuilt"),
                      (("(a) before mapping", fmt_matrix(a["values"]), fmt_matrix(rebuilt_a)),
                       ("(b) after mapping", fmt_matrix(b["values"]), fmt_matrix(rebuilt_b))))
    return TableResult(name, "", pub["source"], status_of(cells), tuple(cells), (section,), ())
