"""Cross-check trained learners against the exact stable-point analysis on matrix games.

For each algorithm and seed, :func:`confirm` trains on ``matrix:<game>`` and reads two
greedy joint actions of the learner: the untrained network's (``initial``) and the trained
one's (``greedy``).  It then runs :func:`stablepoint.stability.analyze` with the algorithm's
exact counterpart (``AlgoConfig.analysis``, e.g. ``wqmix``) under the *same visitation* the
learner used at the end of training: the algorithm's exploration (decentralized or
centralized epsilon-greedy) at the final epsilon (for MRVF: the epsilon of its Q_tot
sampling policy pi_k).  Three predictions are checked per seed:

* **stable set** (S): the trained greedy action is a stable point of the method (for MRVF:
  a final action the multi-round process can terminate at);
* **initial basin** (I): it is one of the ends the transition graph can reach from the
  seed's initial greedy action: a stable point or a member of an attractor (a cycle
  included) reachable from it;
* **after exploration** (E): training anneals epsilon from ``epsilon_start`` (1: uniform
  visitation, where the exact fit does not depend on the greedy action at all), so the
  dynamics are started from the greedy set of the exact fit at the starting epsilon given
  the initial action, and the trained action must be one of the ends reachable from there.

The basin checks are the sharper ones: they say not only where a method may stop but where
it stops *from where training started*.  :class:`CrossCheckResult` gathers several games
and :func:`render_cross_check` writes the headline table with every disagreement listed.
Rendering prints joint actions 1-based.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import networkx as nx

from stablepoint.catalog import get_game
from stablepoint.errors import SettingsError
from stablepoint.payoff import JointAction, Payoff
from stablepoint.rl.config import TrainConfig, make_config

__all__ = [
    "SeedOutcome", "AlgoConfirmation", "ConfirmResult", "CrossCheckResult", "confirm",
    "analysis_for", "start_epsilon", "predicted_ends", "render_text", "render_markdown", "render_cross_check",
]


@dataclass(frozen=True)
class SeedOutcome:
    """One trained seed: its initial and final greedy joint actions (0-based) and test return."""

    seed: int
    greedy: JointAction
    test_return: float
    run_dir: str
    initial: JointAction | None = None


@dataclass(frozen=True)
class AlgoConfirmation:
    """One algorithm's seeds beside its predicted stable points, attractors and basins.

    Attributes
    ----------
    algo : str
    method : str or None
        The exact method analysed (None when the algorithm has no counterpart).
    settings : dict
        The method's settings (visitation, epsilon, ...).
    seeds : tuple of SeedOutcome
    stable : tuple of joint actions or None
        Predicted stable points, with ``kinds`` their strength.
    kinds : dict
        ``u -> "strong" | "weak"``.
    optimal : tuple of joint actions
        The payoff's optimal joint actions.
    attractors : tuple of frozenset
        Attracting components of the transition graph (a cycle has several members).
    ends : tuple of (frozenset or None)
        Per seed, :func:`predicted_ends` from its initial greedy action (None without one).
    start_epsilon : float or None
        The exploration epsilon training starts at (the analysis uses the final one).
    starts : tuple of (frozenset or None)
        Per seed, the greedy set of the exact fit at ``start_epsilon`` given the initial
        action: where the dynamics stand after the exploration phase (at epsilon 1 the
        visitation is uniform and this set is the same for every initial action).
    explored_ends : tuple of (frozenset or None)
        Per seed, the predicted ends from ``starts`` under the final epsilon.
    """

    algo: str
    method: str | None
    settings: dict
    seeds: tuple[SeedOutcome, ...]
    stable: tuple[JointAction, ...] | None
    kinds: dict
    optimal: tuple[JointAction, ...]
    attractors: tuple[frozenset, ...] = ()
    ends: tuple[frozenset | None, ...] = ()
    start_epsilon: float | None = None
    starts: tuple[frozenset | None, ...] = ()
    explored_ends: tuple[frozenset | None, ...] = ()

    @property
    def n_optimal(self) -> int:
        """Seeds whose greedy action is optimal."""
        return sum(s.greedy in self.optimal for s in self.seeds)

    @property
    def n_agree(self) -> int | None:
        """Seeds whose greedy action is a predicted stable point (None without an analysis)."""
        if self.stable is None:
            return None
        return sum(s.greedy in self.stable for s in self.seeds)

    @property
    def n_basin_agree(self) -> int | None:
        """Seeds whose greedy action is a predicted end from their initial action (None without one)."""
        if self.stable is None or not self.ends or any(e is None for e in self.ends):
            return None
        return sum(s.greedy in e for s, e in zip(self.seeds, self.ends))

    @property
    def n_explored_agree(self) -> int | None:
        """Seeds whose greedy action is a predicted end after the exploration phase (None without one)."""
        if self.stable is None or not self.explored_ends or any(e is None for e in self.explored_ends):
            return None
        return sum(s.greedy in e for s, e in zip(self.seeds, self.explored_ends))

    @property
    def disagreements(self) -> tuple[tuple[SeedOutcome, frozenset | None, str], ...]:
        """``(seed, predicted ends after exploration, why)`` for every seed outside the stable set or those ends.

        A seed that only misses the basin of its initial action (the exploration phase
        explains it) is counted in ``n_basin_agree`` but not listed here.
        """
        if self.stable is None:
            return ()
        out = []
        for k, s in enumerate(self.seeds):
            explored = self.explored_ends[k] if k < len(self.explored_ends) else None
            in_cycle = any(s.greedy in a for a in self.attractors if len(a) > 1)
            if s.greedy not in self.stable:
                why = "not a stable point"
                if explored is not None and s.greedy in explored:
                    why += " (a member of a predicted attractor cycle reachable after exploration)"
                elif in_cycle:
                    why += " (a member of an attractor cycle not reachable after exploration)"
                out.append((s, explored, why))
            elif explored is not None and s.greedy not in explored:
                out.append((s, explored, "stable, but not reachable after the exploration phase"))
        return tuple(out)

    @property
    def majority_optimal(self) -> bool:
        return 2 * self.n_optimal > len(self.seeds)


@dataclass(frozen=True)
class ConfirmResult:
    """Every algorithm's confirmation on one game."""

    game: str
    payoff: Payoff
    steps: int
    rows: tuple[AlgoConfirmation, ...]
    profile: str = "default"


