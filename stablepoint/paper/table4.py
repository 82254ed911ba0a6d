"""MRVF Table 4: the monotonicity class of payoffs (a)-(d) by Definitions 2-3, and a graded measure.

The class is recomputed from the payoff (``stablepoint.monotonicity``); the
graded measure (fraction of unordered action pairs, severity) is ours and has
nothing published to compare with.  Table 4(b) as printed is not monotonic:
its columns 1 and 2 cross in row 2; the notes say so and give the reading
under which it would be (row 2 = (2, 3, 1), a rearrangement of 4(a)).
"""

from __future__ import annotations

import numpy as np

from stablepoint.monotonicity import monotonicity
from stablepoint.paper.core import Section, TableResult, exact_cell, fmt, fmt_matrix, load_published, number_cell, status_of


def regenerate(name: str = "table4", progress=None) -> TableResult:
    pub = load_published("table4")
    cells, rows, notes = [], [], []
    for key, entry in pub["payoffs"].items():
        m = monotonicity(np.array(entry["values"], dtype=float))
        cells.append(exact_cell(f"4({key}) class", entry["class"], m.kind))
        cells.append(number_cell(f"4({key}) unordered pair fraction", None, m.incomparable_fraction, 4))
        cells.append(number_cell(f"4({key}) severity", None, m.severity, 4))
        unordered = [f"agent {p.agent + 1}: {p.a + 1} vs {p.b + 1}" for p in m.pairs if not p.ordered]
        rows.append((f"({key})", fmt_matrix(entry["values"]), entry["class"], m.kind,
                     fmt(m.incomparable_fraction), fmt(m.severity, 3), "; ".join(unordered) or "-"))
        if m.kind != entry["class"]:
            notes.append(
                f"Table 4({key}) is published as {entry['class']!r} but Definition 3 gives {m.kind!r}: "
                f"unordered pairs {', '.join(unordered)}."
            )
    b = np.array(pub["payoffs"]["b"]["values"], dtype=float)
    fixed = b.copy()
    fixed[1] = [2, 3, 1]
    if monotonicity(fixed).monotonic and not monotonicity(b).monotonic:
        notes.append(
            "Reading row 2 of Table 4(b) as (2, 3, 1) instead of (3, 2, 1) makes it monotonic and a "
            "row/column rearrangement of 4(a), as the caption says; we keep the printed values."
        )
    notes.append(
        "Graded measure (ours, not in the paper): the fraction of action pairs, pooled over agents, that "
        "Definition 2 leaves unordered, and the mean pair violation over the payoff range; class cut: "
        "more than half unordered = 'highly non-monotonic'."
    )
    section = Section("Monotonicity of Table 4 (a)-(d)",
                      ("payoff", "values", "published", "regenerated", "unordered fraction", "severity",
                       "unordered pairs"), tuple(rows))
    return TableResult(name, "", pub["source"], status_of(cells), tuple(cells), (section,), tuple(notes))
