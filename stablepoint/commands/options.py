"""The one option grammar of the ``stablepoint`` subcommands (table: ``docs/cli-grammar.md``).

Every subcommand declares its shared options through these decorators, so one concept has
one spelling everywhere:

* a one-step game: ``--game NAME|SPEC``, ``--payoff FILE`` or ``--env matrix:<game>``
  (:func:`game_options`; all three go through :func:`stablepoint.catalog.get_game`, the
  one game-spec parser, so ``--game X`` and ``--env matrix:X`` are the same game);
* any environment: ``--env SPEC``, with ``--game``/``--payoff`` as the matrix-game
  shorthands (:func:`env_options`);
* the method or learner: ``--method NAME`` (:func:`method_option`), ``--methods a,b`` for
  several (:func:`methods_option`);
* ``--jobs N`` (:func:`jobs_option`), ``--figure FILE`` (:func:`figure_option`),
  ``--seed K`` / ``--seeds LIST|N`` (:func:`seeds_option`), ``--format text|json|markdown``
  (:func:`format_option`), ``--progress/--no-progress`` (:func:`progress_option`; bars
  only on a terminal by default), ``--set KEY=VALUE`` (:func:`parse_settings`, the sweep
  file's keys: training fields, ``algo.<field>``, ``env.<field>``).

Old spellings stay accepted as hidden options that fill the new parameter and print one
line on stderr, ``stablepoint: --algo is deprecated; use --method``
(:func:`deprecated_alias`).  Giving an old and a new spelling of one option together is a
usage error.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable, Sequence

import click

from stablepoint.errors import SettingsError

__all__ = [
    "FORMAT_NAMES", "deprecation_note", "deprecated_alias", "game_options", "env_options", "method_option",
    "methods_option", "jobs_option", "figure_option", "format_option", "progress_option", "seeds_option",
    "show_progress", "parse_seeds", "parse_settings", "note_game_spellings",
]

FORMAT_NAMES = ("text", "json", "markdown")


def deprecation_note(old: str, new: str) -> None:
    """The one stderr line of an old spelling: ``stablepoint: OLD is deprecated; use NEW``."""
    click.echo(f"stablepoint: {old} is deprecated; use {new}", err=True)


def _given(value) -> bool:
    return value is not None and value != () and value != []


def _before(pre: Callable[[dict], None]):
    """Wrap a click callback so ``pre(kwargs)`` rewrites its keyword arguments first."""

    def decorate(f):
        @functools.wraps(f)
        def wrapper(*args, **kwargs):
            pre(kwargs)
            return f(*args, **kwargs)

        return wrapper

    return decorate


def _usage(message: str):
    return click.UsageError(message, ctx=click.get_current_context(silent=True))


def deprecated_alias(old: str, new: str, dest: str, *, convert: Callable[[Any], Any] | None = None, **option_kwargs):
    """A hidden option ``old`` that fills the parameter ``dest`` of the option ``new``.

    ``convert`` maps the old value to the new one (default: unchanged).  Using ``old``
    prints one deprecation line on stderr; using both ``old`` and ``new`` is a usage error
    (``new``'s default must be None, or ``()`` for a multiple option, to tell them apart).
    """
    hidden_name = "_deprecated_" + old.lstrip("-").replace("-", "_")

    def merge(kwargs):
        value = kwargs.pop(hidden_name, None)
        if not _given(value):
            return
        deprecation_note(old, new)
        if _given(kwargs.get(dest)):
            raise _usage(f"give {new} or its old spelling {old}, not both")
        kwargs[dest] = convert(value) if convert is not None else value

    def decorate(f):
        f = _before(merge)(f)
        return click.option(old, hidden_name, hidden=True, default=None, **option_kwargs)(f)

    return decorate


def _required(dest: str, flag: str):
    def check(kwargs):
        if not _given(kwargs.get(dest)):
            raise _usage(f"Missing option '{flag}'.")

    return _before(check)


def _apply(f, decorators):
    for d in reversed(decorators):
        f = d(f)
    return f


# --------------------------------------------------------------------------- games and envs


def note_game_spellings(spec: str) -> None:
    """One deprecation line for an old parameter name in a game spec (``penalty=`` of predator-prey)."""
    from stablepoint.catalog import MATRIX_PREFIX, PARAM_ALIASES

    text = str(spec).strip()
    if text.lower().startswith(MATRIX_PREFIX):
        text = text[len(MATRIX_PREFIX):]
    name, _, args = text.partition(":")
    aliases = PARAM_ALIASES.get(name.strip().lower().replace("_", "-"), {})
    for item in args.split(",") if args else []:
        key = item.partition("=")[0].strip()
        if key in aliases:
            deprecation_note(f"{name}:{key}=", f"{name}:{aliases[key]}=")


def _matrix_game(spec: str, command: str) -> str:
    """The game named by an ``--env`` spec that must be a one-step game (``matrix:<game>``)."""
    from stablepoint.catalog import MATRIX_PREFIX

    text = str(spec).strip()
    if not text.lower().startswith(MATRIX_PREFIX):
        raise SettingsError(f"{command} takes a one-step game: --env matrix:<game> (or --game <game>), got {spec!r}")
    return text[len(MATRIX_PREFIX):].strip()


def game_options(*, multiple: bool = False, default: str | None = None, dest: str = "game",
                 help_game: str | None = None):
    """``--game NAME|SPEC``, ``--payoff FILE`` and ``--env matrix:<game>``, merged into one argument ``dest``.

    ``dest`` receives a game spec for :func:`stablepoint.catalog.get_game` (``--payoff P`` as
    ``file=P``), or a tuple of them with ``multiple``.  Without ``default`` exactly one source
    is required (with ``multiple``: at least one).
    """
    gh = help_game or "Catalog game, e.g. table5 or risk-reward:agents=3,actions=3,seed=0 (see `stablepoint games`)."
    if multiple:
        gh += " Repeatable."

    def merge(kwargs):
        command = click.get_current_context().info_name or "this command"
        games = kwargs.pop("_games")
        payoffs = kwargs.pop("_payoffs")
        envs = kwargs.pop("_envs")
        if not multiple:
            games, payoffs, envs = [(x,) if x is not None else () for x in (games, payoffs, envs)]
        specs = [str(g) for g in games]
        specs += [_matrix_game(e, command) for e in envs]
        specs += [f"file={p}" for p in payoffs]
        for spec in specs:
            note_game_spellings(spec)
        if not specs and default is not None:
            specs = [default]
        if multiple:
            if not specs:
                raise _usage("Missing option '--game' (or --payoff FILE, --env matrix:GAME).")
            kwargs[dest] = tuple(specs)
            return
        if len(specs) != 1:
            raise _usage("give exactly one of --payoff FILE or --game NAME (or --env matrix:NAME)")
        kwargs[dest] = specs[0]

    kw = {"multiple": True} if multiple else {}
    opts = [
        click.option("--game", "_games", metavar="NAME|SPEC", help=gh, **kw),
        click.option("--payoff", "_payoffs", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Payoff file: matrix CSV, long CSV (a1,...,an,value) or .npy." + (" Repeatable." if multiple else ""), **kw),
        click.option("--env", "_envs", metavar="matrix:GAME",
                     help="The same game as an env spec (matrix:table5, matrix:file=p.csv)." + (" Repeatable." if multiple else ""), **kw),
    ]
    return lambda f: _apply(_before(merge)(f), opts)


def env_options(*, dest: str = "env"):
    """``--env SPEC`` (any environment), with ``--game NAME|SPEC`` and ``--payoff FILE`` as matrix-game shorthands.

    ``dest`` receives the env spec: ``--game X`` is ``matrix:X`` and ``--payoff P`` is ``matrix:file=P``.
    """
    from stablepoint.catalog import MATRIX_PREFIX

    def merge(kwargs):
        env, game, payoff = kwargs.pop("_env"), kwargs.pop("_game"), kwargs.pop("_payoff")
        given = [x for x in (env, game, payoff) if x is not None]
        if len(given) != 1:
            raise _usage("give exactly one of --env SPEC, --game NAME|SPEC or --payoff FILE")
        if env is not None:
            if str(env).strip().lower().startswith(MATRIX_PREFIX):
                note_game_spellings(env)
            kwargs[dest] = str(env)
        elif game is not None:
            note_game_spellings(game)
            text = str(game).strip()
            kwargs[dest] = text if text.lower().startswith(MATRIX_PREFIX) else MATRIX_PREFIX + text
        else:
            from pathlib import Path

            kwargs[dest] = f"{MATRIX_PREFIX}file={Path(payoff).resolve()}"

    opts = [
        click.option("--env", "_env", metavar="SPEC",
                     help="Environment spec, e.g. matrix:table5 or predator_prey:punishment=-2."),
        click.option("--game", "_game", metavar="NAME|SPEC", help="A one-step game: the same as --env matrix:NAME."),
        click.option("--payoff", "_payoff", type=click.Path(dir_okay=False), metavar="FILE",
                     help="A payoff file as a one-step game: the same as --env matrix:file=FILE."),
    ]
    return lambda f: _apply(_before(merge)(f), opts)


# --------------------------------------------------------------------------- methods, jobs, pictures


def method_option(dest: str = "method", *, required: bool = False, default: str | None = None,
                  help: str = "Method (analyses) or algorithm (learners).", old: Sequence[str] = ()):
    """``--method NAME``; each spelling in ``old`` a deprecated alias."""

    def decorate(f):
        if default is not None:
            f = _before(lambda kw: kw.__setitem__(dest, default) if not _given(kw.get(dest)) else None)(f)
        if required:
            f = _required(dest, "--method")(f)
        for o in old:
            f = deprecated_alias(o, "--method", dest)(f)
        shown = f" [default: {default}]" if default is not None else ""
        return click.option("--method", dest, default=None, metavar="NAME", help=help + shown)(f)

    return decorate


def _split_names(text) -> tuple:
    return tuple(a.strip() for a in str(text).split(",") if a.strip())


def methods_option(dest: str = "methods", *, default: str, old: Sequence[str] = ()):
    """``--methods a,b`` (several) and ``--method NAME`` (repeatable), merged into a tuple ``dest``."""

    def merge(kwargs):
        one = kwargs.pop("_method_each")
        many = kwargs.pop(dest)
        names = (tuple(one) if one else ()) + (_split_names(many) if many is not None else ())
        if many is not None and not _split_names(many):
            raise SettingsError("--methods names no method")
        kwargs[dest] = names or _split_names(default)

    def decorate(f):
        f = _before(merge)(f)
        for o in old:
            f = deprecated_alias(o, "--methods", dest)(f)
        f = click.option("--method", "_method_each", multiple=True, metavar="NAME",
                         help="One method or algorithm; repeatable (the same as --methods a,b).")(f)
        return click.option("--methods", dest, default=None, metavar="A,B,...",
                            help=f"Comma-separated method or algorithm names. [default: {default}]")(f)

    return decorate


def jobs_option(dest: str = "jobs", *, default: int | None = 1, help: str = "Processes in parallel.",
                old: Sequence[str] = ()):
    """``--jobs N`` (an integer; validated by the command); ``old`` spellings deprecated."""

    def decorate(f):
        if default is not None:
            f = _before(lambda kw: kw.__setitem__(dest, default) if kw.get(dest) is None else None)(f)
        for o in old:
            f = deprecated_alias(o, "--jobs", dest, type=int)(f)
        shown = f" [default: {default}]" if default is not None else ""
        return click.option("--jobs", dest, type=int, default=None, metavar="N", help=help + shown)(f)

    return decorate


def figure_option(dest: str = "figure", *, default: str | None = None, help: str = "Write a picture here.",
                  old: Sequence[str] = ()):
    """``--figure FILE``; ``old`` spellings deprecated."""

    def decorate(f):
        if default is not None:
            f = _before(lambda kw: kw.__setitem__(dest, default) if kw.get(dest) is None else None)(f)
        for o in old:
            f = deprecated_alias(o, "--figure", dest, type=click.Path(dir_okay=False))(f)
        shown = f" [default: {default}]" if default is not None else ""
        return click.option("--figure", dest, type=click.Path(dir_okay=False), default=None, metavar="FILE",
                            help=help + shown)(f)

    return decorate


def format_option(dest: str = "fmt", choices: Sequence[str] = FORMAT_NAMES):
    """``--format text|json|markdown`` (stdout), default text."""
    return click.option("--format", dest, type=click.Choice(list(choices)), default="text", show_default=True,
                        help="Output format on stdout.")


def progress_option(dest: str = "show_progress"):
    """``--progress/--no-progress``; None (the default) means: bars only when stderr is a terminal."""
    return click.option("--progress/--no-progress", dest, default=None,
                        help="Progress bar on stderr (default: only on a terminal).")


def show_progress(value: bool | None) -> bool:
    """The ``--progress/--no-progress`` value, the default resolved: stderr is a terminal."""
    if value is not None:
        return bool(value)
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


# --------------------------------------------------------------------------- seeds and settings


def parse_seeds(text, option: str = "--seeds") -> tuple[int, ...]:
    """``"N"`` -> seeds 0..N-1; ``"a,b,c"`` -> those seeds (non-negative, distinct).

    >>> parse_seeds("3"), parse_seeds("0, 3,7")
    ((0, 1, 2), (0, 3, 7))
    """
    raw = str(text).strip()
    try:
        if "," not in raw:
            n = int(raw)
            if n < 1:
                raise SettingsError(f"{option} must be >= 1, got {n}")
            return tuple(range(n))
        seeds = tuple(int(s) for s in raw.split(","))
    except ValueError:
        raise SettingsError(f"{option} must be a count N or a comma list of seeds (e.g. 0,3,7), got {text!r}") from None
    if any(s < 0 for s in seeds):
        raise SettingsError(f"{option} must be non-negative seeds, got {text!r}")
    if len(set(seeds)) != len(seeds):
        raise SettingsError(f"{option} {text!r} repeats a seed")
    return seeds


def seeds_option(dest: str = "seeds", *, default: str = "5"):
    """``--seeds LIST|N`` (several runs) and ``--seed K`` (just seed K), merged into a tuple ``dest``."""

    def merge(kwargs):
        one, many = kwargs.pop("_seed_one"), kwargs.pop(dest)
        if one is not None and many is not None:
            raise _usage("give --seed K (one seed) or --seeds LIST|N, not both")
        if one is not None:
            if one < 0:
                raise SettingsError(f"--seed must be >= 0, got {one}")
            kwargs[dest] = (one,)
        else:
            kwargs[dest] = parse_seeds(default if many is None else many)

    def decorate(f):
        f = _before(merge)(f)
        f = click.option("--seed", "_seed_one", type=int, default=None, metavar="K", help="Just seed K.")(f)
        return click.option("--seeds", dest, default=None, metavar="LIST|N",
                            help=f"Seeds 0..N-1, or a comma list (0,3,7). [default: {default}]")(f)

    return decorate


def _value(text: str):
    """A ``--set`` value read as a sweep file reads it (JSON, then YAML scalars), else the text."""
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        import yaml

        value = yaml.safe_load(text)
    except Exception:  # noqa: BLE001 - not YAML either: the text itself
        return text
    return value if isinstance(value, (bool, int, float, str, list)) and value is not None else text


def parse_settings(items: Sequence[str], option: str = "--set") -> dict:
    """``KEY=VALUE`` items as a sweep file's ``settings:`` mapping.

    Keys are training fields (``steps``, ``epsilon_anneal_steps``), ``algo.<field>``
    (``algo.lr``, ``algo.td_lambda``) or ``env.<field>`` (``env.gamma``); the configs
    validate them (:func:`stablepoint.rl.sweep.build_config`).

    >>> parse_settings(["algo.lr=0.001", "tensorboard=false", "env.n_envs = 4"])
    {'algo.lr': 0.001, 'tensorboard': False, 'env.n_envs': 4}
    """
    out = {}
    for item in items:
        key, eq, value = str(item).partition("=")
        if not eq or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=option)
        out[key.strip()] = _value(value)
    return out
