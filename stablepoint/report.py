"""Renderers for stability analyses: text, JSON, markdown, Graphviz DOT, and a graph figure.

Every renderer is a pure function of a :class:`~stablepoint.stability.StabilityResult`
(or :class:`~stablepoint.stability.SweepResult`) that returns a string; only
:func:`write_graph` touches the file system.  Joint actions are 0-based lists
of ints in JSON and printed 1-based, "(row, col)", everywhere else, as in the
papers.

JSON schema (``schema_version`` 1) of :func:`result_to_dict`; keys are never
removed or renamed without bumping the version:

``schema_version`` (int), ``kind`` ("stability"), ``complete`` (bool, false in
partial files written during a run), ``payoff`` (``name``, ``shape``,
``labels``, ``values`` nested lists), ``method`` (str), ``settings`` (object),
``shape`` (list of int), ``optimal`` (list of joint actions), ``transitions``
(one object per u~ in C order: ``u_tilde``, ``greedy`` (sorted list of joint
actions), ``loss`` (float or null), ``stable`` ("strong", "weak" or null),
``certified`` (bool), ``greedy_losses`` (null or a list of ``{"action",
"loss"}``)), ``stable`` (list of ``{"action", "kind"}``), ``attractors`` (list
of lists of joint actions), ``basins`` (one per attractor: ``attractor``,
``kind`` ("point" or "cycle"), ``some_path`` and ``every_path`` (lists of
u~)), ``optimum`` (``actions``, ``stable``, ``kinds``, ``reachable_from``,
``reachable_from_every``, ``guaranteed_from``), ``certified`` (bool),
``n_joint`` (int), ``partial`` (bool) and ``rows``, and for methods with a
round trace (MRVF) ``rounds``.

``partial`` is true when only some rows u~ were computed
(``analyze(..., u_tildes=...)``): then ``rows`` lists them (C order),
``transitions`` and ``stable`` hold those rows only, ``attractors`` and
``basins`` are null, and in ``optimum`` the keys that need the whole graph
(``reachable_from``, ``reachable_from_every``, ``guaranteed_from``) are null,
``stable`` is null unless the computed rows decide it and ``kinds`` lists the
computed optimal rows only.  ``rows`` is null when ``partial`` is false.

>>> format_action((0, 2))
'(1, 3)'
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from stablepoint.errors import SettingsError
from stablepoint.stability import StabilityResult, SweepResult

__all__ = [
    "SCHEMA_VERSION",
    "FORMATS",
    "GRAPH_SUFFIXES",
    "format_action",
    "result_to_dict",
    "partial_to_dict",
    "payoff_to_dict",
    "partial_sweep_to_dict",
    "sweep_to_dict",
    "render",
    "render_text",
    "render_json",
    "render_markdown",
    "render_dot",
    "render_sweep",
    "render_sweep_text",
    "render_sweep_markdown",
    "render_sweep_json",
    "draw_graph",
    "write_graph",
    "jsonable",
]

#: Bumped whenever a JSON key is removed or changes meaning (additions keep it).
SCHEMA_VERSION = 1

#: Text and markdown list at most this many joint actions per basin / greedy set (JSON lists all).
LIST_LIMIT = 30

#: Graph files :func:`write_graph` can produce, by suffix.
GRAPH_SUFFIXES = (".dot", ".png", ".svg", ".pdf")


# --------------------------------------------------------------------------- small helpers


def format_action(u) -> str:
    """A joint action printed 1-based, as in the papers.

    >>> format_action([2, 0, 1])
    '(3, 1, 2)'
    """
    return "(" + ", ".join(str(int(a) + 1) for a in u) + ")"


def _fmt(x, digits: int = 6) -> str:
    if x is None:
        return "-"
    x = float(x)
    if math.isnan(x):
        return "nan"
    if abs(x - round(x)) < 1e-9 * max(1.0, abs(x)):
        return str(int(round(x)))
    return f"{x:.{digits}g}"


def _actions(us: Iterable) -> list[list[int]]:
    return [[int(a) for a in u] for u in sorted(tuple(u) for u in us)]


def _action_list(us: Iterable, limit: int | None = None) -> str:
    items = sorted(tuple(u) for u in us)
    shown = [format_action(u) for u in (items if limit is None else items[:limit])]
    if limit is not None and len(items) > limit:
        shown.append(f"... ({len(items) - limit} more)")
    return ", ".join(shown) if shown else "none"


def _float_or_none(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def jsonable(obj: Any) -> Any:
    """Convert dataclasses, arrays, sets and tuples to JSON-able values (sets sorted).

    >>> jsonable({"a": np.arange(2), "b": frozenset({(1, 0), (0, 1)})})
    {'a': [0, 1], 'b': [[0, 1], [1, 0]]}
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {(k if isinstance(k, str) else str(jsonable(k))): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (set, frozenset)):
        items = [jsonable(v) for v in obj]
        try:
            return sorted(items)
        except TypeError:  # e.g. sets of sets: order by their JSON text
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return _float_or_none(obj)
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)


