"""The papers' payoffs by name, and the risk-reward generator of MRVF Appendix E.1.

Fixed games are plain entries; parametric games take ``key=value`` arguments
after a colon, e.g. ``predator-prey:penalty=-5`` or
``risk-reward:agents=3,actions=5,seed=0``.

>>> get_game("table5")[2, 2]
5.0
>>> get_game("risk-reward:agents=2,actions=3,seed=1").shape
(3, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from stablepoint.errors import PayoffError, SettingsError
from stablepoint.payoff import Payoff

__all__ = ["GameEntry", "GAMES", "get_game", "list_games", "risk_reward", "predator_prey"]


def predator_prey(punishment: float = -2.0, actions: int = 6, penalty: float | None = None) -> Payoff:
    """Two-agent predator-prey payoff of MRVF Eq. 32: action 1 is "capture".

    Both capture: +10; exactly one captures: ``punishment``; neither: 0.  ``punishment``
    is the option's name in the predator-prey env too (``predator_prey:punishment=-2``);
    ``penalty`` is its old name here, still accepted.
    """
    if penalty is not None:
        punishment = penalty
    penalty = punishment
    actions = int(actions)
    if actions < 2:
        raise SettingsError(f"predator-prey needs at least 2 actions, got {actions}")
    y = np.zeros((actions, actions))
    y[0, :] = penalty
    y[:, 0] = penalty
    y[0, 0] = 10.0
    labels = ("capture",) + tuple(f"other{k}" for k in range(1, actions))
    return Payoff(y, (labels, labels), f"predator-prey(punishment={penalty:g})")


def risk_reward(agents: int = 3, actions: int = 5, seed: int = 0) -> Payoff:
    """A random risk-reward game (MRVF Appendix E.1), values in [-10, 10].

    Procedure, in this RNG order (``numpy.random.default_rng(seed)``):

    1. reward vectors ``r_i ~ U[0, 1]^actions`` for each agent, scaled by ``10 / agents``;
    2. a random permutation ``v_i = perm_i(u_i)`` of each agent's actions;
    3. ``Q_jt(u) = sign(v) * sum_i r_i(v_i)``, ``sign(v) = +1`` when every ``v_i`` is
       the same mapped action, ``-1`` otherwise.

    So exactly ``actions`` joint actions are positive ("consensus"), one per mapped action.
    """
    agents, actions, seed = int(agents), int(actions), int(seed)
    if agents < 2 or actions < 2:
        raise SettingsError(
            f"risk-reward needs agents >= 2 and actions >= 2, got agents={agents}, actions={actions}"
        )
    rng = np.random.default_rng(seed)
    rewards = rng.uniform(0.0, 1.0, size=(agents, actions)) * (10.0 / agents)
    perms = [rng.permutation(actions) for _ in range(agents)]
    grids = np.meshgrid(*[np.asarray(p) for p in perms], indexing="ij")
    total = sum(rewards[i][grids[i]] for i in range(agents))
    consensus = np.all([g == grids[0] for g in grids], axis=0)
    y = np.where(consensus, total, -total)
    return Payoff(y, (), f"risk-reward(agents={agents},actions={actions},seed={seed})")


@dataclass(frozen=True)
class GameEntry:
    """One catalog game: a builder, where it comes from, and its parameter names."""

    build: Callable[..., Payoff]
    source: str
    params: tuple[str, ...] = ()


def _fixed(values, name, labels=()):
    return lambda: Payoff(values, labels, name)


_TABLE5 = [[8, -12, -12], [-12, 3, 0], [-12, 0, 5]]
_FOCUS = ("A", "B", "C", "none")

GAMES: dict[str, GameEntry] = {
    "table4a": GameEntry(_fixed([[9, 8, 7], [6, 5, 4], [3, 2, 1]], "table4a"), "MRVF Table 4(a), monotonic"),
    "table4b": GameEntry(_fixed([[8, 9, 7], [3, 2, 1], [5, 6, 4]], "table4b"), "MRVF Table 4(b), monotonic (permuted 4a)"),
    "table4c": GameEntry(_fixed([[9, 0, 0], [0, 5, 0], [0, 0, 0]], "table4c"), "MRVF Table 4(c), non-monotonic"),
    "table4d": GameEntry(_fixed([[9, -9, -9], [-9, 5, 0], [-9, 0, 0]], "table4d"), "MRVF Table 4(d), highly non-monotonic"),
    "table5": GameEntry(_fixed(_TABLE5, "table5"), "MRVF Table 5(a) (also Tables 2, 6, 7)"),
    "table8": GameEntry(_fixed([[8, 0, 0], [0, 3, 0], [0, 0, 5]], "table8"), "MRVF Table 8(a), QPLEX example"),
    "table10a": GameEntry(_fixed([[3, -4, -5], [-4, 5, -6], [-5, -6, 7]], "table10a"), "MRVF Table 10(a), risk-reward before mapping"),
    "table10b": GameEntry(_fixed([[7, -6, -5], [-5, -4, 3], [-6, 5, -4]], "table10b"), "MRVF Table 10(b), risk-reward after mapping"),
    "table11": GameEntry(
        _fixed(
            [[2.2, 1.1, 1.1, -0.9], [1.1, 2, 1, -1], [1.1, 1, 2, -1], [-0.9, -1, -1, -2]],
            "table11",
            (_FOCUS, _FOCUS),
        ),
        "MRVF Table 11, SMAC focus fire",
    ),
    "qtran": GameEntry(_fixed([[8, -12, -12], [-12, 0, 0], [-12, 0, 0]], "qtran"), "QTRAN matrix game (Son et al. 2019)"),
    "game-a": GameEntry(_fixed([[12, -12, -12], [-12, 0, 0], [-12, 0, 0]], "game-a", (("A", "B", "C"),) * 2), "Beyond Monotonicity Table 1, Game A"),
    "game-b": GameEntry(_fixed([[12, 0, 10], [0, 0, 10], [10, 10, 10]], "game-b", (("A", "B", "C"),) * 2), "Beyond Monotonicity Table 1, Game B"),
    "predator-prey": GameEntry(predator_prey, "MRVF Eq. 32 (two agents, 6 actions)", ("punishment", "actions")),
    "risk-reward": GameEntry(risk_reward, "MRVF Appendix E.1 generator", ("agents", "actions", "seed")),
}

_ALIASES = {"table5a": "table5", "a": "game-a", "b": "game-b", "focus-fire": "table11", "table7": "table5"}

#: old parameter names still accepted: game -> {old: new} (the CLI prints a deprecation note)
PARAM_ALIASES = {"predator-prey": {"penalty": "punishment"}}

#: the env family whose specs name the same games (``matrix:<game>``, ``matrix:file=<path>``)
MATRIX_PREFIX = "matrix:"


def _parse_value(text: str):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            raise SettingsError(f"game parameter value {text!r} is not a number") from None


def get_game(spec: str) -> Payoff:
    """The payoff named by ``spec``: the one game-spec parser of the CLI and the matrix env.

    ``spec`` is ``name`` or ``name:key=value,...`` (a catalog game), ``file=<path>`` (a
    payoff file: matrix CSV, long CSV or ``.npy``), either one optionally prefixed by
    ``matrix:`` -- so ``--game X`` and ``--env matrix:X`` name the same game.  ``-`` and
    ``_`` are interchangeable in names (``predator_prey`` is ``predator-prey``).

    >>> get_game("matrix:table5").values.tolist() == get_game("table5").values.tolist()
    True
    >>> get_game("predator_prey:punishment=-5,actions=2").values.tolist()
    [[10.0, -5.0], [-5.0, 0.0]]

    Raises
    ------
    SettingsError
        Unknown name or parameter, with the list of valid ones.
    """
    spec = str(spec).strip()
    if spec.lower().startswith(MATRIX_PREFIX):
        spec = spec[len(MATRIX_PREFIX):].strip()
    if spec.startswith("file="):
        from stablepoint.payoff import load_payoff

        return load_payoff(spec[len("file="):])
    name, _, args = spec.partition(":")
    key = name.lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in GAMES:
        raise SettingsError(f"unknown game {name!r}; choose one of: {', '.join(GAMES)}")
    entry = GAMES[key]
    kwargs = {}
    if args:
        if not entry.params:
            raise SettingsError(f"game {key!r} takes no parameters")
        for item in args.split(","):
            k, eq, v = item.partition("=")
            k = k.strip()
            k = PARAM_ALIASES.get(key, {}).get(k, k)
            if not eq or k not in entry.params:
                raise SettingsError(
                    f"bad parameter {item!r} for game {key!r}; parameters: {', '.join(entry.params)} (as key=value)"
                )
            kwargs[k] = _parse_value(v.strip())
    try:
        return entry.build(**kwargs)
    except PayoffError:
        raise
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"game {spec!r}: {exc}") from None


def list_games() -> list[tuple[str, str, tuple[str, ...]]]:
    """``(name, source, parameter names)`` for every catalog game."""
    return [(k, e.source, e.params) for k, e in GAMES.items()]
