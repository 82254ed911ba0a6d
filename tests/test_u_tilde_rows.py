"""Targeted rows of the transition graph: ``analyze(..., u_tildes=...)`` and ``stablepoint check --u-tilde``.

A row u~ -> ubar(u~) depends only on ``method.fit(payoff, u~)``, so every
targeted row must equal the same row of the full analysis, while everything
that needs the whole graph (attractors, basins, reachability) is left out.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from stablepoint import report
from stablepoint.catalog import get_game
from stablepoint.cli import main
from stablepoint.errors import SettingsError
from stablepoint.methods import get_method
from stablepoint.methods.base import FitResult
from stablepoint.payoff import Payoff
from stablepoint.stability import analyze

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

GAMES = ["table5", "risk-reward:agents=3,actions=3,seed=0"]
METHODS = ["vdn", "qmix", "wqmix", "resq", "mrvf"]
#: epsilon < 1 makes the visitation (so every row's fit) depend on u~.
EPSILON = 0.2


def _method(name):
    return get_method(name, epsilon=EPSILON)


@pytest.fixture(scope="module")
def full():
    """The full analysis of every (game, method) pair, computed once."""
    return {(g, m): analyze(get_game(g), _method(m)) for g in GAMES for m in METHODS}


def _targets(res):
    """A mix of rows: an optimum, every stable point, and two rows that are neither, in scrambled order."""
    payoff = res.payoff
    picks = [res.optimal[0], *res.kinds]
    others = [u for u in payoff.joint_actions() if u not in picks]
    picks += [others[0], others[-1]]
    picks = list(dict.fromkeys(picks))
    return picks[::-1]


def _assert_same_row(part_fit: FitResult, full_fit: FitResult):
    assert part_fit.u_tilde == full_fit.u_tilde
    assert part_fit.greedy_set == full_fit.greedy_set
    assert part_fit.certified == full_fit.certified
    assert part_fit.loss == pytest.approx(full_fit.loss, rel=1e-9, abs=1e-9)
    if full_fit.greedy_losses is None:
        assert part_fit.greedy_losses is None
    else:
        assert part_fit.greedy_losses.keys() == full_fit.greedy_losses.keys()
        for v, loss in full_fit.greedy_losses.items():
            assert part_fit.greedy_losses[v] == pytest.approx(loss, rel=1e-9, abs=1e-9)


# --------------------------------------------------------------------------- library


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("game", GAMES)
def test_targeted_rows_equal_the_full_analysis(full, game, method):
    ref = full[(game, method)]
    rows = _targets(ref)
    part = analyze(get_game(game), _method(method), u_tildes=rows)  # a fresh method: no cache shared with ref
    assert part.partial is True and ref.partial is False
    assert part.rows == tuple(sorted(rows)) == tuple(part.transitions)  # C order
    for u in rows:
        _assert_same_row(part.transitions[u], ref.transitions[u])
        assert part.kind(u) == ref.kind(u)
        assert part.greedy_set(u) == ref.greedy_set(u)
    assert dict(part.kinds) == {u: k for u, k in ref.kinds.items() if u in rows}
    assert part.certified == all(ref.transitions[u].certified for u in rows)
    assert part.method == ref.method and dict(part.settings) == dict(ref.settings)
    assert part.optimal == ref.optimal
    # Edges only out of the computed rows, exactly theirs.
    assert sorted(part.graph.edges) == sorted((u, v) for u, v in ref.graph.edges if u in rows)
    # Whole-graph quantities are left out; the optimum's stability is decided by its computed row.
    assert part.attractors is None and part.basins_some is None and part.basins_all is None
    assert part.optimum_reachable_from is None
    assert part.optimum_reachable_from_every is None
    assert part.optimum_guaranteed_from is None
    if all(u in rows for u in ref.optimal):
        assert part.optimum_stable == ref.optimum_stable
    with pytest.raises(ValueError, match="partial"):
        part.attractor_kind(0)


def test_weak_rows_are_kept_weak(full):
    # MRVF on Table 5 (epsilon 0.2) has weakly stable rows: targeted, they stay weak.
    ref = full[("table5", "mrvf")]
    weak = [u for u, k in ref.kinds.items() if k == "weak"]
    assert weak, "the fixture should have a weakly stable row"
    part = analyze(get_game("table5"), _method("mrvf"), u_tildes=weak[:2])
    assert [part.kind(u) for u in weak[:2]] == ["weak", "weak"]


def test_optimum_stable_is_none_unless_the_rows_decide_it(full):
    ref = full[("table5", "qmix")]  # (1, 1) is strongly stable there
    assert ref.kind((0, 0)) == "strong"
    p = get_game("table5")
    assert analyze(p, _method("qmix"), u_tildes=[(1, 2)]).optimum_stable is None
    assert analyze(p, _method("qmix"), u_tildes=[(0, 0), (1, 2)]).optimum_stable is True
    # Uniform VDN does not make (1, 1) stable: the computed optimal row decides False.
    uniform = get_method("vdn", epsilon=1.0)
    assert analyze(p, uniform, u_tildes=[(0, 0)]).optimum_stable is False
    assert analyze(p, uniform).optimum_stable is False


def test_every_row_given_is_the_full_analysis(full):
    ref = full[("table5", "wqmix")]
    rows = list(get_game("table5").joint_actions())[::-1]
    res = analyze(get_game("table5"), _method("wqmix"), u_tildes=rows)
    assert res.partial is False
    assert res.attractors == ref.attractors and res.basins_all == ref.basins_all
    assert res.optimum_guaranteed_from == ref.optimum_guaranteed_from
    assert tuple(res.transitions) == tuple(ref.transitions)


def test_numpy_rows_and_progress_total():
    calls = []
    res = analyze(get_game("table5"), _method("vdn"), u_tildes=np.array([[2, 2], [0, 1]]),
                  progress=lambda d, t, f: calls.append((d, t, f.u_tilde)))
    assert calls == [(1, 2, (0, 1)), (2, 2, (2, 2))]
    assert res.rows == ((0, 1), (2, 2))


def test_full_behaviour_unchanged_without_u_tildes(full):
    ref = full[("table5", "qmix")]
    assert ref.partial is False and len(ref.rows) == 9
    assert ref.optimum_reachable_from is not None and ref.attractors is not None


class Counting:
    name = "counting"

    def __init__(self):
        self.fits = 0

    def fit(self, payoff, u):
        self.fits += 1
        return FitResult(self.name, tuple(u), 0.0, frozenset({tuple(u)}), ())


BAD_ROWS = [
    ([], "empty"),
    ((0, 1), "not a joint action"),  # a single joint action not wrapped in a list
    ("0,1", "string"),
    (5, "sequence of joint actions"),
    ([(0, 1, 2)], "has 3 entries; the payoff has 2 agents"),
    ([(0,)], "has 1 entries"),
    ([(0, 3)], "action 3 of agent 2 is out of range 0..2"),
    ([(-1, 0)], "action -1 of agent 1 is out of range"),
    ([(0, 1.5)], "not an integer"),
    ([(0, 1.0)], "not an integer"),
    ([(0, "1")], "not an integer"),
    ([(True, 0)], "not an integer"),
    ([(0, 1), (2, 2), (0, 1)], "lists (0, 1) twice (positions 0 and 2)"),
    (np.zeros((1, 2, 2), dtype=int), "not a joint action"),
]


@pytest.mark.parametrize("rows, match", BAD_ROWS, ids=[str(i) for i in range(len(BAD_ROWS))])
def test_bad_u_tildes_raise_settings_error_before_any_fit(rows, match):
    method = Counting()
    with pytest.raises(SettingsError, match=None) as err:
        analyze(Payoff([[1, 0, 0], [0, 2, 0], [0, 0, 3]]), method, u_tildes=rows)
    assert match in str(err.value)
    assert method.fits == 0


# --------------------------------------------------------------------------- reports


def test_partial_json_text_markdown(full):
    ref = full[("table5", "qmix")]
    part = analyze(get_game("table5"), _method("qmix"), u_tildes=[(1, 2), (0, 0)])
    doc = report.result_to_dict(part)
    assert doc["partial"] is True and doc["complete"] is True
    assert doc["rows"] == [[0, 0], [1, 2]]
    assert doc["attractors"] is None and doc["basins"] is None
    assert doc["optimum"]["reachable_from"] is None and doc["optimum"]["guaranteed_from"] is None
    assert doc["optimum"]["stable"] is True
    assert doc["optimum"]["kinds"] == [{"action": [0, 0], "kind": "strong"}]
    full_doc = report.result_to_dict(ref)
    assert full_doc["partial"] is False and full_doc["rows"] is None
    by_u = {tuple(t["u_tilde"]): t for t in full_doc["transitions"]}
    assert doc["transitions"] == [by_u[(0, 0)], by_u[(1, 2)]]
    assert doc["stable"] == [{"action": [0, 0], "kind": "strong"}]
    json.dumps(doc)  # JSON-able

    text = report.render_text(part)
    assert "transition graph: partial, 2 of 9 rows u~ computed" in text
    assert "Stable points among the 2 computed rows (1):" in text
    assert "Attractors and basins: not computed" in text
    assert "Attractors (" not in text and "basin, some path" not in text
    table = text.split("Transitions")[1].split("Stable points")[0]
    assert "(1, 1)" in table and "(2, 3)" in table and "(2, 2)  " not in table
    md = report.render_markdown(part)
    assert "**Partial:**" in md and "| attractor |" not in md
    dot = report.render_dot(part)
    assert "u1_1 -> u1_1;" in dot and "dashed" in dot  # (2, 3)'s target (3, 3) was not computed


def test_partial_to_dict_of_a_targeted_run():
    p = get_game("table5")
    fit = _method("vdn").fit(p, (0, 0))
    doc = report.partial_to_dict(p, "vdn", {}, {(0, 0): fit}, rows=[(0, 0), (2, 2)])
    assert doc["complete"] is False and doc["partial"] is True
    assert doc["done"] == 1 and doc["total"] == 2 and doc["rows"] == [[0, 0], [2, 2]]
    plain = report.partial_to_dict(p, "vdn", {}, {(0, 0): fit})
    assert plain["partial"] is False and plain["total"] == 9 and plain["rows"] is None


# --------------------------------------------------------------------------- CLI


def run(*args):
    return CliRunner().invoke(main, ["check", *args])


RR = "risk-reward:agents=3,actions=3,seed=0"


def test_cli_json_rows_match_the_full_run(tmp_path):
    out = tmp_path / "rows.json"
    res = run("--game", RR, "--method", "wqmix", "--epsilon", "0.2", "--u-tilde", "3,2,1",
              "--u-tilde", "1, 1, 1", "--format", "json", "--out", str(out))
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["partial"] is True and doc["complete"] is True and doc["n_joint"] == 27
    assert doc["rows"] == [[0, 0, 0], [2, 1, 0]]
    assert [t["u_tilde"] for t in doc["transitions"]] == [[0, 0, 0], [2, 1, 0]]
    assert doc["attractors"] is None and doc["basins"] is None
    assert json.loads(out.read_text()) == doc
    whole = json.loads(run("--game", RR, "--method", "wqmix", "--epsilon", "0.2", "--format", "json").stdout)
    assert whole["partial"] is False and whole["rows"] is None
    by_u = {tuple(t["u_tilde"]): t for t in whole["transitions"]}
    assert doc["transitions"] == [by_u[(0, 0, 0)], by_u[(2, 1, 0)]]
    assert doc["stable"] == [s for s in whole["stable"] if tuple(s["action"]) in {(0, 0, 0), (2, 1, 0)}]


def test_cli_text_and_markdown_say_partial():
    res = run("--game", "table5", "--method", "qmix", "--u-tilde", "2,3", "--u-tilde", "1,1")
    assert res.exit_code == 0, res.output
    assert "transition graph: partial, 2 of 9 rows u~ computed" in res.stdout
    rows = [line.split()[0:2] for line in res.stdout.split("L_tot = optimal loss given u~):")[1]
            .split("Stable points")[0].strip().splitlines()[1:]]
    assert rows == [["(1,", "1)"], ["(2,", "3)"]]
    assert "Attractors and basins: not computed" in res.stdout
    md = run("--game", "table5", "--method", "qmix", "--u-tilde", "1,1", "--format", "markdown")
    assert md.exit_code == 0 and "**Partial:** transition graph: partial, 1 of 9 rows" in md.stdout


def test_cli_mrvf_rows_leave_out_the_round_trace():
    res = run("--game", "table5", "--method", "mrvf", "--u-tilde", "3,3", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["partial"] is True and "rounds" not in doc
    assert doc["transitions"][0]["greedy"] == [[0, 0]]  # MRVF Table 2: from (3, 3) round 2 reaches (1, 1)


@pytest.mark.parametrize(
    "value, match",
    [
        ("1,2,3", "--u-tilde '1,2,3' has 3 actions; the payoff has 2 agents"),
        ("1", "has 1 actions"),
        ("0,1", "action 0 of agent 1 is out of range 1..3 (1-based)"),
        ("1,4", "action 4 of agent 2 is out of range 1..3"),
        ("1,x", "'x' is not an integer"),
        ("1.5,1", "'1.5' is not an integer"),
        ("", "is not an integer"),
    ],
)
def test_cli_bad_u_tilde_is_one_line_exit_2(value, match):
    res = run("--game", "table5", "--method", "qmix", "--u-tilde", value)
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and match in lines[0], res.stderr
    assert res.stdout == "" and "Traceback" not in res.output


def test_cli_duplicate_and_exclusive_options_exit_2(tmp_path):
    dup = run("--game", "table5", "--method", "qmix", "--u-tilde", "1,2", "--u-tilde", "1, 2")
    assert dup.exit_code == 2 and dup.stderr.strip().splitlines() == ["Error: --u-tilde '1, 2' is given twice"]
    sweep = run("--game", "table5", "--method", "qmix", "--u-tilde", "1,2", "--sweep", "0:1:3")
    assert sweep.exit_code == 2 and "leave it out with --sweep" in sweep.stderr
    graph = run("--game", "table5", "--method", "qmix", "--u-tilde", "1,2", "--graph", str(tmp_path / "g.dot"))
    assert graph.exit_code == 2 and "--graph" in graph.stderr and not (tmp_path / "g.dot").exists()