@dataclass(frozen=True)
class CrossCheckResult:
    """:func:`confirm` on several games: the toolkit's theory-versus-training table."""

    results: tuple[ConfirmResult, ...]

    def totals(self, algo: str) -> dict:
        """Agreements of ``algo`` summed over games: ``explored``, ``basin``, ``stable``, ``optimal``, ``seeds``."""
        rows = [r for res in self.results for r in res.rows if r.algo == algo and r.stable is not None]
        return {
            "explored": sum(r.n_explored_agree or 0 for r in rows),
            "basin": sum(r.n_basin_agree or 0 for r in rows),
            "stable": sum(r.n_agree or 0 for r in rows),
            "optimal": sum(r.n_optimal for r in rows),
            "seeds": sum(len(r.seeds) for r in rows),
        }


def analysis_for(cfg: TrainConfig) -> tuple[str | None, dict]:
    """The exact method name and settings matching a training config's final visitation."""
    name = cfg.algo.analysis or None
    if name is None:
        return None, {}
    from stablepoint.methods import method_settings

    eps = cfg.algo.sample_epsilon if cfg.algo.sample_epsilon >= 0 else cfg.epsilon_finish
    settings = {"visitation": cfg.algo.exploration, "epsilon": float(eps)}
    names = method_settings(name)
    if "alpha" in names:
        settings["alpha"] = cfg.algo.alpha
    if "losses" in names:
        # Greedy sets only: the same transitions as losses="all" (tested), much faster on 3x5.
        settings["losses"] = "greedy"
    return name, settings


_analysis_for = analysis_for  # confirm() shadows the name with its prediction override


