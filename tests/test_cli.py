"""``stablepoint check``: options, outputs, partial results, sweeps and one-line errors (exit code 2)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from stablepoint import methods
from stablepoint.cli import main
from stablepoint.methods.base import FitResult

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class ToBest:
    """Test double: from u~, move to the best joint action sharing u~'s first component
    (ties kept), or stay when epsilon < 0.5 (so every u~ is strongly stable there)."""

    name = "tobest"
    setting_names = ("visitation", "epsilon")

    def __init__(self, *, visitation="centralized", epsilon=1.0):
        self.visitation, self.epsilon = visitation, float(epsilon)

    def fit(self, payoff, u):
        u = tuple(u)
        if self.epsilon < 0.5:
            return FitResult(self.name, u, 0.0, frozenset({u}), ())
        row = payoff.values[u[0]]
        best = frozenset((u[0],) + tuple(int(i) for i in ix) for ix in np.argwhere(row >= row.max() - 1e-9))
        return FitResult(self.name, u, float(row.max() - payoff[u]), best, ())

    def settings(self):
        return {"visitation": self.visitation, "epsilon": self.epsilon}


class Interrupted(ToBest):
    """Test double: raises KeyboardInterrupt on its fourth fit."""

    name = "interrupted"
    count = 0

    def fit(self, payoff, u):
        type(self).count += 1
        if type(self).count == 4:
            raise KeyboardInterrupt
        return super().fit(payoff, u)


@pytest.fixture(autouse=True)
def doubles(monkeypatch):
    from stablepoint import projection

    # A registered solver without a max_orderings option (as the branch-and-bound one).
    monkeypatch.setitem(projection.SOLVERS, "nomax", "stablepoint.projection.isotonic:isotonic_regression")
    monkeypatch.setitem(methods.METHODS, "tobest", ToBest)
    monkeypatch.setitem(methods.METHODS, "interrupted", Interrupted)
    Interrupted.count = 0


def run(*args):
    return CliRunner().invoke(main, ["check", *args])


TABLE5 = "8,-12,-12\n-12,3,0\n-12,0,5\n"


# --------------------------------------------------------------------------- outputs


def test_text_json_markdown(tmp_path):
    f = tmp_path / "t5.csv"
    f.write_text(TABLE5)
    res = run("--payoff", str(f), "--method", "tobest")
    assert res.exit_code == 0, res.output
    assert "payoff t5 [3x3], method tobest" in res.output
    # Row 1 of Table 5 is best at (1, 1): strongly stable; row 3 at (3, 3).
    assert re.search(r"^  \(1, 1\)  strong  Q_jt = 8 +optimal$", res.output, re.M)
    assert re.search(r"^  \(3, 3\)  strong  Q_jt = 5$", res.output, re.M)
    doc = json.loads(run("--game", "table5", "--method", "tobest", "--format", "json").stdout)
    assert doc["stable"] == [
        {"action": [0, 0], "kind": "strong"},
        {"action": [1, 1], "kind": "strong"},
        {"action": [2, 2], "kind": "strong"},
    ]
    assert doc["transitions"][1] == {
        "u_tilde": [0, 1], "greedy": [[0, 0]], "loss": 20.0, "stable": None, "certified": True, "greedy_losses": None,
    }
    assert doc["settings"] == {"visitation": "centralized", "epsilon": 1.0}
    md = run("--game", "table5", "--method", "tobest", "--format", "markdown", "--epsilon", "0.7").stdout
    assert md.startswith("## Stability of tobest on table5") and "epsilon=0.7" in md


def test_graph_out_and_progress(tmp_path):
    png, dot, out = tmp_path / "g.png", tmp_path / "g.dot", tmp_path / "r.json"
    res = run("--game", "table5", "--method", "tobest", "--graph", str(png), "--out", str(out), "--progress")
    assert res.exit_code == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    doc = json.loads(out.read_text())
    assert doc["complete"] is True and len(doc["transitions"]) == 9
    assert "9/9" in res.stderr  # the progress bar goes to stderr, not into the report
    assert "9/9" not in res.stdout
    assert run("--game", "table5", "--method", "tobest", "--graph", str(dot)).exit_code == 0
    assert dot.read_text().startswith('digraph "tobest"')


def test_interrupt_keeps_partial_results(tmp_path):
    out = tmp_path / "partial.json"
    # One worker fits the rows in C order; its fourth fit is interrupted.
    res = run("--game", "table5", "--method", "interrupted", "--out", str(out), "--jobs", "1")
    assert res.exit_code == 130
    assert "interrupted" in res.stderr
    doc = json.loads(out.read_text())
    assert doc["complete"] is False and doc["done"] == 3 and doc["total"] == 9
    assert [t["u_tilde"] for t in doc["transitions"]] == [[0, 0], [0, 1], [0, 2]]


def test_interrupt_with_parallel_workers_keeps_rows_in_c_order(tmp_path):
    out = tmp_path / "partial.json"
    # Each of the 3 forked workers counts its own fits: the first to reach its fourth is interrupted.
    res = run("--game", "table5", "--method", "interrupted", "--out", str(out), "--jobs", "3")
    assert res.exit_code == 130
    doc = json.loads(out.read_text())
    rows = [t["u_tilde"] for t in doc["transitions"]]
    assert doc["complete"] is False and 3 <= doc["done"] == len(rows) < 9
    assert rows == sorted(rows)
    full = json.loads(run("--game", "table5", "--method", "tobest", "--format", "json").stdout)
    expect = {tuple(t["u_tilde"]): t["greedy"] for t in full["transitions"]}
    assert all(t["greedy"] == expect[tuple(t["u_tilde"])] for t in doc["transitions"])


def test_sweep(tmp_path):
    out = tmp_path / "sweep.json"
    res = run("--game", "table5", "--method", "tobest", "--sweep", "0:1:3", "--sweep-tol", "0.01", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "Critical epsilons (bisection to 0.01):" in res.stdout
    doc = json.loads(out.read_text())
    assert doc["kind"] == "sweep" and doc["complete"] is True
    assert [g["epsilon"] for g in doc["grid"]] == [0.0, 0.5, 1.0]
    assert len(doc["grid"][0]["stable"]) == 9 and len(doc["grid"][1]["stable"]) == 3
    # The double switches at epsilon = 0.5 for the six u~ that are not row maxima.
    assert len(doc["critical"]) == 6
    for c in doc["critical"]:
        assert c["before"] == "strong" and c["after"] is None
        assert c["lo"] < 0.5 <= c["hi"] and c["hi"] - c["lo"] <= 0.01


# --------------------------------------------------------------------------- bad input: one line, exit 2


def _npy(tmp_path, arr, name="p.npy"):
    f = tmp_path / name
    np.save(f, np.asarray(arr, dtype=float))
    return str(f)


def _csv(tmp_path, text, name="p.csv"):
    f = tmp_path / name
    f.write_text(text)
    return str(f)


BAD = {
    "ragged": (lambda d: ["--payoff", _csv(d, "1,2,3\n4,5\n"), "--method", "tobest"], "ragged"),
    "non-numeric": (lambda d: ["--payoff", _csv(d, "1,2\n3,abc\n"), "--method", "tobest"], "non-numeric"),
    "nan": (lambda d: ["--payoff", _csv(d, "1,nan\n3,4\n"), "--method", "tobest"], "NaN"),
    "inf": (lambda d: ["--payoff", _npy(d, [[1, np.inf], [0, 0]]), "--method", "tobest"], "infinity"),
    "one agent": (lambda d: ["--payoff", _npy(d, [1, 2, 3]), "--method", "tobest"], "at least 2 agents"),
    "one action": (lambda d: ["--payoff", _csv(d, "1\n2\n3\n"), "--method", "tobest"], "at least 2 actions"),
    "duplicate": (
        lambda d: ["--payoff", _csv(d, "a1,a2,value\n0,0,1\n0,1,2\n1,0,3\n1,1,4\n0,1,5\n"), "--method", "tobest"],
        "duplicate joint action",
    ),
    "missing file": (lambda d: ["--payoff", str(d / "nope.csv"), "--method", "tobest"], "not found"),
    "unknown game": (lambda d: ["--game", "table99", "--method", "tobest"], "unknown game"),
    "unknown method": (lambda d: ["--game", "table5", "--method", "nope"], "nope"),
    "epsilon high": (lambda d: ["--game", "table5", "--method", "tobest", "--epsilon", "1.5"], "epsilon"),
    "epsilon low": (lambda d: ["--game", "table5", "--method", "tobest", "--epsilon", "-0.1"], "epsilon"),
    "epsilon nan": (lambda d: ["--game", "table5", "--method", "tobest", "--epsilon", "nan"], "epsilon"),
    "alpha zero": (lambda d: ["--game", "table5", "--method", "wqmix", "--alpha", "0"], "alpha"),
    "alpha high": (lambda d: ["--game", "table5", "--method", "wqmix", "--alpha", "1.5"], "alpha"),
    "option not for method": (lambda d: ["--game", "table5", "--method", "tobest", "--alpha", "0.5"], "--alpha does not apply"),
    "too many orderings": (
        lambda d: ["--game", "table5", "--method", "qmix", "--solver", "cvxpy", "--max-orderings", "2"],
        "--max-orderings",
    ),
    "orderings over the default limit": (
        lambda d: ["--game", "risk-reward:agents=3,actions=5,seed=0", "--method", "qmix", "--solver", "cvxpy"],
        "1,728,000 QPs",
    ),
    "unknown solver": (lambda d: ["--game", "table5", "--method", "qmix", "--solver", "nope"], "unknown solver"),
    "max-orderings without cvxpy": (
        lambda d: ["--game", "table5", "--method", "qmix", "--solver", "nomax", "--max-orderings", "5"],
        "--max-orderings does not apply to solver 'nomax'",
    ),
    "out directory missing": (lambda d: ["--game", "table5", "--method", "tobest", "--out", str(d / "no" / "r.json")], "does not exist"),
    "graph suffix": (lambda d: ["--game", "table5", "--method", "tobest", "--figure", str(d / "g.txt")], "--figure"),
    "sweep grid": (lambda d: ["--game", "table5", "--method", "tobest", "--sweep", "0:1"], "--sweep grid"),
    "sweep uniform": (
        lambda d: ["--game", "table5", "--method", "tobest", "--sweep", "0:1:3", "--visitation", "uniform"],
        "uniform",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_exit_2(tmp_path, case):
    build, match = BAD[case]
    res = run(*build(tmp_path))
    assert res.exit_code == 2, (case, res.output)
    assert isinstance(res.exception, SystemExit)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.stderr
    assert match.lower() in lines[0].lower()
    assert res.stdout == ""


@pytest.mark.parametrize(
    "args, match",
    [
        ([], "exactly one of --payoff FILE or --game NAME"),
        (["--game", "table5", "--payoff", "x.csv"], "exactly one of --payoff FILE or --game NAME"),
        (["--game", "table5", "--sweep", "0:1:3", "--epsilon", "0.5"], "exclusive"),
        (["--game", "table5", "--epsilon", "abc"], "not a valid float"),
        (["--game", "table5", "--format", "html"], "html"),
    ],
)
def test_usage_errors_exit_2(args, match):
    res = run("--method", "tobest", *args)
    assert res.exit_code == 2
    assert isinstance(res.exception, SystemExit)
    assert match in res.stderr
    assert "Traceback" not in res.output


def _cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-c", "from stablepoint.cli import main; main()", "check", *args],
        capture_output=True, text=True, cwd=cwd, timeout=120,
    )


def test_real_subprocess_has_no_traceback(tmp_path):
    cases = [
        (["--payoff", _csv(tmp_path, "1,2,3\n4,5\n"), "--method", "vdn"], "ragged"),
        (["--payoff", _csv(tmp_path, "a1,a2,value\n0,0,1\n0,1,2\n1,0,3\n1,1,4\n1,1,5\n", "d.csv"), "--method", "vdn"], "duplicate"),
        (["--game", "table5", "--method", "vdn", "--epsilon", "2"], "epsilon"),
        (["--game", "nope", "--method", "vdn"], "unknown game"),
    ]
    for args, match in cases:
        proc = _cli(*args, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: ") and match in lines[0], proc.stderr


# --------------------------------------------------------------------------- real methods, end to end


def test_quick_start_command_wqmix_table5():
    res = run("--game", "table5", "--method", "wqmix", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["method"] == "wqmix" and doc["settings"]["alpha"] == 0.1 and doc["settings"]["tie_rule"] == "strict"
    assert len(doc["transitions"]) == 9
    # The optimum (1, 1) is strongly stable under WQMIX (its weight is 1 wherever it matters).
    assert {"action": [0, 0], "kind": "strong"} in doc["stable"]
    assert [[0, 0]] in doc["attractors"]


def test_mrvf_report_includes_the_round_trace(tmp_path):
    out = tmp_path / "mrvf.json"
    res = run("--game", "table5", "--method", "mrvf", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "Round trace (every branch; 1-based):" in res.stdout
    assert "round 2 from (3, 3): " in res.stdout and "round 3 from (1, 1): " in res.stdout
    assert "final actions: (1, 1)" in res.stdout
    doc = json.loads(out.read_text())
    rounds = doc["rounds"]["rounds"]
    # MRVF Table 2: round 1 -> (3, 3); round 2's target is 3 at (1, 1), 0 elsewhere; round 3 is all zeros.
    assert [r["outcome"] for r in rounds] == [[[2, 2]], [[0, 0]], [[0, 0]]]
    assert rounds[1]["target"] == [[3.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    assert rounds[2]["terminates"] is True and doc["rounds"]["finals"] == [[0, 0]]


def test_console_script_runs_and_refuses_bad_input(tmp_path):
    import shutil

    exe = shutil.which("stablepoint") or str(__import__("pathlib").Path(sys.executable).with_name("stablepoint"))
    ok = subprocess.run([exe, "check", "--game", "table4a", "--method", "vdn", "--format", "json"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["stable"] == [{"action": [0, 0], "kind": "strong"}]
    bad = subprocess.run([exe, "check", "--game", "table5", "--method", "wqmix", "--alpha", "0"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == ["Error: alpha must be in (0, 1], got 0.0"]


def test_time_limit_reaches_the_bnb_solver_and_is_refused_by_cvxpy():
    import json

    ok = run("--game", "table5", "--method", "qmix", "--solver", "bnb", "--time-limit", "30", "--format", "json")
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.output)
    assert data["settings"]["solver_options"] == {"time_limit": 30.0}
    assert data["certified"] is True
    bad = run("--game", "table5", "--method", "qmix", "--solver", "cvxpy", "--time-limit", "1")
    assert bad.exit_code == 2 and "--time-limit does not apply to solver 'cvxpy'" in bad.output
    neg = run("--game", "table5", "--method", "qmix", "--time-limit", "0")
    assert neg.exit_code == 2