# --------------------------------------------------------------------------- JSON


def payoff_to_dict(payoff) -> dict:
    """``name``, ``shape``, ``labels`` and ``values`` (nested lists) of a payoff."""
    return {
        "name": payoff.name,
        "shape": list(payoff.shape),
        "labels": [list(lab) for lab in payoff.labels],
        "values": payoff.values.tolist(),
    }


def _transition_dict(u, fit, kind) -> dict:
    greedy_losses = None
    if fit.greedy_losses is not None:
        greedy_losses = [
            {"action": [int(a) for a in v], "loss": _float_or_none(loss)}
            for v, loss in sorted(fit.greedy_losses.items())
        ]
    return {
        "u_tilde": [int(a) for a in u],
        "greedy": _actions(fit.greedy_set),
        "loss": _float_or_none(fit.loss),
        "stable": kind,
        "certified": bool(fit.certified),
        "greedy_losses": greedy_losses,
    }


def _kind_of_fit(u, fit) -> str | None:
    if tuple(u) not in fit.greedy_set:
        return None
    return "strong" if len(fit.greedy_set) == 1 else "weak"


def partial_to_dict(payoff, method: str, settings: Mapping, fits: Mapping, *, rounds=None, rows=None) -> dict:
    """The JSON document of an unfinished analysis: the transitions computed so far.

    Same schema as :func:`result_to_dict` with ``complete`` false; the graph
    keys (``attractors``, ``basins``, ``optimum``) are absent because they need
    every u~.  ``stable`` lists the u~ done so far that are stable.  ``rows``
    (the u~ a targeted run was asked for, or None for every u~) sets
    ``partial``, ``rows`` and ``total``.
    """
    transitions = [_transition_dict(u, f, _kind_of_fit(u, f)) for u, f in fits.items()]
    targeted = rows is not None and len(rows) < payoff.n_joint
    doc = {
        "schema_version": SCHEMA_VERSION,
        "kind": "stability",
        "complete": False,
        "payoff": payoff_to_dict(payoff),
        "method": method,
        "settings": jsonable(dict(settings)),
        "shape": list(payoff.shape),
        "optimal": _actions(payoff.optimal_actions()),
        "transitions": transitions,
        "stable": [{"action": t["u_tilde"], "kind": t["stable"]} for t in transitions if t["stable"]],
        "done": len(transitions),
        "total": len(rows) if targeted else payoff.n_joint,
        "partial": targeted,
        "rows": _actions(rows) if targeted else None,
    }
    if rounds is not None:
        doc["rounds"] = jsonable(rounds)
    return doc