def predicted_ends(graph: nx.DiGraph, kinds, attractors, start) -> frozenset:
    """Where the stable-point dynamics can end from ``start``.

    The stable points reachable from ``start`` (itself included) and every member of a
    reachable attractor (a cycle the dynamics can be caught in).

    >>> from stablepoint.stability import transition_graph, attractors as attr
    >>> g = transition_graph({(0,): [(0,)], (1,): [(2,)], (2,): [(1,)], (3,): [(0,), (1,)]})
    >>> sorted(predicted_ends(g, {(0,): "strong"}, attr(g), (3,)))
    [(0,), (1,), (2,)]
    """
    start = tuple(start)
    reach = nx.descendants(graph, start) | {start}
    ends = {u for u in reach if u in kinds}
    for a in attractors:
        if a & reach:
            ends |= a
    return frozenset(ends)


def _train_seeds(job) -> list[SeedOutcome]:
    """Train (or finish, or reread) one algorithm's seeds as one population; top level for pools."""
    from stablepoint.rl.population import train_population  # sets the torch thread count itself

    cfgs, progress = job
    results = train_population(cfgs, resume=True, progress=progress)
    return [
        SeedOutcome(cfg.seed, tuple(r.matrix.greedy), float(r.test["test/return_mean"]), str(r.run_dir), r.initial_greedy)
        for cfg, r in zip(cfgs, results)
    ]


def _analyze_one(job, on_estimate=None, jobs: int = 1, budget: float | None = None) -> tuple:
    """``(stable, kinds, attractors, ends)`` of one exact method; ``ends[u0]`` for every start u0.

    With a ``cache`` path the answer is read from there when it was computed for the same
    payoff, method and settings, and written there otherwise, so an interrupted confirm
    keeps its finished analyses (on 3x5 games MRVF's takes minutes).
    """
    from stablepoint.methods import get_method
    from stablepoint.stability import analyze

    payoff, name, settings, cache = job
    key = {"payoff": payoff.values.tolist(), "method": name, "settings": settings}
    if cache is not None and Path(cache).exists():
        data = json.loads(Path(cache).read_text())
        if data.get("key") == key:
            def joint(v):
                return tuple(int(a) for a in v)

            return (
                tuple(joint(u) for u in data["stable"]),
                {joint(u): k for u, k in data["kinds"]},
                tuple(frozenset(joint(u) for u in a) for a in data["attractors"]),
                {joint(u): frozenset(joint(v) for v in e) for u, e in data["ends"]},
            )
    res = analyze(payoff, get_method(name, **settings), on_estimate=on_estimate, jobs=jobs, budget=budget,
                  probe_seconds=10.0 if budget is None else min(10.0, 0.5 * budget))
    if res.unfinished:
        from stablepoint.errors import BudgetExhaustedError

        raise BudgetExhaustedError(
            f"the exact analysis of {name} did not finish within the {budget:g} s budget "
            f"({len(res.unfinished)} of {payoff.n_joint} rows u~ left); confirm needs the whole transition "
            f"graph: raise --budget, pass --budget inf, or --no-analysis"
        )
    ends = {u: predicted_ends(res.graph, res.kinds, res.attractors, u) for u in payoff.joint_actions()}
    out = tuple(res.stable_points), dict(res.kinds), tuple(res.attractors), ends
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(f"{cache}.tmp")
        tmp.write_text(json.dumps({
            "key": key,
            "stable": [list(u) for u in out[0]],
            "kinds": [[list(u), k] for u, k in out[1].items()],
            "attractors": [sorted(list(u) for u in a) for a in out[2]],
            "ends": [[list(u), sorted(list(v) for v in e)] for u, e in ends.items()],
        }))
        tmp.replace(cache)
    return out


