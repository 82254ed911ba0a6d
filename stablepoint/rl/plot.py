"""Learning curves and final-performance tables from run directories, in the papers' style.

* :func:`load_runs` reads run directories (``config.yaml`` + ``metrics.jsonl``) written by
  :func:`stablepoint.rl.train.train`, and picks each run's curve metric:
  the test win rate (``test/battle_won_mean``) on SMAC/SMAX, the normalized return of
  MRVF Eq. 30 on risk-reward games (see :func:`normalized_return`), the test return elsewhere.
* :func:`aggregate` groups runs by (environment, algorithm; a sweep override, read from the
  run directory's name, makes its own curve) and gives the median with a
  25-75% band, or the 0-100% band (min to max) for one-step matrix games (MRVF Sec. 5).
  Risk-reward games of one setting (agents, actions) form one group across their random
  cases, as in Figure 5.
* :func:`final_table` averages each run's metric over the last part of training, and
  counts, per algorithm, the environments where it is best and worst within a tolerance
  (MRVF Table 3: steps after 1.5M of 2M, tolerance +-0.05).
* :func:`separate_settings` keeps runs of different ``steps`` budgets or ``profile`` s out of one
  curve (labels them apart, or refuses).
* :func:`aggregate_stats` (the ``stats`` extra, ``rliable``) gives per (group, algo) the IQM of the
  final performance with a stratified-bootstrap CI beside the median and 25-75% band, and the
  probability of improvement between the algorithms of a group; :func:`render_stats` prints it.
* :func:`plot_curves` draws the bands (matplotlib, rendering only); the command
  ``stablepoint plot`` saves PNG/SVG and CSV.

Eq. 30's negative branch as printed, ``(r - m) / m`` with ``m`` the most negative payoff,
maps ``m`` to 0 and returns just below 0 to -1: it reverses the order of negative returns
and contradicts the caption of Figure 5 ("negative returns are normalized to [-1, 0)").
The default ``negative="ratio"`` uses ``r / |m|`` (``m -> -1``, ``0^- -> 0^-``), which fits the
caption; ``negative="printed"`` keeps the printed formula.

>>> import numpy as np
>>> y = np.array([[7.0, -6.0], [-5.0, 3.0]])
>>> normalized_return(np.array([7.0, 3.0, 5.0, -6.0, -3.0]), y).tolist()
[1.0, 0.0, 0.5, -1.0, -0.5]
>>> normalized_return(np.array([-6.0, -3.0]), y, negative="printed").tolist()
[0.0, -0.5]
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import yaml

from stablepoint.errors import SettingsError

__all__ = [
    "RunCurve",
    "CurveBand",
    "FinalRow",
    "FinalTable",
    "normalized_return",
    "find_run_dirs",
    "load_runs",
    "aggregate",
    "final_table",
    "plot_curves",
    "write_final_csv",
    "separate_settings",
    "final_values",
    "GroupStats",
    "Improvement",
    "AggregateStats",
    "aggregate_stats",
    "render_stats",
]

NEGATIVE_MODES = ("ratio", "printed")


def normalized_return(returns, payoff_values, negative: str = "ratio") -> np.ndarray:
    """MRVF Eq. 30: returns of a one-step game mapped to [0, 1] (positive) and [-1, 0) (negative).

    Parameters
    ----------
    returns : array_like
        Returns (payoff values reached, or means of them).
    payoff_values : array_like
        The game's Q_jt over all joint actions; needs at least one value >= 0.
    negative : {"ratio", "printed"}
        Negative branch: ``r / |min U^-|`` (default; order-preserving, range [-1, 0)) or Eq. 30
        as printed, ``(r - min U^-) / min U^-`` (see the module docstring).

    Returns
    -------
    ndarray of float64, the shape of ``returns``.
    """
    if negative not in NEGATIVE_MODES:
        raise SettingsError(f"negative must be one of {', '.join(NEGATIVE_MODES)}, got {negative!r}")
    r = np.asarray(returns, dtype=np.float64)
    y = np.asarray(payoff_values, dtype=np.float64).ravel()
    pos, neg = y[y >= 0], y[y < 0]
    if not pos.size:
        raise SettingsError("normalized return needs a payoff with a non-negative value")
    lo, hi = pos.min(), pos.max()
    span = hi - lo
    out = np.where(r >= 0, (r - lo) / span if span > 0 else np.ones_like(r), 0.0)
    if neg.size:
        m = neg.min()
        low = r / abs(m) if negative == "ratio" else (r - m) / m
        out = np.where(r < 0, low, out)
    return out + 0.0  # no negative zeros


@dataclass(frozen=True)
class RunCurve:
    """One run's evaluation curve.

    Attributes
    ----------
    run_dir : str
    algo : str
    env : str
        The env spec.
    group : str
        The panel it belongs to (the env spec; risk-reward games without their game seed).
    seed : int
    metric : str
        What ``values`` are: ``win_rate``, ``normalized_return`` or ``return``.
    t_env : ndarray of int64
    values : ndarray of float64
    steps : int
        The run's configured step budget.
    one_step : bool
        A one-step matrix game (bands are 0-100%).
    profile : str
        The settings profile the run was trained with (``config.yaml``'s ``profile``).
    """

    run_dir: str
    algo: str
    env: str
    group: str
    seed: int
    metric: str
    t_env: np.ndarray
    values: np.ndarray
    steps: int
    one_step: bool
    profile: str = "default"


@dataclass(frozen=True)
class CurveBand:
    """Aggregate of the runs of one (group, algo): median and a percentile band on a common grid."""

    group: str
    algo: str
    metric: str
    t_env: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    band: tuple[float, float]
    n_runs: int


@dataclass(frozen=True)
class FinalRow:
    """One (group, algo) cell of :class:`FinalTable`."""

    group: str
    algo: str
    metric: str
    n_runs: int
    final_mean: float
    best: bool
    worst: bool


@dataclass(frozen=True)
class FinalTable:
    """Final performance per (group, algo) and MRVF Table 3 style best/worst counts per algo."""

    rows: tuple[FinalRow, ...]
    counts: dict
    tolerance: float
    metric: str


def find_run_dirs(paths: Iterable) -> list[Path]:
    """Run directories among ``paths``: each path itself or, recursively, any folder below it with a
    ``config.yaml`` and ``metrics.jsonl``.  Sorted, no duplicates."""
    found: set[Path] = set()
    for p in map(Path, paths):
        if not p.exists():
            raise SettingsError(f"{p} does not exist")
        if (p / "config.yaml").is_file() and (p / "metrics.jsonl").is_file():
            found.add(p)
        elif p.is_dir():
            found.update(c.parent for c in p.rglob("metrics.jsonl") if (c.parent / "config.yaml").is_file())
    if not found:
        raise SettingsError("no run directories (config.yaml + metrics.jsonl) found under the given paths")
    return sorted(found)


_RR = re.compile(r"^matrix:(risk[-_]reward)(:.*)?$")
#: run directory names from sweeps with overrides end in ``__seed<k>__<override>``
_VARIANT = re.compile(r"__seed\d+__(.+)$")


def _group_of(spec: str) -> str:
    match = _RR.match(spec)
    if not match:
        return spec
    args = [a for a in (match.group(2) or ":")[1:].split(",") if a and not a.startswith("seed=")]
    return "matrix:risk-reward" + (":" + ",".join(args) if args else "")


def load_runs(paths: Iterable, metric: str = "auto", negative: str = "ratio") -> list[RunCurve]:
    """Read run directories into :class:`RunCurve` s.

    Parameters
    ----------
    paths : iterable of path
        Run directories or folders holding them (see :func:`find_run_dirs`).
    metric : {"auto", "return", "win_rate", "normalized_return"}
        ``auto``: win rate when the runs logged ``test/battle_won_mean``, the Eq. 30
        normalized return on risk-reward games, the test return otherwise.
    negative : {"ratio", "printed"}
        Passed to :func:`normalized_return`.
    """
    metrics = ("auto", "return", "win_rate", "normalized_return")
    if metric not in metrics:
        raise SettingsError(f"metric must be one of {', '.join(metrics)}, got {metric!r}")
    runs = []
    for d in find_run_dirs(paths):
        try:
            cfg = yaml.safe_load((d / "config.yaml").read_text())
            spec, algo, seed, steps = cfg["env"]["spec"], cfg["algo"]["name"], int(cfg["seed"]), int(cfg["steps"])
            profile = str(cfg.get("profile") or "default")
        except (yaml.YAMLError, KeyError, TypeError, ValueError):
            raise SettingsError(f"{d}/config.yaml is not a run config") from None
        test = {}
        try:
            rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines() if line.strip()]
            for row in rows:  # the last row logged at a t_env wins (the final evaluation repeats one)
                if "test/return_mean" in row:
                    test[int(row["t_env"])] = row
        except FileNotFoundError:
            raise SettingsError(f"{d}/metrics.jsonl is missing") from None
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SettingsError(f"{d}/metrics.jsonl is damaged ({type(exc).__name__}); not a run's metrics log") from None
        if not test:
            continue
        t = np.array(sorted(test), dtype=np.int64)
        chosen = metric
        if chosen == "auto":
            if "test/battle_won_mean" in test[int(t[0])]:
                chosen = "win_rate"
            elif _RR.match(spec):
                chosen = "normalized_return"
            else:
                chosen = "return"
        if chosen == "win_rate":
            if any("test/battle_won_mean" not in test[int(k)] for k in t):
                raise SettingsError(f"{d}: no win rate logged (test/battle_won_mean)")
            values = np.array([test[int(k)]["test/battle_won_mean"] for k in t])
        else:
            values = np.array([test[int(k)]["test/return_mean"] for k in t])
            if chosen == "normalized_return":
                if not spec.startswith("matrix:"):
                    raise SettingsError(f"{d}: normalized return needs a matrix game, got {spec!r}")
                from stablepoint.catalog import get_game

                values = normalized_return(values, get_game(spec.partition(":")[2]).values, negative)
        variant = _VARIANT.search(d.name)
        if variant:  # a sweep override: keep its runs apart from the plain algorithm's
            algo = f"{algo} [{variant.group(1)}]"
        runs.append(RunCurve(str(d), algo, spec, _group_of(spec), seed, chosen, t, values.astype(np.float64),
                             steps, spec.startswith("matrix:"), profile))
    if not runs:
        raise SettingsError("the run directories hold no test evaluations yet")
    return runs


def _on_grid(run: RunCurve, grid: np.ndarray) -> np.ndarray:
    """The run's latest evaluation at or before each grid point (NaN before its first)."""
    idx = np.searchsorted(run.t_env, grid, side="right") - 1
    out = np.where(idx >= 0, run.values[np.clip(idx, 0, None)], np.nan)
    return out


def aggregate(runs: Sequence[RunCurve], band: tuple[float, float] | None = None) -> list[CurveBand]:
    """Median and band per (group, algo), on the union of the runs' evaluation steps.

    ``band`` gives the percentiles of the band; by default 0-100 for one-step matrix games
    (MRVF Sec. 5) and 25-75 otherwise.

    A grid point counts only runs that had been evaluated by then, and is kept only when
    every run of the group had (the curve starts where the slowest run's does).

    >>> a = RunCurve("a", "qmix", "e", "e", 0, "return", np.array([0, 10]), np.array([0.0, 1.0]), 10, False)
    >>> b = RunCurve("b", "qmix", "e", "e", 1, "return", np.array([0, 10]), np.array([2.0, 3.0]), 10, False)
    >>> band = aggregate([a, b])[0]
    >>> band.median.tolist(), band.low.tolist(), band.high.tolist()
    ([1.0, 2.0], [0.5, 1.5], [1.5, 2.5])
    """
    groups: dict[tuple[str, str], list[RunCurve]] = {}
    for run in runs:
        groups.setdefault((run.group, run.algo), []).append(run)
    bands = []
    for (group, algo), members in sorted(groups.items()):
        metric = members[0].metric
        if any(m.metric != metric for m in members):
            raise SettingsError(f"{group} / {algo}: runs mix metrics {sorted({m.metric for m in members})}")
        grid = np.unique(np.concatenate([m.t_env for m in members]))
        table = np.stack([_on_grid(m, grid) for m in members])
        keep = ~np.isnan(table).any(axis=0)
        grid, table = grid[keep], table[:, keep]
        q = tuple(band) if band is not None else (0.0, 100.0) if members[0].one_step else (25.0, 75.0)
        bands.append(CurveBand(group, algo, metric, grid, np.median(table, axis=0),
                               np.percentile(table, q[0], axis=0), np.percentile(table, q[1], axis=0),
                               q, len(members)))
    return bands


def final_table(runs: Sequence[RunCurve], tolerance: float = 0.05, final_fraction: float = 0.25) -> FinalTable:
    """Final performance and MRVF Table 3 style best/worst counts.

    Each run's final performance is the mean of its evaluations with
    ``t_env >= (1 - final_fraction) * steps`` (Table 3: after 1.5M of 2M steps, 0.25);
    a (group, algo) cell is the mean over its runs.  In each group, an algorithm is *best*
    when its cell is within ``tolerance`` of the group's maximum and *worst* within
    ``tolerance`` of the minimum (a group with one algorithm counts for neither).

    >>> mk = lambda algo, v: RunCurve(algo, algo, "e", "e", 0, "win_rate", np.array([100]), np.array([v]), 100, False)
    >>> t = final_table([mk("mrvf", 0.9), mk("qmix", 0.87), mk("qtran", 0.2)])
    >>> t.counts
    {'mrvf': {'best': 1, 'worst': 0}, 'qmix': {'best': 1, 'worst': 0}, 'qtran': {'best': 0, 'worst': 1}}
    """
    if tolerance < 0 or not 0 < final_fraction <= 1:
        raise SettingsError("need tolerance >= 0 and 0 < final_fraction <= 1")
    cells: dict[str, dict[str, list[float]]] = {}
    metrics = {r.metric for r in runs}
    group_metric = {r.group: r.metric for r in runs}
    for run in runs:
        cells.setdefault(run.group, {}).setdefault(run.algo, []).append(final_values(run, final_fraction))
    algos = sorted({r.algo for r in runs})
    counts = {a: {"best": 0, "worst": 0} for a in algos}
    rows = []
    for group in sorted(cells):
        means = {a: float(np.mean(v)) for a, v in cells[group].items()}
        hi, lo = max(means.values()), min(means.values())
        for algo in sorted(means):
            ranked = len(means) > 1
            best = ranked and means[algo] >= hi - tolerance
            worst = ranked and means[algo] <= lo + tolerance
            counts[algo]["best"] += best
            counts[algo]["worst"] += worst
            rows.append(FinalRow(group, algo, group_metric[group], len(cells[group][algo]), means[algo], bool(best), bool(worst)))
    return FinalTable(tuple(rows), counts, tolerance, metrics.pop() if len(metrics) == 1 else "mixed")


POOL_MODES = ("apart", "refuse")
#: Training settings that must agree within one curve: runs that differ in one are not pooled.
POOL_FIELDS = ("profile", "steps")


def separate_settings(runs: Sequence[RunCurve], mode: str = "apart") -> list[RunCurve]:
    """Keep runs of different training budgets or profiles out of one curve.

    Curves pool the runs of one (group, algo).  When those runs differ in a field of
    :data:`POOL_FIELDS` (``profile``, the ``steps`` budget), ``mode="apart"`` (the default)
    labels each run's algorithm with the differing fields, so each setting gets its own
    curve, row and statistics (``qmix [steps=20000]``, ``qmix [profile=pymarl, steps=2000000]``);
    ``mode="refuse"`` raises :class:`SettingsError` naming the group, algorithm and field.

    >>> mk = lambda seed, steps: RunCurve(f"r{seed}", "qmix", "e", "e", seed, "return", np.array([1]), np.array([0.0]), steps, False)
    >>> [r.algo for r in separate_settings([mk(0, 100), mk(1, 100), mk(2, 200)])]
    ['qmix [steps=100]', 'qmix [steps=100]', 'qmix [steps=200]']
    >>> [r.algo for r in separate_settings([mk(0, 100), mk(1, 100)])]
    ['qmix', 'qmix']
    """
    import dataclasses

    if mode not in POOL_MODES:
        raise SettingsError(f"mode must be one of {', '.join(POOL_MODES)}, got {mode!r}")
    cells: dict[tuple[str, str], list[RunCurve]] = {}
    for run in runs:
        cells.setdefault((run.group, run.algo), []).append(run)
    differing = {}
    for (group, algo), members in cells.items():
        fields = [f for f in POOL_FIELDS if len({getattr(m, f) for m in members}) > 1]
        if fields and mode == "refuse":
            values = [str(v) for v in sorted({getattr(m, fields[0]) for m in members})]
            raise SettingsError(f"{group} / {algo}: runs differ in {fields[0]} ({', '.join(values)}); "
                                "plot them apart (the default) or pass runs of one setting")
        differing[(group, algo)] = fields
    out = []
    for run in runs:
        fields = differing[(run.group, run.algo)]
        if fields:
            tag = ", ".join(f"{f}={getattr(run, f)}" for f in fields)
            run = dataclasses.replace(run, algo=f"{run.algo} [{tag}]")
        out.append(run)
    return out


def final_values(run: RunCurve, final_fraction: float = 0.25) -> float:
    """One run's final performance: the mean of its evaluations with
    ``t_env >= (1 - final_fraction) * steps`` (its last evaluation when there is none)."""
    sel = run.t_env >= (1.0 - final_fraction) * run.steps
    values = run.values[sel] if sel.any() else run.values[-1:]
    return float(values.mean())


@dataclass(frozen=True)
class GroupStats:
    """Aggregate statistics of the final performance of the runs of one (group, algo).

    ``iqm`` is the interquartile mean (``rliable.metrics.aggregate_iqm``; the 25% trimmed
    mean) and ``iqm_ci`` its stratified-bootstrap confidence interval; ``median`` and
    ``band`` (25th, 75th percentile) are plain numpy percentiles of the same values.
    """

    group: str
    algo: str
    metric: str
    n_runs: int
    median: float
    band: tuple[float, float]
    iqm: float
    iqm_ci: tuple[float, float]


@dataclass(frozen=True)
class Improvement:
    """Probability of improvement ``P(X > Y)`` of ``algo_x`` over ``algo_y`` in one group
    (``rliable.metrics.probability_of_improvement``, ties count half) with its bootstrap CI."""

    group: str
    algo_x: str
    algo_y: str
    probability: float
    ci: tuple[float, float]


@dataclass(frozen=True)
class AggregateStats:
    """What :func:`aggregate_stats` returns; :func:`render_stats` prints it."""

    groups: tuple[GroupStats, ...]
    improvements: tuple[Improvement, ...]
    reps: int
    confidence: float
    final_fraction: float


def aggregate_stats(runs: Sequence[RunCurve], final_fraction: float = 0.25, reps: int = 2000,
                    confidence: float = 0.95, seed: int = 0) -> AggregateStats:
    """IQM with stratified-bootstrap CIs and pairwise probabilities of improvement, per group.

    Each run contributes its final performance (:func:`final_values`); the runs of one
    (group, algo) are the bootstrap's runs, the group its single task.  Needs the ``stats``
    extra (``rliable``); without it raises :class:`SettingsError`.  ``seed`` seeds the
    bootstrap, so the intervals are reproducible (numpy's global generator, which rliable
    draws from, is restored afterwards).
    """
    try:
        from rliable import library as rly
        from rliable import metrics as rlm
    except ImportError:
        raise SettingsError("aggregate statistics need rliable: pip install 'stablepoint[stats]'") from None
    if reps < 1 or not 0 < confidence < 1 or not 0 < final_fraction <= 1:
        raise SettingsError("need reps >= 1, 0 < confidence < 1 and 0 < final_fraction <= 1")
    cells: dict[str, dict[str, list[float]]] = {}
    metric_of: dict[tuple[str, str], str] = {}
    for run in runs:
        cells.setdefault(run.group, {}).setdefault(run.algo, []).append(final_values(run, final_fraction))
        metric_of[(run.group, run.algo)] = run.metric
    # rliable draws its bootstrap indices from numpy's global generator (np.random.choice), not from
    # a random_state argument: seed it for the call and put the caller's state back afterwards.
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        return _aggregate_stats(cells, metric_of, rly, rlm, final_fraction, reps, confidence)
    finally:
        np.random.set_state(saved)


def _aggregate_stats(cells, metric_of, rly, rlm, final_fraction, reps, confidence) -> AggregateStats:
    groups, improvements = [], []
    for group in sorted(cells):
        scores = {algo: np.asarray(v, dtype=np.float64)[:, None] for algo, v in sorted(cells[group].items())}
        point, interval = rly.get_interval_estimates(
            scores, lambda x: np.array([rlm.aggregate_iqm(x)]), reps=reps, confidence_interval_size=confidence)
        for algo, x in scores.items():
            lo, hi = interval[algo][:, 0]
            groups.append(GroupStats(group, algo, metric_of[(group, algo)], len(x), float(np.median(x)),
                                     (float(np.percentile(x, 25)), float(np.percentile(x, 75))),
                                     float(point[algo][0]), (float(lo), float(hi))))
        algos = list(scores)
        pairs = {(a, b): [scores[a], scores[b]] for i, a in enumerate(algos) for b in algos[i + 1:]}
        if pairs:
            point, interval = rly.get_interval_estimates(
                pairs, lambda x, y: np.array([rlm.probability_of_improvement(x, y)]), reps=reps,
                confidence_interval_size=confidence)
            for (a, b) in pairs:
                lo, hi = interval[(a, b)][:, 0]
                improvements.append(Improvement(group, a, b, float(point[(a, b)][0]), (float(lo), float(hi))))
    return AggregateStats(tuple(groups), tuple(improvements), reps, confidence, final_fraction)


def render_stats(stats: AggregateStats) -> str:
    """Markdown tables of :class:`AggregateStats`: per (group, algo) the median, 25-75% band and IQM
    with its CI; then the probabilities of improvement."""
    pct = f"{100 * stats.confidence:g}%"
    lines = [f"Final performance (mean over the last {stats.final_fraction:g} of each run's steps); "
             f"IQM with {pct} stratified-bootstrap CI ({stats.reps} reps).", "",
             f"| env | algo | metric | runs | median | 25-75% | IQM | IQM {pct} CI |",
             "|---|---|---|---:|---:|---|---:|---|"]
    for g in stats.groups:
        lines.append(f"| {g.group} | {g.algo} | {g.metric} | {g.n_runs} | {g.median:.4g} | "
                     f"{g.band[0]:.4g} .. {g.band[1]:.4g} | {g.iqm:.4g} | {g.iqm_ci[0]:.4g} .. {g.iqm_ci[1]:.4g} |")
    if stats.improvements:
        lines += ["", f"| env | X | Y | P(X > Y) | {pct} CI |", "|---|---|---|---:|---|"]
        for i in stats.improvements:
            lines.append(f"| {i.group} | {i.algo_x} | {i.algo_y} | {i.probability:.3f} | {i.ci[0]:.3f} .. {i.ci[1]:.3f} |")
    return "\n".join(lines) + "\n"


_YLABELS = {"win_rate": "test win rate", "normalized_return": "test normalized return (Eq. 30)", "return": "test return"}


def plot_curves(bands: Sequence[CurveBand], *, title: str = ""):
    """One panel per group, one line (median) and shaded band per algorithm; returns the Figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    groups = sorted({b.group for b in bands})
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.4), squeeze=False)
    colors = {a: f"C{i}" for i, a in enumerate(sorted({b.algo for b in bands}))}
    for ax, group in zip(axes[0], groups):
        for b in (b for b in bands if b.group == group):
            ax.plot(b.t_env, b.median, color=colors[b.algo], label=f"{b.algo} (n={b.n_runs})")
            ax.fill_between(b.t_env, b.low, b.high, color=colors[b.algo], alpha=0.2, linewidth=0)
        metric = next(b.metric for b in bands if b.group == group)
        pct = next(b.band for b in bands if b.group == group)
        ax.set_title(group, fontsize=9)
        ax.set_xlabel("environment steps")
        ax.set_ylabel(f"{_YLABELS.get(metric, metric)}\nmedian, {pct[0]:.0f}-{pct[1]:.0f}%")
        ax.grid(alpha=0.3)
    for ax in axes[0]:
        ax.legend(fontsize=7, loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def write_final_csv(table: FinalTable, path, counts_path=None) -> None:
    """Write the per-(group, algo) final table to ``path`` and the best/worst counts to ``counts_path``
    (default ``<path stem>_counts.csv``)."""
    path = Path(path)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["env", "algo", "metric", "n_runs", "final", "best", "worst"])
        for r in table.rows:
            w.writerow([r.group, r.algo, r.metric, r.n_runs, f"{r.final_mean:.6g}", int(r.best), int(r.worst)])
    counts_path = Path(counts_path) if counts_path else path.with_name(path.stem + "_counts.csv")
    with counts_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["method", "best", "worst", "tolerance"])
        for algo, c in table.counts.items():
            w.writerow([algo, c["best"], c["worst"], table.tolerance])