def result_to_dict(result: StabilityResult, *, rounds=None) -> dict:
    """The documented JSON document (see the module docstring) of a finished analysis.

    Parameters
    ----------
    result : StabilityResult
    rounds : object, optional
        A method's round trace (MRVF ``rounds(...)``), stored under ``rounds``.
    """
    n = result.payoff.n_joint
    if result.partial:
        attractors = basins = None
        optimum = {
            "actions": _actions(result.optimal),
            "stable": result.optimum_stable,
            "kinds": [{"action": [int(a) for a in u], "kind": result.kind(u)}
                      for u in result.optimal if u in result.transitions],
            "reachable_from": None,
            "reachable_from_every": None,
            "guaranteed_from": None,
        }
    else:
        attractors = [_actions(a) for a in result.attractors]
        basins = [
            {
                "attractor": _actions(a),
                "kind": result.attractor_kind(i),
                "some_path": _actions(result.basins_some[i]),
                "every_path": _actions(result.basins_all[i]),
            }
            for i, a in enumerate(result.attractors)
        ]
        optimum = {
            "actions": _actions(result.optimal),
            "stable": result.optimum_stable,
            "kinds": [{"action": [int(a) for a in u], "kind": result.kind(u)} for u in result.optimal],
            "reachable_from": _actions(result.optimum_reachable_from),
            "reachable_from_every": result.optimum_reachable_from_every,
            "guaranteed_from": _actions(result.optimum_guaranteed_from),
        }
    doc = {
        "schema_version": SCHEMA_VERSION,
        "kind": "stability",
        "complete": True,
        "payoff": payoff_to_dict(result.payoff),
        "method": result.method,
        "settings": jsonable(dict(result.settings)),
        "shape": list(result.payoff.shape),
        "optimal": _actions(result.optimal),
        "transitions": [
            _transition_dict(u, f, result.kind(u)) for u, f in result.transitions.items()
        ],
        "stable": [{"action": [int(a) for a in u], "kind": k} for u, k in result.kinds.items()],
        "attractors": attractors,
        "basins": basins,
        "optimum": optimum,
        "certified": result.certified,
        "n_joint": n,
        "partial": result.partial,
        "rows": _actions(result.rows) if result.partial else None,
    }
    if rounds is not None:
        doc["rounds"] = jsonable(rounds)
    return doc


def render_json(result: StabilityResult, *, rounds=None, indent: int | None = 2) -> str:
    """:func:`result_to_dict` as a JSON string."""
    return json.dumps(result_to_dict(result, rounds=rounds), indent=indent)


# --------------------------------------------------------------------------- text


def _settings_line(settings: Mapping) -> str:
    if not settings:
        return "(none)"
    return ", ".join(f"{k}={_fmt(v) if isinstance(v, float) else v}" for k, v in sorted(settings.items()))


def _payoff_lines(payoff) -> list[str]:
    lines = []
    if payoff.n_agents == 2 and max(payoff.shape) <= 12:
        cells = [[_fmt(v, 4) for v in row] for row in payoff.values]
        width = max(len(c) for row in cells for c in row)
        lines.append("Q_jt (rows: agent 1, columns: agent 2; 1-based):")
        for row in cells:
            lines.append("  " + "  ".join(c.rjust(width) for c in row))
    default = tuple(tuple(str(a + 1) for a in range(s)) for s in payoff.shape)
    if payoff.labels != default:
        for i, lab in enumerate(payoff.labels):
            lines.append(f"agent {i + 1} actions: " + ", ".join(f"{k + 1}={x}" for k, x in enumerate(lab)))
    return lines