def confirm(
    game: str,
    algos: Sequence[str],
    seeds: Sequence[int] | int = 5,
    *,
    steps: int = 20000,
    out: str = "runs/confirm",
    analyze_stable: bool = True,
    train_overrides: dict | None = None,
    progress: Callable[[str, int, int, int], None] | None = None,
    jobs: int = 1,
    profile: str = "default",
    prediction: dict | None = None,
    on_estimate: Callable | None = None,
    budget: float | None = None,
) -> ConfirmResult:
    """Train each algorithm on ``matrix:<game>`` for each seed and compare with the analysis.

    Runs resume: a finished run directory is reread (its final evaluation repeated), an
    interrupted one continues from its checkpoint, and each finished exact analysis is
    cached as ``<out>/<game>/analysis__<method>__<settings digest>.json``, so rerunning a
    stopped command loses nothing.

    Parameters
    ----------
    game : str
        A catalog game (``table5``, ``qtran``, ``risk-reward:agents=2,actions=3,seed=0``).
    algos : sequence of str
        Algorithm config names.
    seeds : int or sequence of int
        Seeds, or how many (0 .. seeds - 1).
    steps : int
        Environment steps per run.
    out : str
        Parent directory of the runs (``<out>/<game>/<env>__<algo>__seed<k>``).
    analyze_stable : bool
        Run the exact analysis (False: report learned actions only).
    train_overrides : dict, optional
        Extra :class:`~stablepoint.rl.config.TrainConfig` settings for every run.
    progress : callable, optional
        ``progress(algo, seed, t_env, steps)`` during training (with ``jobs > 1``: once
        per finished run, with ``t_env = steps``).
    jobs : int
        Processes shared by the training runs and the exact analyses (one torch thread
        per run unless ``train_overrides`` says otherwise).  Each algorithm's seeds train
        together as one population.
    profile : str
        The training settings profile (``default`` or ``pymarl``).
    prediction : dict, optional
        Visitation settings of the exact analysis (``visitation``, ``epsilon``) replacing
        the learner's final visitation (:func:`analysis_for`), e.g. the uniform visitation
        ``stablepoint check`` analyses under by default.  ``train_overrides`` keys may be
        training fields, ``algo.<field>`` or ``env.<field>``, as in a sweep file.
    on_estimate, budget
        As for :func:`stablepoint.stability.analyze`, for each exact analysis.  The analyses
        run first, before any training, with ``jobs`` row workers, so that an analysis out of
        reach is refused (``on_estimate`` raising) or stopped (``budget``:
        BudgetExhaustedError, since the prediction needs the whole graph) before hours of
        training are spent.
    """
    payoff = get_game(game)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list or not algos:
        raise SettingsError("confirm needs at least one algorithm and one seed")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise SettingsError(f"jobs must be a positive integer, got {jobs!r}")
    optimal = tuple(payoff.optimal_actions())
    out_dir = Path(out) / _slug(game)
    settings = {"tensorboard": False, **dict(train_overrides or {})}
    configs = {
        (algo, seed): train_config(f"matrix:{game}", algo, profile=profile, seed=seed, steps=steps, out=str(out_dir),
                                   **settings)
        for algo in algos
        for seed in seed_list
    }

    def analysis_for(cfg):  # the learner's final visitation, or the one asked for
        name, found = _analysis_for(cfg)
        if name is None or not prediction:
            return name, found
        from stablepoint.methods import get_method

        defaults = get_method(name).settings()  # None: the method's own default, as `stablepoint check` uses
        asked = {k: defaults[k] if v is None else v for k, v in prediction.items() if k in ("visitation", "epsilon")}
        return name, {**found, **asked}

    # One analysis per distinct (method, settings); algorithms may share one.
    analyses = {}
    for algo in algos:
        name, method_settings = analysis_for(configs[algo, seed_list[0]])
        if analyze_stable and name is not None:
            cache = out_dir / f"analysis__{_slug(name)}__{_digest(method_settings)}.json"
            analyses.setdefault(_key(name, method_settings), (payoff, name, method_settings, str(cache)))
    # Analyses first (cached on disk), so that one out of reach stops the command before training.
    predictions = {key: _analyze_one(job, on_estimate, jobs, budget) for key, job in analyses.items()}
    outcomes: dict[tuple[str, int], SeedOutcome] = {}
    # all seeds of one algorithm train as one population (stablepoint.rl.population)
    populations = {algo: [configs[algo, seed] for seed in seed_list] for algo in algos}
    if jobs == 1:
        for algo, cfgs in populations.items():
            cb = None if progress is None else (
                lambda t, total, _latest, a=algo: [progress(a, s, t, total) for s in seed_list])
            for seed, outcome in zip(seed_list, _train_seeds((cfgs, cb))):
                outcomes[algo, seed] = outcome
    else:
        with ProcessPoolExecutor(jobs) as pool:
            futures = {algo: pool.submit(_train_seeds, (cfgs, None)) for algo, cfgs in populations.items()}
            for algo, fut in futures.items():
                for seed, outcome in zip(seed_list, fut.result()):
                    outcomes[algo, seed] = outcome
                    if progress is not None:
                        progress(algo, seed, steps, steps)
    rows = []
    for algo in algos:
        cfg = configs[algo, seed_list[0]]
        seed_outcomes = tuple(outcomes[algo, seed] for seed in seed_list)
        method_name, method_settings = analysis_for(cfg)
        stable, kinds, attractors, ends = None, {}, (), ()
        prediction = predictions.get(_key(method_name, method_settings)) if method_name else None
        start_eps, starts, explored = None, (), ()
        if prediction is not None:
            stable, kinds, attractors, ends_of = prediction
            ends = tuple(None if s.initial is None else ends_of[tuple(s.initial)] for s in seed_outcomes)
            start_eps = start_epsilon(cfg)
            starts = _starts(payoff, method_name, method_settings, start_eps, seed_outcomes)
            explored = tuple(None if g is None else frozenset().union(*(ends_of[u] for u in g)) for g in starts)
        rows.append(
            AlgoConfirmation(
                cfg.algo.name, method_name, method_settings, seed_outcomes, stable, kinds, optimal, attractors, ends,
                start_eps, starts, explored,
            )
        )
    return ConfirmResult(game, payoff, steps, tuple(rows), profile)


