"""Cross-check trained learners against the exact stable-point analysis on a matrix game.

For each algorithm and seed, :func:`confirm` trains on ``matrix:<game>`` and reads the
learned greedy joint action; it then runs :func:`stablepoint.stability.analyze` with the
algorithm's exact counterpart (``AlgoConfig.analysis``, e.g. ``wqmix``) under the *same
visitation* the learner used at the end of training: the algorithm's exploration
(decentralized or centralized epsilon-greedy) at the final epsilon (for MRVF: the epsilon
of its Q_tot sampling policy pi_k).  A seed *agrees* when its greedy action is one of the
predicted stable points (for MRVF: one of the final actions the multi-round process can
terminate at).

Rendering (:func:`render_text`, :func:`render_markdown`) prints joint actions 1-based.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence


from stablepoint.catalog import get_game
from stablepoint.errors import SettingsError
from stablepoint.payoff import JointAction, Payoff
from stablepoint.rl.config import TrainConfig, make_config

__all__ = ["SeedOutcome", "AlgoConfirmation", "ConfirmResult", "confirm", "analysis_for", "render_text", "render_markdown"]


@dataclass(frozen=True)
class SeedOutcome:
    """One trained seed: its greedy joint action (0-based) and test return."""

    seed: int
    greedy: JointAction
    test_return: float
    run_dir: str


@dataclass(frozen=True)
class AlgoConfirmation:
    """One algorithm's seeds beside its predicted stable points.

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
    """

    algo: str
    method: str | None
    settings: dict
    seeds: tuple[SeedOutcome, ...]
    stable: tuple[JointAction, ...] | None
    kinds: dict
    optimal: tuple[JointAction, ...]

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
    def majority_optimal(self) -> bool:
        return 2 * self.n_optimal > len(self.seeds)


@dataclass(frozen=True)
class ConfirmResult:
    """Every algorithm's confirmation on one game."""

    game: str
    payoff: Payoff
    steps: int
    rows: tuple[AlgoConfirmation, ...]


def analysis_for(cfg: TrainConfig) -> tuple[str | None, dict]:
    """The exact method name and settings matching a training config's final visitation."""
    name = cfg.algo.analysis or None
    if name is None:
        return None, {}
    from stablepoint.methods import method_settings

    eps = cfg.algo.sample_epsilon if cfg.algo.sample_epsilon >= 0 else cfg.epsilon_finish
    settings = {"visitation": cfg.algo.exploration, "epsilon": float(eps)}
    if "alpha" in method_settings(name):
        settings["alpha"] = cfg.algo.alpha
    return name, settings


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
) -> ConfirmResult:
    """Train each algorithm on ``matrix:<game>`` for each seed and compare with the analysis.

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
        ``progress(algo, seed, t_env, steps)`` during training.
    """
    from stablepoint.rl.train import train

    payoff = get_game(game)
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list or not algos:
        raise SettingsError("confirm needs at least one algorithm and one seed")
    optimal = tuple(payoff.optimal_actions())
    rows = []
    out_dir = Path(out) / _slug(game)
    for algo in algos:
        outcomes = []
        cfg = None
        for seed in seed_list:
            settings = {"tensorboard": False, **dict(train_overrides or {})}
            cfg = make_config(f"matrix:{game}", algo, seed=seed, steps=steps, out=str(out_dir), **settings)
            cb = None if progress is None else (lambda t, total, _latest, a=algo, s=seed: progress(a, s, t, total))
            result = train(cfg, progress=cb)
            outcomes.append(SeedOutcome(seed, tuple(result.matrix.greedy), float(result.test["test/return_mean"]), str(result.run_dir)))
        method_name, method_settings = analysis_for(cfg)
        stable, kinds = None, {}
        if analyze_stable and method_name is not None:
            from stablepoint.methods import get_method
            from stablepoint.stability import analyze

            res = analyze(payoff, get_method(method_name, **method_settings))
            stable, kinds = tuple(res.stable_points), dict(res.kinds)
        rows.append(
            AlgoConfirmation(cfg.algo.name, method_name, method_settings, tuple(outcomes), stable, kinds, optimal)
        )
    return ConfirmResult(game, payoff, steps, tuple(rows))


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
    return ", ".join(f"{k}={v}" for k, v in row.settings.items())


def render_text(result: ConfirmResult) -> str:
    """A plain-text report, one block per algorithm (joint actions 1-based)."""
    lines = [
        f"game {result.game}: optimal {' '.join(_fmt(u) for u in result.rows[0].optimal)}; "
        f"{result.steps} env steps per run",
    ]
    for row in result.rows:
        learned = " ".join(_fmt(s.greedy) for s in row.seeds)
        lines.append(f"{row.algo}:")
        lines.append(f"  learned greedy (seeds {', '.join(str(s.seed) for s in row.seeds)}): {learned}")
        lines.append(f"  predicted stable points [{row.method or '-'}: {_settings_text(row)}]: {_stable_text(row)}")
        agree = "n/a" if row.n_agree is None else f"{row.n_agree}/{len(row.seeds)}"
        lines.append(f"  optimal: {row.n_optimal}/{len(row.seeds)}; agree with prediction: {agree}")
    return "\n".join(lines)


def render_markdown(result: ConfirmResult, command: str = "") -> str:
    """A markdown table of the same content (for committed results files)."""
    head = [f"## `{result.game}`", ""]
    if command:
        head += [f"Command: `{command}`", ""]
    head += [
        f"Optimal joint action(s): {' '.join(_fmt(u) for u in result.rows[0].optimal)}; "
        f"{result.steps} environment steps per run; joint actions 1-based.",
        "",
        "| algorithm | learned greedy per seed | optimal | predicted stable points (exact analysis) | analysis settings | agree |",
        "|---|---|---|---|---|---|",
    ]
    for row in result.rows:
        learned = " ".join(_fmt(s.greedy) for s in row.seeds)
        agree = "n/a" if row.n_agree is None else f"{row.n_agree}/{len(row.seeds)}"
        head.append(
            f"| {row.algo} | {learned} | {row.n_optimal}/{len(row.seeds)} | {_stable_text(row)} | "
            f"{row.method or '-'} {_settings_text(row)} | {agree} |"
        )
    return "\n".join(head) + "\n"
