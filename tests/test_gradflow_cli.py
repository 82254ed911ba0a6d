"""The ``flow`` and ``hessian`` commands: output and one-line errors (exit code 2)."""

import re

import pytest
from click.testing import CliRunner

from stablepoint.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_hessian_prints_spectrum_and_eq21_side_by_side():
    res = run("hessian", "--game", "A", "--greedy", "2,2", "--tau", "0.3", "--hidden", "4")
    assert res.exit_code == 0, res.output
    assert "greedy (2,2) (IGM-inconsistent: not u*) on game-a" in res.output
    assert "H_tau on the normal space" in res.output
    rows = re.findall(r"^\s+1\s+2->1\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)$", res.output, re.M)
    assert rows
    computed, semi, _, eq21 = (float(v) for v in rows[0])
    assert computed > 0 and eq21 == pytest.approx(-2 / 0.3 * (12 - 0), rel=1e-3)
    assert computed == pytest.approx(semi, rel=1e-6)


def test_flow_prints_the_outcome_table_and_saves_a_figure(tmp_path):
    fig = tmp_path / "flows.png"
    res = run("flow", "--game", "B", "--tau", "1", "--runs", "2", "--hidden", "4", "--t-max", "100",
              "--gtol", "1e-2", "--figure", str(fig), "--check")
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith(("nonmono", "qmix"))]
    assert [ln.split()[:3] for ln in lines] == [
        ["nonmono", "true", "1"], ["nonmono", "semi", "1"], ["qmix", "true", "1"], ["qmix", "semi", "1"]]
    assert fig.stat().st_size > 10_000


@pytest.mark.parametrize("args,message", [
    (("flow", "--tau", "0", "--runs", "1"), "Error: tau must be a finite number > 0, got 0.0"),
    (("flow", "--method", "foo", "--runs", "1"), "Error: unknown mixer 'foo'; choose one of:"),
    (("hessian", "--tau", "-1"), "Error: tau must be a finite number > 0"),
    (("hessian", "--greedy", "4,1"), "Error: greedy action (4, 1) (1-based) is out of range"),
    (("hessian", "--greedy", "x"), "Error: --greedy must be 1-based"),
    (("hessian", "--method", "vdn", "--restarts", "1"), "Error: no zero-loss point with greedy action (2, 2)"),
])
def test_bad_input_gets_one_line_error(args, message):
    res = run(*args)
    assert res.exit_code == 2
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), res.output  # nothing else, no progress bar
