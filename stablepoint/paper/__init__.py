"""Regenerate the papers' tables and compare them with the published values.

Each table has a module here with ``regenerate(progress=None) -> TableResult``;
:data:`TABLES` maps its name to that module (imported lazily, so one missing
dependency only affects its own table).  The published values are data files
in ``stablepoint/data/published/`` (also reachable as ``paper_tables/published``).
The thin scripts in ``paper_tables/`` and the ``stablepoint tables`` command
both call :func:`run_tables`.

>>> r = run_table("table4")
>>> r.status, r.n_mismatch
('mismatch', 1)
"""

from __future__ import annotations

import importlib
import time
import traceback
from typing import Callable, Iterable

from stablepoint.errors import SettingsError
from stablepoint.paper.core import Cell, Section, TableResult

__all__ = ["TABLES", "run_table", "run_tables", "list_tables", "TableResult", "Cell", "Section"]

#: table name -> (module under stablepoint.paper, one-line description)
TABLES: dict[str, tuple[str, str]] = {
    "table2": ("table2", "MRVF Table 2: MRVF multi-round targets and greedy actions (Table 5 payoff)"),
    "table4": ("table4", "MRVF Table 4: monotonicity classes (Definitions 2-3) and a graded measure"),
    "table5": ("table5", "MRVF Table 5: Ideal QMIX fits (b), (c) and their L_tot, uniform visitation"),
    "table6": ("table6", "MRVF Table 6: ResQ fit with L_tot = 0, u* only weakly stable (Theorem 3)"),
    "table7": ("tables7_8", "MRVF Table 7: QPLEX stable points on the Table 5 payoff (Eq. 27-29)"),
    "table8": ("tables7_8", "MRVF Table 8: QPLEX stable points on the diagonal payoff (Eq. 27-29)"),
    "table10": ("table10", "MRVF Table 10: the risk-reward construction rebuilt"),
    "table11": ("table11", "MRVF Table 11: focus fire, stable points of QMIX"),
    "eq32_33": ("eq32_33", "MRVF Eq. 32-33: predator-prey penalty -2, Ideal QMIX as epsilon -> 0"),
    "figure2": ("figure2", "MRVF Figure 2: WQMIX (alpha 0.1, epsilon 1) from (1, 3), both tie rules"),
    "bm_table1": ("bm_table1", "Beyond Monotonicity Table 1: Games A and B, QMIX vs non-monotonic mixer"),
    "theorems": ("theorems_check", "Theorem verdicts on catalog games (MRVF Theorems 1-3, Beyond Monotonicity Theorem 3)"),
}


def list_tables() -> list[tuple[str, str]]:
    """``(name, description)`` of every table."""
    return [(k, v[1]) for k, v in TABLES.items()]


def run_table(name: str, progress: Callable[[str], None] | None = None) -> TableResult:
    """Regenerate one table; never raises for a failing regeneration (status ``error``).

    Raises
    ------
    SettingsError
        Unknown table name (the message lists the valid ones).
    """
    if name not in TABLES:
        raise SettingsError(f"unknown table {name!r}; choose one of: {', '.join(TABLES)}")
    module_name, title = TABLES[name]
    start = time.perf_counter()
    try:
        module = importlib.import_module(f"stablepoint.paper.{module_name}")
        result = module.regenerate(name=name, progress=progress)
    except ImportError as exc:
        return TableResult(name, title, "", "unavailable",
                           notes=(f"needs a part of the toolkit that is not available yet: {exc}",),
                           seconds=time.perf_counter() - start)
    except Exception as exc:  # a regeneration bug must not hide the other tables
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return TableResult(name, title, "", "error", notes=(f"regeneration raised {last}",),
                           seconds=time.perf_counter() - start)
    return TableResult(
        name=result.name, title=title, source=result.source, status=result.status, cells=result.cells,
        sections=result.sections, notes=result.notes, seconds=time.perf_counter() - start, data=result.data,
    )


def run_tables(names: Iterable[str] | None = None,
               progress: Callable[[str], None] | None = None,
               budget: float | None = None) -> tuple[TableResult, ...]:
    """Regenerate the named tables (default: all, in :data:`TABLES` order).

    With ``budget`` (seconds for all of them) each table runs in a forked child that is
    stopped when the budget ends (:func:`stablepoint.bounded.run_bounded`); a table not
    finished by then has status ``"unfinished"`` and no values, never a partial answer.
    """
    names = list(TABLES) if names is None else list(names)
    for n in names:
        if n not in TABLES:
            raise SettingsError(f"unknown table {n!r}; choose one of: {', '.join(TABLES)}")
    deadline = None if budget is None else time.monotonic() + float(budget)
    out = []
    for n in names:
        if progress is not None:
            progress(n)
        if deadline is None:
            out.append(run_table(n, progress=None))
            continue
        left = deadline - time.monotonic()
        run = None
        if left > 0:
            from stablepoint.bounded import run_bounded

            run = run_bounded(lambda send, n=n: run_table(n, progress=None), budget=left)
        if run is not None and run.finished:
            out.append(run.value)
        else:
            out.append(TableResult(n, TABLES[n][1], "", "unfinished",
                                   notes=(f"not regenerated within the {float(budget):g} s budget",),
                                   seconds=0.0 if run is None else run.seconds))
    return tuple(out)
