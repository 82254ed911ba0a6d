"""Transition-graph figures: legend, a title naming the method and its settings, panels for 3+ agents."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from stablepoint.catalog import get_game  # noqa: E402
from stablepoint.errors import SettingsError  # noqa: E402
from stablepoint.methods import get_method  # noqa: E402
from stablepoint.methods.base import FitResult  # noqa: E402
from stablepoint.payoff import Payoff  # noqa: E402
from stablepoint.report import draw_graph, format_action, graph_title, render_dot, write_graph  # noqa: E402
from stablepoint.stability import analyze  # noqa: E402


class _Table:
    """A method given by its greedy sets (fast; the graph is whatever the table says)."""

    name = "table"

    def __init__(self, table, **settings):
        self.table, self._settings = table, settings

    def fit(self, payoff, u):
        greedy = self.table[tuple(u)]
        return FitResult(self.name, tuple(u), 0.0, frozenset(greedy), (), greedy_losses={v: 0.0 for v in greedy})

    def settings(self):
        return dict(self._settings)


def _legend_texts(fig):
    assert len(fig.legends) == 1
    return [t.get_text() for t in fig.legends[0].get_texts()]


@pytest.fixture(scope="module")
def figure2():
    """MRVF Figure 2's two WQMIX graphs (Table 5 payoff, alpha 0.1, uniform visitation), greedy sets only."""
    return {rule: analyze(get_game("table5"), get_method("wqmix", alpha=0.1, epsilon=1.0, visitation="uniform",
                                                          tie_rule=rule, losses="greedy"))
            for rule in ("strict", "inclusive")}


def test_two_agent_figure_has_a_legend_and_a_title_with_the_settings(figure2):
    titles = {}
    for rule, res in figure2.items():
        fig = draw_graph(res)
        legend = _legend_texts(fig)
        assert {"strongly stable", "weakly stable", "optimal joint action u*"} <= set(legend)
        title = fig._suptitle.get_text().replace("\n", " ")
        assert title == graph_title(res).replace("\n", " ") or title.split() == graph_title(res).split()
        for word in ("WQMIX", "table5", "alpha=0.1", "epsilon=1", "visitation=uniform", f"{rule} greedy set"):
            assert word in title, (word, title)
        assert "solver" not in title and "losses" not in title
        titles[rule] = title
        # the matrix layout: one node per joint action
        (ax,) = fig.axes
        assert len(ax.collections[0].get_offsets()) == 9
        # one arrow per transition to another joint action (self-loops are the colours)
        assert len(ax.patches) == sum(u != v for u, v in res.graph.edges) > 0
    # the strict and inclusive graphs differ (Figure 2), and so do their titles
    assert set(figure2["strict"].graph.edges) != set(figure2["inclusive"].graph.edges)
    assert titles["strict"] != titles["inclusive"]


def test_the_legend_colours_are_the_node_colours(figure2):
    res = figure2["strict"]
    fig = draw_graph(res)
    handles = {h.get_label(): h for h in fig.legends[0].legend_handles}
    strong = matplotlib.colors.to_rgba(handles["strongly stable"].get_markerfacecolor())
    nodes = fig.axes[0].collections[0]
    faces = nodes.get_facecolors()
    order = list(res.graph.nodes)
    for u in order:
        is_strong = res.kind(u) == "strong"
        assert (tuple(faces[order.index(u)]) == strong) == is_strong, u
    widths = nodes.get_linewidths()
    assert [w > 1 for w in widths] == [u in res.optimal for u in order]


def test_three_agent_figure_has_one_panel_per_first_agent_action():
    shape = (3, 2, 2)
    payoff = Payoff(np.arange(12.0).reshape(shape), name="cube")
    # every u~ goes to (1, 1, 1) but the ones of agent 1 = 3, which go to (3, 2, 2)
    table = {u: [(2, 1, 1)] if u[0] == 2 else [(0, 0, 0)] for u in np.ndindex(*shape)}
    res = analyze(payoff, _Table(table, epsilon=0.5))
    fig = draw_graph(res)
    assert [ax.get_title() for ax in fig.axes] == ["agent 1 plays 1", "agent 1 plays 2", "agent 1 plays 3"]
    for k, ax in enumerate(fig.axes):
        labels = {t.get_text().split("\n")[0] for t in ax.texts if t.get_gid() != "away"}
        assert labels == {format_action(u) for u in np.ndindex(*shape) if u[0] == k}
        away = [t.get_text() for t in ax.texts if t.get_gid() == "away"]
        # agent 1 = 2 goes to (1, 1, 1), in panel 1; panels 1 and 3 point inside themselves
        assert away == (["\u2192 (1, 1, 1)"] * 4 if k == 1 else [])
        inside = sum(u != v and u[0] == v[0] == k for u, v in res.graph.edges)
        assert len(ax.patches) == inside == (3 if k != 1 else 0)
    assert {"strongly stable", "weakly stable", "optimal joint action u*"} <= set(_legend_texts(fig))
    assert "TABLE on cube: epsilon=0.5" in fig._suptitle.get_text()
    with pytest.raises(SettingsError, match="panels"):
        draw_graph(res, ax=fig.axes[0])


def test_dot_names_the_settings_and_clusters_three_agent_games(figure2, tmp_path):
    dot = render_dot(figure2["inclusive"])
    assert re.search(r'^  label="WQMIX on table5: alpha=0.1.*inclusive greedy set', dot, re.M)
    assert "subgraph cluster_legend" in dot and 'label="strongly stable"' in dot and 'label="weakly stable"' in dot
    assert "cluster_a1_" not in dot
    payoff = Payoff(np.arange(8.0).reshape(2, 2, 2))
    res = analyze(payoff, _Table({u: [(1, 1, 1)] for u in np.ndindex(2, 2, 2)}))
    dot = render_dot(res)
    assert dot.count("subgraph cluster_a1_") == 2
    cluster = dot.split("subgraph cluster_a1_2 {")[1].split("}")[0]
    assert set(re.findall(r"(u\d_\d_\d) \[", cluster)) == {"u2_1_1", "u2_1_2", "u2_2_1", "u2_2_2"}
    assert write_graph(res, tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