def train_config(env: str, algo: str, *, profile: str = "default", seed: int = 0, out: str = "runs",
                 run_name: str = "", **settings) -> TrainConfig:
    """A validated :class:`TrainConfig` from ``settings`` keyed as in a sweep file.

    Keys are training fields, ``algo.<field>`` or ``env.<field>``; the sweep's own parser
    (:func:`stablepoint.rl.sweep.build_config`) reads them, so ``--set`` and sweep files agree.
    """
    from stablepoint.rl.sweep import _build_config

    return _build_config(env, algo, seed, out, run_name, settings, profile)


def start_epsilon(cfg: TrainConfig) -> float:
    """The epsilon of the visitation Q_tot is trained under at the start of training."""
    return float(cfg.algo.sample_epsilon if cfg.algo.sample_epsilon >= 0 else cfg.epsilon_start)


def _starts(payoff, name, settings, start_eps, seeds) -> tuple:
    """Per seed, the greedy set of the exact fit at the starting epsilon given its initial action."""
    if start_eps == settings.get("epsilon"):
        return tuple(None if s.initial is None else frozenset({tuple(s.initial)}) for s in seeds)
    from stablepoint.methods import get_method

    method = get_method(name, **{**settings, "epsilon": start_eps})
    cache = {}
    out = []
    for s in seeds:
        if s.initial is None:
            out.append(None)
            continue
        u0 = tuple(s.initial)
        if u0 not in cache:
            cache[u0] = frozenset(method.fit(payoff, u0).greedy_set)
        out.append(cache[u0])
    return tuple(out)


def _digest(settings: dict) -> str:
    return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]


def _key(name, settings) -> tuple:
    return (name, tuple(sorted(settings.items())))


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


def _fmt(u) -> str:
    return "(" + ", ".join(str(a + 1) for a in u) + ")"


def _stable_text(row: AlgoConfirmation) -> str:
    if row.method is None:
        return "no exact counterpart"
    if row.stable is None:
        return "not analysed"
    if not row.stable:
        return "none"
    return " ".join(f"{_fmt(u)}{'' if row.kinds[u] == 'strong' else '~weak'}" for u in row.stable)


def _settings_text(row: AlgoConfirmation) -> str:
    from stablepoint.report import settings_line

    return settings_line(row.settings, sort=False) if row.settings else ""


#: Sets longer than this print as their first members and a count.
_MAX_LISTED = 6


def _members(g) -> str:
    items = sorted(g)
    text = " ".join(_fmt(u) for u in items[:_MAX_LISTED])
    return text if len(items) <= _MAX_LISTED else f"{text} ... ({len(items)} joint actions)"


