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
    "graph_title",
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
    # C order, whatever order the rows finished in (parallel workers).
    transitions = [_transition_dict(u, f, _kind_of_fit(u, f)) for u, f in sorted(fits.items())]
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
        "unfinished": _actions(result.unfinished),
        "budget": result.budget,
    }
    if rounds is not None:
        doc["rounds"] = jsonable(rounds)
    return doc


def render_json(result: StabilityResult, *, rounds=None, indent: int | None = 2) -> str:
    """:func:`result_to_dict` as a JSON string."""
    return json.dumps(result_to_dict(result, rounds=rounds), indent=indent)


# --------------------------------------------------------------------------- text


def is_uniform(settings: Mapping) -> bool:
    """Whether the settings' visitation is uniform: ``visitation=uniform``, or epsilon-greedy at epsilon = 1."""
    vis, eps = settings.get("visitation"), settings.get("epsilon")
    if vis == "uniform":
        return True
    try:
        return vis in ("centralized", "decentralized") and eps is not None and float(eps) == 1.0
    except (TypeError, ValueError):
        return False


def settings_line(settings: Mapping, *, sort: bool = True) -> str:
    """``k=v, ...``; an epsilon-greedy visitation at epsilon = 1 is marked ``(uniform)``.

    >>> settings_line({"visitation": "centralized", "epsilon": 1.0})
    'epsilon=1, visitation=centralized (uniform)'
    """
    if not settings:
        return "(none)"
    items = sorted(settings.items()) if sort else list(settings.items())
    text = ", ".join(f"{k}={_fmt(v) if isinstance(v, float) else v}" for k, v in items)
    if is_uniform(settings) and settings.get("visitation") != "uniform":
        text = text.replace(f"visitation={settings['visitation']}", f"visitation={settings['visitation']} (uniform)", 1)
    return text


