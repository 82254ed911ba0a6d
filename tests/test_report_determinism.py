"""`stablepoint tables` writes paper_tables/REPORT.md deterministically: regenerating it changes nothing.

The whole report takes about 3 minutes (table7, table8, eq32_33 and bm_table1 are most of it), so
the default test regenerates the tables that take seconds, twice, and compares their sections with
the committed report; the slow test regenerates everything.
"""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from stablepoint.cli import main
from stablepoint.paper import TABLES
from stablepoint.paper.core import fmt, fmt_matrix
from stablepoint.paper.render import _value

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "paper_tables" / "REPORT.md"
#: the tables that regenerate in seconds
CHEAP = ("table2", "table4", "table5", "table6", "table10", "table11", "figure2", "theorems")


def _sections(markdown: str) -> dict:
    """``## name: title`` section of every table -> its text."""
    parts = re.split(r"^(?=## )", markdown, flags=re.M)
    return {p.split(":", 1)[0][3:]: p for p in parts if p.startswith("## ")}


def _report(tmp_path, names=()) -> str:
    out = tmp_path / "REPORT.md"
    args = ["tables", "--quiet", "--report", str(out)] + [a for n in names for a in ("--only", n)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    return out.read_text()


def test_rounding_level_values_print_canonically():
    assert fmt(-1e-17) == fmt(1e-17) == fmt(-0.0) == "0"
    assert fmt_matrix([[-1e-16, 1.0], [2.5, -0.0]]) == "[0 1; 2.5 0]"
    assert _value(-3e-15) == _value(0.0) == "0" and _value(-0.25) == "-0.25"


def test_cheap_tables_regenerate_the_committed_report(tmp_path):
    first = _report(tmp_path / "a", CHEAP)
    second = _report(tmp_path / "b", CHEAP)
    assert first == second
    fresh, committed = _sections(first), _sections(COMMITTED.read_text())
    assert set(fresh) == set(CHEAP)
    for name in CHEAP:
        assert fresh[name] == committed[name], f"{name}: paper_tables/REPORT.md is stale; rerun `stablepoint tables`"
    # figure2's transition graphs are drawn beside the report (their bytes depend on matplotlib's version)
    assert sorted(p.name for p in (tmp_path / "a" / "figures").iterdir()) == ["figure2_inclusive.png", "figure2_strict.png"]


@pytest.mark.slow
def test_whole_report_regenerates_byte_for_byte(tmp_path):
    fresh = _report(tmp_path)
    assert set(_sections(fresh)) == set(TABLES)
    assert fresh == COMMITTED.read_text()