def _attractors_text(row: AlgoConfirmation) -> str:
    if row.stable is None:
        return "-"
    if not row.attractors:
        return "none"
    return " ".join("{" + _members(a) + "}" if len(a) > 1 else _fmt(next(iter(a))) for a in row.attractors)


def _ends_text(ends) -> str:
    return "-" if ends is None else _members(ends)


def _ratio(k, n) -> str:
    return "n/a" if k is None else f"{k}/{n}"


def _set_text(g) -> str:
    return "{" + _members(g) + "}"


def _starts_text(row: AlgoConfirmation) -> str:
    if not row.starts or any(g is None for g in row.starts):
        return "-"
    distinct = list(dict.fromkeys(row.starts))
    return f"eps {row.start_epsilon}: " + " ".join(_set_text(g) for g in distinct)


def _seed_text(s: SeedOutcome) -> str:
    return _fmt(s.greedy) if s.initial is None else f"{_fmt(s.initial)}->{_fmt(s.greedy)}"


def render_text(result: ConfirmResult) -> str:
    """A plain-text report, one block per algorithm (joint actions 1-based)."""
    lines = [
        f"game {result.game}: optimal {' '.join(_fmt(u) for u in result.rows[0].optimal)}; "
        f"{result.steps} env steps per run",
    ]
    for row in result.rows:
        n = len(row.seeds)
        learned = " ".join(_fmt(s.greedy) for s in row.seeds)
        lines.append(f"{row.algo}:")
        lines.append(f"  learned greedy (seeds {', '.join(str(s.seed) for s in row.seeds)}): {learned}")
        if all(s.initial is not None for s in row.seeds):
            lines.append(f"  initial greedy: {' '.join(_fmt(s.initial) for s in row.seeds)}")
        lines.append(f"  predicted stable points [{row.method or '-'}: {_settings_text(row)}]: {_stable_text(row)}")
        if row.stable is not None:
            lines.append(f"  attractors: {_attractors_text(row)}")
        if row.starts and all(g is not None for g in row.starts) and row.start_epsilon != row.settings.get("epsilon"):
            lines.append(f"  start after exploration (epsilon {row.start_epsilon}): "
                         f"{' '.join(_set_text(g) for g in row.starts)}")
        lines.append(
            f"  optimal: {row.n_optimal}/{n}; in stable set: {_ratio(row.n_agree, n)}; "
            f"in basin of initial action: {_ratio(row.n_basin_agree, n)}; "
            f"in basin after exploration: {_ratio(row.n_explored_agree, n)}"
        )
    return "\n".join(lines)


