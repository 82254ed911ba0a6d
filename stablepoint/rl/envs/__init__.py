"""Batched multi-agent environments and the registry that builds them from a spec string.

Specs are ``"<env>:<arguments>"``:

* ``matrix:<catalog game>`` e.g. ``matrix:table5``,
  ``matrix:risk-reward:agents=3,actions=5,seed=0`` (anything
  :func:`stablepoint.catalog.get_game` accepts);
* ``matrix:file=<path>`` a payoff file (matrix CSV, long CSV or ``.npy``);
* ``predator_prey`` or ``predator_prey:punishment=-2,capture_rule=same_cell``
  (``key=value`` pairs overriding :class:`PredatorPreyEnv` options).

Keyword arguments of :func:`make_env` override the same options given in the spec.

>>> env = make_env("matrix:qtran", n_envs=4, seed=0)
>>> env.info.n_agents, env.info.n_actions, env.n_envs
(2, 3, 4)
>>> make_env("predator_prey:punishment=-2", n_envs=2, seed=0).info.n_agents
8
"""

from __future__ import annotations

from typing import Any, Callable

from stablepoint.errors import SettingsError
from stablepoint.rl.envs.base import EnvInfo, VecEnv

__all__ = ["ENVS", "make_env", "EnvInfo", "VecEnv", "parse_options"]


def _parse_scalar(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    return text


def parse_options(text: str) -> dict[str, Any]:
    """Parse ``"a=1,b=-2.5,c=same_cell"`` into ``{"a": 1, "b": -2.5, "c": "same_cell"}``.

    >>> parse_options("punishment=-2,capture_rule=adjacent")
    {'punishment': -2, 'capture_rule': 'adjacent'}
    """
    out: dict[str, Any] = {}
    if not text.strip():
        return out
    for item in text.split(","):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise SettingsError(f"bad env option {item!r}; expected key=value")
        out[key.strip()] = _parse_scalar(value.strip())
    return out


def _make_matrix(args: str, n_envs: int, seed: int, **kwargs) -> VecEnv:
    from stablepoint.rl.envs.matrix import MatrixGameEnv

    if not args:
        raise SettingsError("matrix env needs a game, e.g. matrix:table5 or matrix:file=path.csv")
    from stablepoint.catalog import get_game  # the one game-spec parser: --game X is matrix:X

    payoff = get_game(args)
    return MatrixGameEnv(payoff, n_envs=n_envs, seed=seed, **kwargs)


def _make_predator_prey(args: str, n_envs: int, seed: int, **kwargs) -> VecEnv:
    from stablepoint.rl.envs.predator_prey import PredatorPreyEnv

    options = {**parse_options(args), **kwargs}
    return PredatorPreyEnv(n_envs=n_envs, seed=seed, **options)


#: env name -> builder(args, n_envs, seed, **kwargs); ``-`` and ``_`` are interchangeable in names.
ENVS: dict[str, Callable[..., VecEnv]] = {
    "matrix": _make_matrix,
    "predator_prey": _make_predator_prey,
    "smac": lambda *a, **k: __import__("stablepoint.rl.envs.smac", fromlist=["make"]).make(*a, **k),
    "smax": lambda *a, **k: __import__("stablepoint.rl.envs.smax", fromlist=["make"]).make(*a, **k),
}


def make_env(spec: str, n_envs: int = 1, seed: int = 0, **kwargs) -> VecEnv:
    """Build ``n_envs`` copies of the env named by ``spec`` (see the module docstring).

    Parameters
    ----------
    spec : str
        ``"<name>"`` or ``"<name>:<arguments>"``; names are the keys of ``ENVS``.
    n_envs : int
        Number of copies stepped in lockstep.
    seed : int
        Seed of the env's random generator.
    **kwargs
        Env options (override those in the spec).

    Raises
    ------
    SettingsError
        Unknown env name or option.
    """
    name, _, args = str(spec).strip().partition(":")
    key = name.strip().lower().replace("-", "_")
    if key not in ENVS:
        raise SettingsError(f"unknown env {name!r}; choose one of: {', '.join(ENVS)}")
    try:
        return ENVS[key](args.strip(), n_envs, seed, **kwargs)
    except TypeError as exc:
        raise SettingsError(f"env {spec!r}: {exc}") from None


#: env families cheap enough to build once just to validate a spec (the others load simulators)
_CHEAP = ("matrix", "predator_prey")


def check_env_spec(spec: str) -> None:
    """Raise SettingsError (one line) for a bad env spec, before any run trains.

    Matrix games and predator-prey are built once with one copy (cheap, and exactly the
    checks a run makes); SMAC and SMAX specs are checked for their family and ``key=value``
    syntax only, because building them starts a simulator or a JAX program (whether those
    are installed is found when their run starts).
    """
    name, _, args = str(spec).strip().partition(":")
    key = name.strip().lower().replace("-", "_")
    if key not in ENVS:
        raise SettingsError(f"unknown env {name!r}; choose one of: {', '.join(ENVS)}")
    if key in _CHEAP:
        make_env(spec, n_envs=1, seed=0)
    elif args.strip():
        first, _, rest = args.partition(",")
        if "=" in first:
            parse_options(args)
        elif rest.strip():
            parse_options(rest)