def _table(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    out = [indent + "  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip()]
    for r in rows:
        out.append(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return out


def _count(part, whole: int) -> str:
    return f"{len(part)} of {whole}"


def _members(part, whole: int) -> str:
    if len(part) == whole:
        return f"(all {whole} u~)"
    return f"({len(part)} of {whole}): {_action_list(part, LIST_LIMIT)}"


#: What the partial reports say in place of attractors, basins and reachability.
PARTIAL_NOTE = "not computed (that needs every row of the transition graph; this one is partial)"


def _partial_line(result: StabilityResult) -> str:
    return (f"transition graph: partial, {len(result.transitions)} of {result.payoff.n_joint} rows u~ computed "
            "(each exactly as in the full analysis)")


def _optimum_sentence(result: StabilityResult) -> str:
    n = result.payoff.n_joint
    words = {"strong": "strongly stable", "weak": "weakly stable", None: "not stable"}
    if result.partial:
        stable = "; ".join(
            f"{format_action(u)} {words[result.kind(u)] if u in result.transitions else 'row not computed'}"
            for u in result.optimal
        )
        return f"{stable}; reachability of the optimum: {PARTIAL_NOTE}"
    stable = "; ".join(f"{format_action(u)} {words[result.kind(u)]}" for u in result.optimal)
    reach = result.optimum_reachable_from
    certain = result.optimum_guaranteed_from
    return (
        f"{stable}; reachable by some path from {_count(reach, n)} u~ (u* itself counted)"
        f"{' (every u~)' if result.optimum_reachable_from_every else ''}; "
        f"every path ends at the optimum from {_count(certain, n)} u~"
    )


def _trace_lines(trace) -> list[str]:
    """A multi-round trace (MRVF ``rounds``): one block per round, targets as matrices for 2 agents."""
    lines = []
    for r in trace.rounds:
        prev = "-" if r.previous is None else format_action(r.previous)
        lines.append(f"round {r.k} from {prev}: {r.reason}")
        target = np.asarray(r.target)
        if target.ndim == 2 and max(target.shape) <= 12:
            cells = [[_fmt(v, 4) for v in row] for row in target]
            width = max(len(c) for row in cells for c in row)
            lines.append("  target:")
            lines += ["    " + "  ".join(c.rjust(width) for c in row) for row in cells]
        lines.append(f"  stable points of QMIX on the target: {_action_list(r.stable)}")
        for cycle in sorted(getattr(r, "cycles", ()) or (), key=min):
            lines.append(f"  cycle of QMIX's greedy action on the target: {{{_action_list(cycle)}}}")
        lines.append(f"  strictly improving: {_action_list(r.improving)}; outcome: {_action_list(r.outcome)}"
                     f"{'; can terminate here' if r.terminates else ''}")
    lines.append(f"final actions: {_action_list(trace.finals)}"
                 f"{'' if getattr(trace, 'complete', True) else ' (round limit reached before every branch ended)'}")
    return lines


def _rounds_lines(rounds) -> list[str]:
    if rounds is None:
        return []
    if all(hasattr(r, a) for r in getattr(rounds, "rounds", [None]) for a in ("k", "target", "outcome")) and hasattr(rounds, "finals"):
        body = _trace_lines(rounds)
    else:
        body = json.dumps(jsonable(rounds), indent=2).splitlines()
    return ["", "Round trace (every branch; 1-based):"] + ["  " + line for line in body]


def render_text(result: StabilityResult, *, rounds=None) -> str:
    """Plain-text report mirroring the papers: 1-based actions, the u~ -> ubar table, stable points, attractors, basins.

    Examples
    --------
    >>> from stablepoint.stability import analyze
    >>> from stablepoint.methods.base import FitResult
    >>> from stablepoint.payoff import Payoff
    >>> class ToOptimum:
    ...     name = "to-optimum"
    ...     def fit(self, payoff, u):
    ...         return FitResult(self.name, u, 0.5, frozenset(payoff.optimal_actions()), ())
    >>> text = render_text(analyze(Payoff([[1, 0], [0, 2]], name="toy"), ToOptimum()))
    >>> print(text.split("Stable points")[1].splitlines()[1])
      (2, 2)  strong  Q_jt = 2  optimal
    """
    p = result.payoff
    n = p.n_joint
    shape = "x".join(str(s) for s in p.shape)
    lines = [
        f"payoff {p.name or '(unnamed)'} [{shape}], method {result.method}",
        f"settings: {_settings_line(result.settings)}",
    ]
    lines += _payoff_lines(p)
    lines.append(f"optimal u*: {_action_list(result.optimal)}  Q_jt = {_fmt(p[result.optimal[0]])}")
    if result.partial:
        lines.append(_partial_line(result))
    lines.append("")
    which = " of the computed rows" if result.partial else ""
    lines.append(f"Transitions u~ -> ubar(u~){which} (1-based; L_tot = optimal loss given u~):")
    rows = []
    for u, fit in result.transitions.items():
        note = result.kind(u) or ""
        if not fit.certified:
            note = (note + " uncertified").strip()
        rows.append([format_action(u), _fmt(p[u]), _fmt(fit.loss), note, _action_list(fit.greedy_set, LIST_LIMIT // 3)])
    lines += _table(["u~", "Q_jt(u~)", "L_tot", "stable", "ubar"], rows)
    lines.append("")
    among = f" among the {len(result.transitions)} computed rows" if result.partial else ""
    lines.append(f"Stable points{among} ({len(result.kinds)}):")
    if result.kinds:
        opt = set(result.optimal)
        rows = [
            [format_action(u), k, f"Q_jt = {_fmt(p[u])}", "optimal" if u in opt else ""]
            for u, k in result.kinds.items()
        ]
        lines += _table(["u", "kind", "value", ""], rows)[1:]
    else:
        lines.append("  none")
    lines.append("")
    if result.partial:
        lines.append(f"Attractors and basins: {PARTIAL_NOTE}.")
    else:
        lines.append(f"Attractors ({len(result.attractors)}; closed strongly connected components of u~ -> ubar):")
        for i, a in enumerate(result.attractors):
            lines.append(f"  A{i + 1} [{result.attractor_kind(i)}]: {{{_action_list(a, LIST_LIMIT)}}}")
            lines.append(f"      basin, some path {_members(result.basins_some[i], n)}")
            lines.append(f"      basin, every path {_members(result.basins_all[i], n)}")
    lines.append("")
    lines.append("Optimum: " + _optimum_sentence(result))
    if not result.certified:
        lines.append("Warning: some fits were stopped by a solver budget and are not certified optimal.")
    lines += _rounds_lines(rounds)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- markdown


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def render_markdown(result: StabilityResult, *, rounds=None) -> str:
    """Markdown report: the same content as :func:`render_text`, as tables."""
    p = result.payoff
    shape = "x".join(str(s) for s in p.shape)
    lines = [
        f"## Stability of {result.method} on {p.name or 'payoff'} ({shape})",
        "",
        f"Settings: {_settings_line(result.settings)}.",
        "",
    ]
    if p.n_agents == 2:
        header = ["Q_jt"] + [str(j + 1) for j in range(p.shape[1])]
        rows = [[f"**{i + 1}**"] + [_fmt(v, 4) for v in row] for i, row in enumerate(p.values)]
        lines += _md_table(header, rows) + [""]
    lines.append(f"Optimal u*: {_action_list(result.optimal)}.")
    lines.append("")
    if result.partial:
        lines += [f"**Partial:** {_partial_line(result)}.", ""]
    rows = [
        [format_action(u), _fmt(p[u]), _fmt(f.loss), result.kind(u) or "", _action_list(f.greedy_set, LIST_LIMIT // 3)]
        for u, f in result.transitions.items()
    ]
    lines += _md_table(["u~", "Q_jt(u~)", "L_tot", "stable", "ubar"], rows) + [""]
    among = f" (among the {len(result.transitions)} computed rows)" if result.partial else ""
    lines.append(f"**Stable points{among}:** " + (
        ", ".join(f"{format_action(u)} ({k})" for u, k in result.kinds.items()) or "none"
    ) + ".")
    lines.append("")
    if result.partial:
        lines += [f"**Attractors and basins:** {PARTIAL_NOTE}.", ""]
    else:
        rows = [
            [
                str(i + 1),
                result.attractor_kind(i),
                _action_list(a, LIST_LIMIT),
                _action_list(result.basins_some[i], LIST_LIMIT),
                _action_list(result.basins_all[i], LIST_LIMIT),
            ]
            for i, a in enumerate(result.attractors)
        ]
        lines += _md_table(["attractor", "kind", "members", "basin (some path)", "basin (every path)"], rows) + [""]
    lines.append("**Optimum:** " + _optimum_sentence(result) + ".")
    if not result.certified:
        lines += ["", "*Some fits are not certified optimal (solver budget).*"]
    if rounds is not None:
        lines += ["", "### Round trace", "", "```", *_rounds_lines(rounds)[2:], "```"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- DOT and figures


def render_dot(result: StabilityResult) -> str:
    """Graphviz DOT text of the transition graph (no graphviz needed to write it).

    Strongly stable points are filled green, weakly stable ones orange, the
    optimum has a double border; node labels are 1-based.
    """
    lines = [f'digraph "{result.method}" {{', "  rankdir=LR;", "  node [shape=ellipse, style=filled, fillcolor=white];"]
    ids = {u: "u" + "_".join(str(a + 1) for a in u) for u in result.graph.nodes}
    opt = set(result.optimal)
    for u in result.graph.nodes:
        attrs = [f'label="{format_action(u)}\\n{_fmt(result.payoff[u], 4)}"']
        kind = result.kind(u)
        if kind == "strong":
            attrs.append('fillcolor="#8fd18f"')
        elif kind == "weak":
            attrs.append('fillcolor="#f5c16c"')
        if u in opt:
            attrs.append("peripheries=2")
        if result.partial and u not in result.transitions:
            attrs.append('style="filled,dashed"')  # a greedy action whose own row was not computed
        lines.append(f"  {ids[u]} [{', '.join(attrs)}];")
    for u, v in sorted(result.graph.edges):
        lines.append(f"  {ids[u]} -> {ids[v]};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _positions(result: StabilityResult) -> dict:
    import networkx as nx

    g = result.graph
    if result.payoff.n_agents == 2:
        # Mirror the payoff matrix: row i at the top, column j to the right.
        return {u: (float(u[1]), -float(u[0])) for u in g.nodes}
    return nx.spring_layout(g, seed=0)


def draw_graph(result: StabilityResult, ax=None):
    """Draw the transition graph with matplotlib; returns the Figure (no pyplot state used).

    Two-agent games are laid out as the payoff matrix (row i, column j), so the
    picture reads like the papers' tables; larger games use a seeded spring
    layout.  Green: strongly stable; orange: weakly stable; thick border:
    optimal.
    """
    import networkx as nx
    from matplotlib.figure import Figure

    if ax is None:
        size = max(3.0, 1.3 * max(result.payoff.shape)) if result.payoff.n_agents == 2 else 6.0
        fig = Figure(figsize=(size + 1.0, size))
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    g = result.graph
    pos = _positions(result)
    colors = [
        {"strong": "#8fd18f", "weak": "#f5c16c"}.get(result.kind(u) or "", "#ffffff") for u in g.nodes
    ]
    widths = [3.0 if u in set(result.optimal) else 1.0 for u in g.nodes]
    nx.draw_networkx_nodes(g, pos, ax=ax, node_color=colors, edgecolors="black", linewidths=widths, node_size=1100)
    nx.draw_networkx_labels(
        g, pos, ax=ax, labels={u: f"{format_action(u)}\n{_fmt(result.payoff[u], 4)}" for u in g.nodes}, font_size=6
    )
    nx.draw_networkx_edges(
        g, pos, ax=ax, arrows=True, arrowstyle="-|>", node_size=1100, connectionstyle="arc3,rad=0.12"
    )
    ax.set_title(f"{result.method} on {result.payoff.name or 'payoff'}: u~ -> ubar")
    ax.set_axis_off()
    ax.margins(0.15)
    return fig


def write_graph(result: StabilityResult, path) -> Path:
    """Write the transition graph to ``path``: ``.dot`` as text, ``.png``/``.svg``/``.pdf`` as a figure.

    Raises
    ------
    SettingsError
        For any other suffix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in GRAPH_SUFFIXES:
        raise SettingsError(
            f"graph file {str(path)!r} must end in one of: {', '.join(GRAPH_SUFFIXES)}"
        )
    if suffix == ".dot":
        path.write_text(render_dot(result))
    else:
        fig = draw_graph(result)
        fig.savefig(path, format=suffix[1:], bbox_inches="tight")
    return path


# --------------------------------------------------------------------------- sweeps


def sweep_to_dict(sweep: SweepResult) -> dict:
    """JSON document of an epsilon sweep (``kind`` = "sweep", same ``schema_version``).

    Keys: ``schema_version``, ``kind``, ``complete``, ``payoff``, ``method``,
    ``settings`` (of the first grid point's method), ``shape``, ``optimal``,
    ``tol``, ``grid`` (one object per epsilon: ``epsilon``, ``stable`` (list
    of ``{"action", "kind"}``), ``attractors``), ``critical`` (list of
    ``{"action", "lo", "hi", "before", "after"}``; kinds are "strong", "weak"
    or null).
    """
    first = sweep.results[0]
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "sweep",
        "complete": True,
        "payoff": payoff_to_dict(sweep.payoff),
        "method": sweep.method,
        "settings": jsonable(dict(first.settings)),
        "shape": list(sweep.payoff.shape),
        "optimal": _actions(first.optimal),
        "tol": sweep.tol,
        "grid": [
            {
                "epsilon": eps,
                "stable": [{"action": [int(a) for a in u], "kind": k} for u, k in r.kinds.items()],
                "attractors": [_actions(a) for a in r.attractors],
            }
            for eps, r in zip(sweep.epsilons, sweep.results)
        ],
        "critical": [
            {"action": [int(a) for a in c.action], "lo": c.lo, "hi": c.hi, "before": c.before, "after": c.after}
            for c in sweep.critical
        ],
    }


def partial_sweep_to_dict(payoff, method: str, settings: Mapping, tol: float, grid: list) -> dict:
    """The JSON document of an unfinished sweep: the grid points done so far (``complete`` false).

    ``grid`` holds entries shaped like :func:`sweep_to_dict`'s; ``critical`` is
    null until the bisection stage has finished.
    """
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "sweep",
        "complete": False,
        "payoff": payoff_to_dict(payoff),
        "method": method,
        "settings": jsonable(dict(settings)),
        "shape": list(payoff.shape),
        "optimal": _actions(payoff.optimal_actions()),
        "tol": tol,
        "grid": jsonable(grid),
        "critical": None,
    }


def render_sweep_json(sweep: SweepResult, *, indent: int | None = 2) -> str:
    """:func:`sweep_to_dict` as a JSON string."""
    return json.dumps(sweep_to_dict(sweep), indent=indent)


def _stable_cell(kinds: Mapping) -> str:
    return ", ".join(f"{format_action(u)}{'' if k == 'strong' else ' weak'}" for u, k in kinds.items()) or "none"


def render_sweep_text(sweep: SweepResult) -> str:
    """Plain-text sweep report: stable set per epsilon, then the critical brackets."""
    p = sweep.payoff
    shape = "x".join(str(s) for s in p.shape)
    lines = [
        f"payoff {p.name or '(unnamed)'} [{shape}], method {sweep.method}, epsilon sweep",
        f"settings at the first point: {_settings_line(sweep.results[0].settings)}",
        f"optimal u*: {_action_list(sweep.results[0].optimal)}",
        "",
        "Stable points per epsilon (1-based; 'weak' marks weakly stable):",
    ]
    lines += _table(["epsilon", "stable points"], [[_fmt(e), _stable_cell(r.kinds)] for e, r in zip(sweep.epsilons, sweep.results)])
    lines.append("")
    lines.append(f"Critical epsilons (bisection to {_fmt(sweep.tol)}):")
    if sweep.critical:
        rows = [
            [format_action(c.action), f"({_fmt(c.lo)}, {_fmt(c.hi)}]", c.before or "not stable", c.after or "not stable"]
            for c in sweep.critical
        ]
        lines += _table(["u", "epsilon in", "below", "above"], rows)
    else:
        lines.append("  none: the stable set is the same at every grid point")
    return "\n".join(lines) + "\n"


def render_sweep_markdown(sweep: SweepResult) -> str:
    """Markdown sweep report."""
    p = sweep.payoff
    lines = [f"## Epsilon sweep of {sweep.method} on {p.name or 'payoff'}", ""]
    lines += _md_table(["epsilon", "stable points"], [[_fmt(e), _stable_cell(r.kinds)] for e, r in zip(sweep.epsilons, sweep.results)])
    lines += ["", f"Critical epsilons (bisection to {_fmt(sweep.tol)}):", ""]
    rows = [
        [format_action(c.action), f"({_fmt(c.lo)}, {_fmt(c.hi)}]", c.before or "not stable", c.after or "not stable"]
        for c in sweep.critical
    ]
    lines += _md_table(["u", "epsilon in", "below", "above"], rows) if rows else ["none"]
    return "\n".join(lines) + "\n"


#: ``--format`` name -> (single-analysis renderer, sweep renderer).
FORMATS = {
    "text": (render_text, render_sweep_text),
    "json": (render_json, render_sweep_json),
    "markdown": (render_markdown, render_sweep_markdown),
}


def render(result: StabilityResult, fmt: str = "text", *, rounds=None) -> str:
    """Render an analysis in a format of :data:`FORMATS`; unknown names list the valid ones."""
    try:
        fn = FORMATS[fmt][0]
    except KeyError:
        raise SettingsError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}") from None
    return fn(result, rounds=rounds)


def render_sweep(sweep: SweepResult, fmt: str = "text") -> str:
    """Render a sweep in a format of :data:`FORMATS`."""
    try:
        fn = FORMATS[fmt][1]
    except KeyError:
        raise SettingsError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}") from None
    return fn(sweep)