def render_markdown(result: ConfirmResult, command: str = "") -> str:
    """A markdown table of the same content (for committed results files)."""
    head = [f"### `{result.game}`", ""]
    if command:
        head += [f"Command: `{command}`", ""]
    head += [
        f"Optimal joint action(s): {' '.join(_fmt(u) for u in result.rows[0].optimal)}; "
        f"{result.steps} environment steps per run, profile `{result.profile}`; joint actions 1-based; a seed reads "
        "initial greedy -> trained greedy.",
        "",
        "| algorithm | seeds: initial -> trained | optimal | stable points (exact) | attractors "
        "| start after exploration | analysis settings | after exploration | initial basin | stable set |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result.rows:
        n = len(row.seeds)
        head.append(
            f"| {row.algo} | {' '.join(_seed_text(s) for s in row.seeds)} | {row.n_optimal}/{n} | {_stable_text(row)} "
            f"| {_attractors_text(row)} | {_starts_text(row)} | {row.method or '-'} {_settings_text(row)} "
            f"| {_ratio(row.n_explored_agree, n)} | {_ratio(row.n_basin_agree, n)} | {_ratio(row.n_agree, n)} |"
        )
    return "\n".join(head) + "\n"


def _coverage(row: AlgoConfirmation, n_joint: int) -> str:
    """`` [c%]``: the mean share of joint actions the after-exploration prediction allows (a vacuous one allows 100%)."""
    sizes = [len(e) for e in row.explored_ends if e is not None]
    if not sizes:
        return ""
    return f" [{100 * sum(sizes) / len(sizes) / n_joint:.0f}%]"


def _short(game: str) -> str:
    """Column label: ``risk-reward:agents=3,actions=5,seed=2`` -> ``rr 3x5 s2``."""
    if game.startswith("risk-reward:"):
        opts = dict(kv.split("=", 1) for kv in game.split(":", 1)[1].split(",") if "=" in kv)
        return f"rr {opts.get('agents', '?')}x{opts.get('actions', '?')} s{opts.get('seed', '?')}"
    return game


def render_cross_check(result: CrossCheckResult, command: str = "") -> str:
    """The headline markdown: a summary over games, every disagreement, then one table per game."""
    algos = list(dict.fromkeys(r.algo for res in result.results for r in res.rows))
    lines = ["# Exact stable-point predictions against trained networks", ""]
    if command:
        lines += [f"Regenerate with `{command}`.", ""]
    lines += [
        "Each cell counts the seeds whose trained greedy action is predicted by the exact analysis, "
        "in three ways: **E** in the basin after the exploration phase (the ends reachable, under the "
        "final epsilon, from the exact fit's greedy set at the starting epsilon), **I** in the basin of the "
        "untrained network's greedy action (no exploration phase), **S** in the stable set (anywhere); "
        "**O** counts optimal seeds. [c%] after E is the mean share of all joint actions that E's "
        "predicted ends cover, after S the share the stable set covers: a guess of that size at random "
        "would agree that often, and a prediction covering 100% says nothing. E and S misses are listed under "
        "Disagreements, the remaining I misses after them. "
        "Joint actions are 1-based.",
        "",
        "| algorithm | " + " | ".join(_short(res.game) for res in result.results) + " | E | I | S | O |",
        "|---|" + "---|" * (len(result.results) + 4),
    ]
    for algo in algos:
        cells = []
        for res in result.results:
            row = next((r for r in res.rows if r.algo == algo), None)
            if row is None:
                cells.append("-")
                continue
            n = len(row.seeds)
            cells.append(f"E {_ratio(row.n_explored_agree, n)}{_coverage(row, res.payoff.n_joint)}, "
                         f"I {_ratio(row.n_basin_agree, n)}, S {_ratio(row.n_agree, n)}"
                         f"{'' if row.stable is None else f' [{100 * len(row.stable) / res.payoff.n_joint:.0f}%]'}, "
                         f"O {row.n_optimal}/{n}")
        t = result.totals(algo)
        rate = (lambda k: f"{k}/{t['seeds']} ({100 * k / t['seeds']:.0f}%)") if t["seeds"] else (lambda k: "n/a")
        lines.append(f"| {algo} | " + " | ".join(cells) + " | " + " | ".join(
            rate(t[k]) for k in ("explored", "basin", "stable", "optimal")) + " |")
    lines += ["", "## Disagreements", ""]
    listed = 0
    for res in result.results:
        for row in res.rows:
            for s, ends, why in row.disagreements:
                listed += 1
                lines.append(
                    f"- `{res.game}`, {row.algo}, seed {s.seed}: initial {_fmt(s.initial) if s.initial else '-'}, "
                    f"trained {_fmt(s.greedy)}; {why} (predicted ends: {_ends_text(ends)})"
                )
    if not listed:
        lines.append("None.")
    lines += [
        "",
        "## Initial-basin misses the exploration phase explains",
        "",
        "Stable and reachable after exploration, but not from the untrained network's greedy action.",
        "",
    ]
    explained = 0
    for res in result.results:
        for row in res.rows:
            flagged = {s.seed for s, _, _ in row.disagreements}
            for k, s in enumerate(row.seeds):
                ends = row.ends[k] if k < len(row.ends) else None
                if s.seed in flagged or ends is None or s.greedy in ends:
                    continue
                explained += 1
                lines.append(
                    f"- `{res.game}`, {row.algo}, seed {s.seed}: initial {_fmt(s.initial)}, trained {_fmt(s.greedy)} "
                    f"(ends from the initial action: {_ends_text(ends)})"
                )
    if not explained:
        lines.append("None.")
    lines += ["", "## Per game", ""]
    for res in result.results:
        lines.append(render_markdown(res))
    return "\n".join(lines) + "\n"
