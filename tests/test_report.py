"""Renderers: JSON schema, text/markdown content, DOT edges, figures, sweeps."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from stablepoint.errors import SettingsError
from stablepoint.methods.base import FitResult
from stablepoint.payoff import Payoff
from stablepoint.report import (
    FORMATS,
    SCHEMA_VERSION,
    jsonable,
    partial_to_dict,
    render,
    render_dot,
    render_markdown,
    render_sweep,
    render_text,
    result_to_dict,
    sweep_to_dict,
    write_graph,
)
from stablepoint.stability import analyze, sweep_epsilon

TABLE = {
    (0, 0): [(0, 0)],
    (0, 1): [(0, 0), (2, 2)],
    (0, 2): [(2, 2)],
    (1, 0): [(1, 0), (0, 0)],
    (1, 1): [(1, 2)],
    (1, 2): [(1, 1)],
    (2, 0): [(2, 2)],
    (2, 1): [(2, 2)],
    (2, 2): [(2, 2)],
}


class TableMethod:
    name = "table"

    def __init__(self, table=TABLE, epsilon=1.0):
        self.table = table
        self.epsilon = epsilon

    def fit(self, payoff, u):
        loss = float(payoff[u]) / 9 + self.epsilon
        return FitResult(self.name, tuple(u), loss, frozenset(self.table[tuple(u)]), (),
                         greedy_losses={v: loss for v in self.table[tuple(u)]})

    def settings(self):
        return {"epsilon": self.epsilon, "visitation": "uniform"}


@pytest.fixture(scope="module")
def result():
    payoff = Payoff([[8, -12, -12], [-12, 3, 0], [-12, 0, 5]], name="table5")
    return analyze(payoff, TableMethod())


def test_json_schema_and_contents(result):
    doc = json.loads(render(result, "json"))
    for key in ("schema_version", "method", "settings", "shape", "optimal", "transitions", "stable", "attractors",
                "basins", "optimum", "complete", "payoff", "certified"):
        assert key in doc
    assert doc["schema_version"] == SCHEMA_VERSION and doc["complete"] is True
    assert doc["method"] == "table" and doc["shape"] == [3, 3]
    assert doc["settings"] == {"epsilon": 1.0, "visitation": "uniform"}
    assert doc["optimal"] == [[0, 0]]
    assert doc["payoff"]["values"][2][2] == 5.0
    # One transition per u~, 0-based int lists, C order, greedy sorted.
    assert [t["u_tilde"] for t in doc["transitions"]] == [[i, j] for i in range(3) for j in range(3)]
    by_u = {tuple(t["u_tilde"]): t for t in doc["transitions"]}
    for u, vs in TABLE.items():
        assert by_u[u]["greedy"] == sorted([list(v) for v in vs])
        assert by_u[u]["loss"] == pytest.approx(result.transitions[u].loss)
    assert by_u[(0, 1)]["stable"] is None and by_u[(1, 0)]["stable"] == "weak"
    assert by_u[(0, 0)]["greedy_losses"] == [{"action": [0, 0], "loss": pytest.approx(8 / 9 + 1)}]
    assert doc["stable"] == [
        {"action": [0, 0], "kind": "strong"},
        {"action": [1, 0], "kind": "weak"},
        {"action": [2, 2], "kind": "strong"},
    ]
    assert doc["attractors"] == [[[0, 0]], [[1, 1], [1, 2]], [[2, 2]]]
    kinds = [b["kind"] for b in doc["basins"]]
    assert kinds == ["point", "cycle", "point"]
    assert doc["basins"][0]["some_path"] == [[0, 0], [0, 1], [1, 0]]
    assert doc["basins"][0]["every_path"] == [[0, 0], [1, 0]]
    assert doc["optimum"]["stable"] is True and doc["optimum"]["reachable_from_every"] is False
    assert doc["optimum"]["guaranteed_from"] == [[0, 0], [1, 0]]
    for entry in doc["stable"]:
        assert all(isinstance(a, int) for a in entry["action"])


def test_partial_document_holds_what_is_done(result):
    fits = dict(list(result.transitions.items())[:4])
    doc = partial_to_dict(result.payoff, "table", {"epsilon": 1.0}, fits)
    assert doc["complete"] is False and doc["done"] == 4 and doc["total"] == 9
    assert [t["u_tilde"] for t in doc["transitions"]] == [[0, 0], [0, 1], [0, 2], [1, 0]]
    assert doc["stable"] == [{"action": [0, 0], "kind": "strong"}, {"action": [1, 0], "kind": "weak"}]
    json.dumps(doc)


def test_text_mirrors_the_papers(result):
    text = render_text(result)
    assert "payoff table5 [3x3], method table" in text
    # Payoff matrix, 1-based table rows, kinds.
    assert "   8  -12  -12" in text
    assert re.search(r"^\s+\(1, 2\)\s+-12\s+\S+\s+\(1, 1\), \(3, 3\)$", text, re.M)
    assert re.search(r"^\s+\(2, 1\)\s+-12\s+\S+\s+weak\s+\(1, 1\), \(2, 1\)$", text, re.M)
    stable = text.split("Stable points (3):")[1].split("Attractors")[0]
    assert "(1, 1)  strong" in stable and "(2, 1)  weak" in stable and "(3, 3)  strong" in stable
    assert "A2 [cycle]: {(2, 2), (2, 3)}" in text
    assert "basin, every path (2 of 9): (1, 1), (2, 1)" in text
    assert "reachable by some path from 3 of 9 u~" in text
    assert "(0, 0)" not in text  # nothing printed 0-based


def test_markdown_tables(result):
    md = render_markdown(result)
    assert md.startswith("## Stability of table on table5")
    rows = [line for line in md.splitlines() if line.startswith("| (")]
    assert len(rows) == 9
    assert "| 2 | cycle | (2, 2), (2, 3) |" in md


def test_dot_edges_match_the_graph(result):
    dot = render_dot(result)
    edges = set(re.findall(r"u(\d+)_(\d+) -> u(\d+)_(\d+);", dot))
    parsed = {((int(a) - 1, int(b) - 1), (int(c) - 1, int(d) - 1)) for a, b, c, d in edges}
    assert parsed == set(result.graph.edges)
    assert 'u1_1 [label="(1, 1)\\n8", fillcolor="#8fd18f", peripheries=2];' in dot
    assert dot.strip().endswith("}")


def test_graph_files(tmp_path, result):
    png = write_graph(result, tmp_path / "g.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = write_graph(result, tmp_path / "g.svg")
    assert "<svg" in svg.read_text()
    assert write_graph(result, tmp_path / "g.dot").read_text() == render_dot(result)
    with pytest.raises(SettingsError, match="must end in"):
        write_graph(result, tmp_path / "g.txt")


def test_three_agent_graph_layout(tmp_path):
    payoff = Payoff(np.arange(8.0).reshape(2, 2, 2))
    table = {u: [(1, 1, 1)] for u in np.ndindex(2, 2, 2)}
    res = analyze(payoff, TableMethod(table))
    assert write_graph(res, tmp_path / "g.png").stat().st_size > 1000
    assert "(2, 2, 2)  strong" in render_text(res)


def test_jsonable_and_unknown_format(result):
    assert jsonable({"x": float("nan"), "y": np.float64(1.5), "z": (np.int64(2),)}) == {"x": None, "y": 1.5, "z": [2]}
    sets = frozenset({frozenset({(1, 0), (0, 1)}), frozenset({(0, 0)})})
    assert jsonable(sets) == [[[0, 0]], [[0, 1], [1, 0]]]
    with pytest.raises(SettingsError, match="choose one of: text, json, markdown"):
        render(result, "html")
    assert set(FORMATS) == {"text", "json", "markdown"}


def test_rounds_are_rendered_when_given(result):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Trace:
        targets: tuple
        stop: tuple

    trace = Trace(targets=(np.zeros((2, 2)),), stop=(0, 0))
    doc = result_to_dict(result, rounds=trace)
    assert doc["rounds"] == {"targets": [[[0.0, 0.0], [0.0, 0.0]]], "stop": [0, 0]}
    assert "Round trace" in render_text(result, rounds=trace)


def test_sweep_renderers():
    payoff = Payoff([[8, -12, -12], [-12, 3, 0], [-12, 0, 5]], name="table5")

    class Switch(TableMethod):
        def fit(self, payoff, u):
            table = dict(TABLE)
            if self.epsilon > 0.45:
                table[(2, 2)] = [(0, 0)]
            self.table = table
            return super().fit(payoff, u)

    sw = sweep_epsilon(payoff, lambda e: Switch(epsilon=e), [0.0, 1.0], tol=0.01)
    doc = sweep_to_dict(sw)
    assert doc["kind"] == "sweep" and doc["schema_version"] == SCHEMA_VERSION
    assert [g["epsilon"] for g in doc["grid"]] == [0.0, 1.0]
    assert doc["critical"] == [
        {"action": [2, 2], "lo": pytest.approx(0.4453125), "hi": pytest.approx(0.453125), "before": "strong", "after": None}
    ]
    text = render_sweep(sw, "text")
    assert "(3, 3)" in text and "not stable" in text
    assert json.loads(render_sweep(sw, "json")) == json.loads(json.dumps(doc))
    assert "| epsilon | stable points |" in render_sweep(sw, "markdown")