def _settings_line(settings: Mapping) -> str:
    return settings_line(settings)


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
    line = (f"transition graph: partial, {len(result.transitions)} of {result.payoff.n_joint} rows u~ computed "
            "(each exactly as in the full analysis)")
    if result.unfinished:
        line += (f"; {len(result.unfinished)} requested rows not finished within the {result.budget:g} s budget "
                 f"(not certified, no answer): {_action_list(result.unfinished, LIST_LIMIT)}")
    return line


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
    if not all(f.certified for f in result.transitions.values()):
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
    if not all(f.certified for f in result.transitions.values()):
        lines += ["", "*Some fits are not certified optimal (solver budget).*"]
    if rounds is not None:
        lines += ["", "### Round trace", "", "```", *_rounds_lines(rounds)[2:], "```"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- DOT and figures


#: Settings that choose how a fit is computed, not which method it is; left out of graph titles.
_COMPUTE_SETTINGS = ("solver", "solver_options", "losses")
#: Tie rules of Eq. 3 (WQMIX and friends), as the titles name them.
_TIE_RULES = {"inclusive": "inclusive greedy set (>=)", "strict": "strict greedy set (>)"}
_STRONG, _WEAK, _PLAIN = "#8fd18f", "#f5c16c", "#ffffff"


def graph_title(result: StabilityResult) -> str:
    """Title of a transition-graph figure: the method, its settings and the payoff.

    Every setting of the method's ``settings()`` is named except how the fits are
    computed (``solver``, ``solver_options``, ``losses``); the tie rule is spelled out,
    so the strict and inclusive graphs of MRVF Figure 2 are told apart.

    >>> from stablepoint.catalog import get_game
    >>> from stablepoint.methods import get_method
    >>> from stablepoint.stability import analyze
    >>> m = get_method("wqmix", alpha=0.1, epsilon=1.0, visitation="uniform", tie_rule="inclusive", losses="greedy")
    >>> print(graph_title(analyze(get_game("table4a"), m)))
    WQMIX on table4a: alpha=0.1, epsilon=1, visitation=uniform; inclusive greedy set (>=)
    """
    settings = {k: v for k, v in result.settings.items() if k not in _COMPUTE_SETTINGS}
    tie = settings.pop("tie_rule", None)
    shown = ", ".join(f"{k}={_fmt(v, 4) if isinstance(v, float) else v}" for k, v in sorted(settings.items()))
    if tie is not None:
        shown = (shown + "; " if shown else "") + _TIE_RULES.get(tie, f"tie_rule={tie}")
    title = f"{result.method.upper()} on {result.payoff.name or 'payoff'}"
    if shown:
        title += f": {shown}"
    if result.partial:
        title += f" (partial: {len(result.transitions)} of {result.payoff.n_joint} rows)"
    return title


def _node_id(u) -> str:
    return "u" + "_".join(str(a + 1) for a in u)


def render_dot(result: StabilityResult) -> str:
    """Graphviz DOT text of the transition graph (no graphviz needed to write it).

    Strongly stable points are filled green, weakly stable ones orange, the
    optimum has a double border; node labels are 1-based.  The graph's label
    is :func:`graph_title`; a ``cluster_legend`` subgraph explains the colours.
    Games of three or more agents put the joint actions of each action of the
    first agent in their own cluster (``cluster_a1_<k>``).
    """
    title = graph_title(result).replace('"', "'")
    lines = [f'digraph "{result.method}" {{', "  rankdir=LR;", f'  label="{title}";', "  labelloc=t;",
             "  node [shape=ellipse, style=filled, fillcolor=white];"]
    ids = {u: _node_id(u) for u in result.graph.nodes}
    opt = set(result.optimal)

    def node_line(u) -> str:
        attrs = [f'label="{format_action(u)}\\n{_fmt(result.payoff[u], 4)}"']
        kind = result.kind(u)
        if kind == "strong":
            attrs.append(f'fillcolor="{_STRONG}"')
        elif kind == "weak":
            attrs.append(f'fillcolor="{_WEAK}"')
        if u in opt:
            attrs.append("peripheries=2")
        if result.partial and u not in result.transitions:
            attrs.append('style="filled,dashed"')  # a greedy action whose own row was not computed
        return f"{ids[u]} [{', '.join(attrs)}];"

    if result.payoff.n_agents >= 3:
        for k in range(result.payoff.shape[0]):
            members = [u for u in result.graph.nodes if u[0] == k]
            if not members:
                continue
            lines.append(f"  subgraph cluster_a1_{k + 1} {{")
            lines.append(f'    label="agent 1 plays {k + 1}";')
            lines += [f"    {node_line(u)}" for u in members]
            lines.append("  }")
    else:
        lines += [f"  {node_line(u)}" for u in result.graph.nodes]
    for u, v in sorted(result.graph.edges):
        lines.append(f"  {ids[u]} -> {ids[v]};")
    legend = [("legend_strong", "strongly stable", f'fillcolor="{_STRONG}"'),
              ("legend_weak", "weakly stable", f'fillcolor="{_WEAK}"'),
              ("legend_optimal", "optimal joint action u*", "peripheries=2")]
    if result.partial:
        legend.append(("legend_partial", "row not computed", 'style="filled,dashed"'))
    lines += ["  subgraph cluster_legend {", '    label="legend";']
    lines += [f'    {name} [label="{text}", shape=box, {attr}];' for name, text, attr in legend]
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def _panel_positions(members, shape) -> dict:
    """Grid positions inside one panel of a game with 3+ agents: agent 2's action is the
    column, the actions of agents 3.. (C order) the row."""
    rest = shape[2:]
    return {u: (float(u[1]), -float(np.ravel_multi_index(u[2:], rest))) for u in members}


def _legend_handles(result: StabilityResult):
    from matplotlib.lines import Line2D

    def marker(face, width, label, style="-"):
        return Line2D([], [], linestyle="none", marker="o", markersize=13, markerfacecolor=face,
                      markeredgecolor="black", markeredgewidth=width, label=label)

    handles = [marker(_STRONG, 1.0, "strongly stable"), marker(_WEAK, 1.0, "weakly stable"),
               marker(_PLAIN, 3.0, "optimal joint action u*"),
               Line2D([], [], color="black", marker=">", markersize=6, label="u~ \u2192 greedy action of the fit")]
    if result.partial:
        handles.append(marker("#dddddd", 1.0, "row not computed"))
    return handles


def _draw_nodes(result, g, nodes, pos, ax, node_size, font_size, extra_labels=None):
    import networkx as nx

    opt = set(result.optimal)
    colors = [{"strong": _STRONG, "weak": _WEAK}.get(result.kind(u) or "", "#dddddd" if result.partial and u not in result.transitions else _PLAIN)
              for u in nodes]
    widths = [3.0 if u in opt else 1.0 for u in nodes]
    nx.draw_networkx_nodes(g, pos, nodelist=nodes, ax=ax, node_color=colors, edgecolors="black",
                           linewidths=widths, node_size=node_size)
    labels = {u: f"{format_action(u)}\n{_fmt(result.payoff[u], 4)}" + (extra_labels or {}).get(u, "") for u in nodes}
    nx.draw_networkx_labels(g, pos, ax=ax, labels=labels, font_size=font_size)


def draw_graph(result: StabilityResult, ax=None):
    """Draw the transition graph with matplotlib; returns the Figure (no pyplot state used).

    Two-agent games are laid out as the payoff matrix (row i, column j), so the
    picture reads like the papers' tables.  Games of three or more agents get one
    panel (axes) per action of the first agent, each a grid of agent 2's action
    (column) by the actions of agents 3.. (row); arrows inside a panel are drawn,
    and a transition to another panel is written under the node (``-> (2, 3, 2)``).
    Green: strongly stable; orange: weakly stable; thick border: optimal.  Self-loops
    (u~ in its own greedy set) are not drawn: the colours mark the stable points.  The
    figure's legend names these, and its title is :func:`graph_title`.  ``ax`` (a
    single axes) is only accepted for two-agent games.
    """
    import networkx as nx
    from matplotlib.figure import Figure

    g = result.graph
    title = graph_title(result)
    if result.payoff.n_agents <= 2:
        if ax is None:
            size = max(3.0, 1.3 * max(result.payoff.shape))
            fig = Figure(figsize=(size + 1.5, size + 1.2))
            ax = fig.add_subplot()
        else:
            fig = ax.figure
        pos = {u: (float(u[1]), -float(u[0])) for u in g.nodes}
        nodes = list(g.nodes)
        _draw_nodes(result, g, nodes, pos, ax, 1100, 6)
        nx.draw_networkx_edges(g, pos, ax=ax, edgelist=[(u, v) for u, v in g.edges if u != v], arrows=True,
                               arrowstyle="-|>", node_size=1100, connectionstyle="arc3,rad=0.12")
        ax.set_axis_off()
        ax.margins(0.15)
        fig.suptitle(_wrap(title, 60), fontsize=9)
        fig.legend(handles=_legend_handles(result), loc="lower center", ncol=2, fontsize=7, frameon=False)
        fig.subplots_adjust(bottom=0.12, top=0.88)
        return fig
    if ax is not None:
        raise SettingsError("a graph of three or more agents draws its own panels; leave out ax")
    shape = result.payoff.shape
    n_panels = shape[0]
    cols = min(n_panels, 4)
    rows = -(-n_panels // cols)
    rest_rows = int(np.prod(shape[2:]))
    panel_w, panel_h = max(2.6, 1.3 * shape[1]), max(2.6, 1.1 * rest_rows)
    fig = Figure(figsize=(panel_w * cols + 0.4, panel_h * rows + 1.6))
    axes = [fig.add_subplot(rows, cols, k + 1) for k in range(n_panels)]
    label_chars = len(format_action(tuple(shape)))  # the widest label line, about
    node_size = max(1000.0, (3.6 * label_chars + 4.0) ** 2)
    for k, ax in enumerate(axes):
        members = [u for u in g.nodes if u[0] == k]
        pos = _panel_positions(members, shape)
        inside = g.subgraph(members)
        _draw_nodes(result, g, members, pos, ax, node_size, 5.5)
        for u in members:  # transitions into another panel: named under the node
            away = sorted(v for v in g.successors(u) if v[0] != k)
            if away:
                shown = ", ".join(format_action(v) for v in away[:2]) + (f" +{len(away) - 2}" if len(away) > 2 else "")
                ax.text(pos[u][0], pos[u][1] - 0.36, f"\u2192 {shown}", ha="center", va="top", fontsize=6,
                        color="#1f4e9c", gid="away")
        nx.draw_networkx_edges(inside, pos, ax=ax, edgelist=[(u, v) for u, v in inside.edges if u != v], arrows=True,
                               arrowstyle="-|>", node_size=node_size, connectionstyle="arc3,rad=0.15")
        ax.set_title(f"agent 1 plays {k + 1}", fontsize=9)
        ax.set_axis_off()
        xs = [p[0] for p in pos.values()] or [0.0]
        ys = [p[1] for p in pos.values()] or [0.0]
        ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
        ax.set_ylim(min(ys) - 0.75, max(ys) + 0.5)
    others = ", ".join(str(i + 1) for i in range(2, result.payoff.n_agents))
    fig.suptitle(_wrap(title, max(30 * cols, 80)) + f"\npanels: agent 1's action; columns: agent 2's; rows: agent{'s' if len(shape) > 3 else ''} {others}"
                 "; \u2192 (...): transition into another panel",
                 fontsize=9)
    fig.legend(handles=_legend_handles(result), loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.subplots_adjust(bottom=0.45 / (panel_h * rows + 1.6), top=1 - 0.9 / (panel_h * rows + 1.6), wspace=0.05)
    return fig


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width=max(width, 30)))


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
        "complete": sweep.complete,
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
        "unfinished": list(sweep.unfinished),
        "budget": sweep.budget,
    }


def _sweep_budget_line(sweep: SweepResult) -> str | None:
    if sweep.complete:
        return None
    if sweep.unfinished:
        return (f"Budget: the {sweep.budget:g} s budget ended; epsilon values not analysed (no answer): "
                + ", ".join(_fmt(e) for e in sweep.unfinished) + "; brackets are found among the analysed ones only")
    return f"Budget: the {sweep.budget:g} s budget ended during bisection; some brackets are wider than the tolerance"


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
    note = _sweep_budget_line(sweep)
    if note:
        lines += ["", note]
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
    note = _sweep_budget_line(sweep)
    if note:
        lines += ["", f"*{note}.*"]
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
