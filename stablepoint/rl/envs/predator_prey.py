"""Predator-prey with capture punishment (Böhmer et al. 2020, DCG; Rashid et al. 2020, WQMIX; MRVF E.2).

Predators on a bounded grid must catch randomly moving prey.  A prey is caught
only when at least two predators choose "capture" on it in the same step; when
exactly one tries, the team is punished.  A large punishment makes the payoff
highly non-monotonic (MRVF Section 5.2, Appendix H.4).

Every rule, as implemented here (defaults in brackets):

Grid and entities
    A ``grid_size`` x ``grid_size`` grid [10 x 10] with walls at the border (no
    wrap-around), ``n_predators`` predators [8] (the agents) and ``n_prey``
    prey [8].  At reset all entities are placed on distinct cells drawn
    uniformly at random.

Actions (per predator)
    ``0`` up (row - 1), ``1`` down (row + 1), ``2`` left (column - 1),
    ``3`` right (column + 1), ``4`` stay, ``5`` capture.

Capture rule (``capture_rule``)
    ``"adjacent"`` [default, DCG and WQMIX]: a predator can capture a prey in
    one of the four cells next to it (Manhattan distance 1).  Cells hold at
    most one entity: a move into an occupied cell (by a predator or a prey)
    fails and the mover stays.
    ``"same_cell"`` (MRVF Appendix E.2's wording): a predator can capture a
    prey on its own cell.  Cells may hold any number of entities, and moves are
    blocked only by the walls.

Capture resolution (on the positions at the start of the step, i.e. what the
agents observed)
    A predator choosing capture attempts every active prey within reach.  A
    prey with at least ``capture_needed`` [2] attempts is captured: reward
    ``capture_reward`` [+10] per prey.  A prey with at least one but fewer than
    ``capture_needed`` attempts (exactly one, by default) costs ``punishment``
    [0; the papers use 0, -2, -5] per prey.  Captured prey and every predator
    that attempted them are removed from the grid.  A predator attempting two
    prey at once counts for both (so one step can both reward and punish it).

Movement, after captures (as in DCG's ``stag_hunt``)
    Active predators that chose a move act one at a time in an order drawn at
    random each step; a move off the grid or (``"adjacent"`` rule) into an
    occupied cell leaves the predator in place.  Predators that tried to
    capture and failed stay.  Then each active prey, one at a time in random
    order, stays with probability ``prey_rest_prob`` [0, as DCG's
    ``p_stags_rest``] and otherwise moves to one of its *open* neighbouring
    cells drawn uniformly (open: on the grid and, under ``"adjacent"``, empty);
    a prey with no open neighbour stays.  (Capture is resolved before any
    movement, on the observed positions; since capturers do not move and prey
    move after, this gives the same captures as DCG's order.)

Availability (``avail_actions``)
    Stay is always available.  A move is available when it stays on the grid
    (moves into occupied cells are available; they just fail).  Capture is
    available when an active prey is within reach.  A removed predator has only
    stay.

Observation (one vector per predator, ``obs_dim = 2 * (2r+1)^2 + 2`` = 52)
    A ``(2r+1) x (2r+1)`` window [5 x 5, ``obs_radius`` r = 2] centred on the
    predator, with two channels: the number of *other* active predators and the
    number of active prey in each cell (cells outside the grid read 0).  Then,
    with ``observe_position`` [True], the predator's own row and column scaled
    to [0, 1], which locates the walls.  A removed predator observes zeros.
    Channel-major order: ``[predators window, prey window, row, col]``.

State (``state_dim = 2 * grid_size^2`` = 200)
    The whole grid with the same two channels (active-predator and active-prey
    counts), channel-major.

Reward, termination, limit
    The team reward of a step is the sum of capture rewards and punishments
    (no time penalty).  An episode terminates when every prey is captured or
    every predator is removed (DCG's rule; with 8 predators and 8 prey at most
    4 prey can be caught, so a perfect episode returns 40 and ends when the
    last pair is removed).  A predator left alone cannot capture any more but
    can still be punished.  Otherwise the episode runs to ``episode_limit``
    [200] steps, which the runner enforces (a time limit is not a termination).

Differences from DCG's ``stag_hunt`` (``rel_overgen.yaml``) besides the
``same_cell`` option: the observation drops the always-empty hare channel,
does not count the predator itself, and appends the own position (DCG:
3 x 5 x 5 = 75 features, no walls); the state drops the hare channel
(200 instead of 300 features).  In the rare step where one predator attempts
two prey, DCG resolves the prey in random order and a predator frozen by the
first capture no longer counts for the second; here every attempt counts for
every prey in reach, independent of order.

Step ``info`` holds per-copy int arrays ``captures`` (prey caught this step)
and ``miscaptures`` (punished attempts this step).

Implementation (why it is vectorized the way it is)
    The env runs once per step of every training and test episode, on small
    arrays, so its cost is the number of numpy calls per step, not
    arithmetic.  Every quantity is therefore computed for all copies and all
    entities at once: on flat cell indices (``row * grid_size + column``),
    predators and prey in one array, and with lookup tables built once per
    env (each cell's neighbours, the cells it reaches, its observation
    window, the moves available from it).  Two extra slots turn masks into
    lookups: ``OFF`` (off the grid: always closed, always empty in
    observations) and ``GONE`` (where removed entities are counted).
    Counts, reach and availability are derived once per state and shared by
    :meth:`~PredatorPreyEnv.obs`, :meth:`~PredatorPreyEnv.state`,
    :meth:`~PredatorPreyEnv.avail_actions` and
    :meth:`~PredatorPreyEnv.step`; the entity arrays are read-only views, so
    nothing can change the state behind that cache.

    The only sequential part of the rules is movement: under ``"adjacent"``
    a move depends on the cells the entities before it vacated or filled.
    :func:`sequential_moves` resolves all copies' predators and prey at once
    as the fixed point of "every entity moves against the cells its
    predecessors' current guesses leave open", which is unique and equal to
    the one-at-a-time result because an entity depends only on entities
    before it (one or two iterations in practice).  Random numbers are drawn
    exactly as in the one-at-a-time version (predator order, prey keys, prey
    rests, prey order, every step), so a seed gives the same episodes;
    ``tests/test_predator_prey_vectorized.py`` checks this against a copy of
    that version.

>>> env = PredatorPreyEnv(n_envs=2, seed=0)
>>> env.reset()
>>> env.obs().shape, env.state().shape, env.avail_actions().shape
((2, 8, 52), (2, 200), (2, 8, 6))
"""

from __future__ import annotations

import numpy as np

from stablepoint.errors import SettingsError
from stablepoint.rl.envs.base import EnvInfo, check_actions, check_n_envs

__all__ = [
    "PredatorPreyEnv",
    "ACTIONS",
    "UP",
    "DOWN",
    "LEFT",
    "RIGHT",
    "STAY",
    "CAPTURE",
    "CAPTURE_RULES",
    "grid_tables",
    "sequential_moves",
    "free_moves",
]

UP, DOWN, LEFT, RIGHT, STAY, CAPTURE = range(6)
#: action names in index order.
ACTIONS = ("up", "down", "left", "right", "stay", "capture")
#: (row, column) displacement of each action; capture does not move.
_DELTA = np.array([[-1, 0], [1, 0], [0, -1], [0, 1], [0, 0], [0, 0]], dtype=np.int64)
#: capture rule -> the Manhattan distance at which a predator reaches a prey.
CAPTURE_RULES = {"adjacent": 1, "same_cell": 0}


def _int_option(name, value, low):
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"predator_prey option {name} must be an integer, got {value!r}") from None
    if out != value or out < low:
        raise SettingsError(f"predator_prey option {name} must be an integer >= {low}, got {value!r}")
    return out


def _float_option(name, value):
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"predator_prey option {name} must be a number, got {value!r}") from None
    if not np.isfinite(out):
        raise SettingsError(f"predator_prey option {name} must be finite, got {value!r}")
    return out


# ---------------------------------------------------------------------- pure helpers


def grid_tables(grid_size: int, obs_radius: int, reach: int) -> dict[str, np.ndarray]:
    """Lookup tables on flat cells, so per-step work is gathers instead of coordinate arithmetic.

    Flat cell ``c = row * grid_size + column`` for the ``G = grid_size**2`` grid
    cells; slot ``G`` is the sentinel ``OFF`` (off the grid) and ``G + 1`` the
    sentinel ``GONE`` (the slot of removed entities).  Sentinel rows are built
    so that a removed entity looked up there gets what the rules give it
    (only "stay", no reach) without a separate mask.

    Parameters
    ----------
    grid_size, obs_radius : int
    reach : int
        Manhattan distance at which a predator captures (``CAPTURE_RULES``).

    Returns
    -------
    dict
        ``cells`` ``(G, 2)`` int64: (row, column) of each cell.
        ``position`` ``(G, 2)`` float32: (row, column) scaled to [0, 1] as observed.
        ``neighbour`` ``(G + 2, 6)`` int64: the slot each action leads to
        (``OFF`` off the grid and from the sentinels).
        ``reach`` ``(G + 2, R)`` int64: the cells a predator there reaches
        (its 4 neighbours or its own cell; ``OFF`` pads and fills the sentinel rows).
        ``window`` ``(G, (2r+1)**2)`` int64: the cells of each cell's observation
        window in row-major order, ``OFF`` outside the grid.
        ``avail`` ``(G + 2, 6)`` bool: the moves that stay on the grid and stay;
        capture left False (it depends on the prey); sentinel rows only stay.

    Examples
    --------
    >>> t = grid_tables(3, 1, 1)
    >>> t["neighbour"][0].tolist(), t["reach"][0].tolist(), t["window"][0].tolist()
    ([9, 3, 9, 1, 0, 0], [9, 3, 9, 1], [9, 9, 9, 9, 0, 1, 9, 3, 4])
    """
    g, r = grid_size, obs_radius
    n_cells = g * g
    off = n_cells
    cells = np.stack(np.divmod(np.arange(n_cells), g), axis=1)
    target = cells[:, None, :] + _DELTA[None, :, :]
    on_grid = np.all((target >= 0) & (target < g), axis=-1)
    neighbour = np.full((n_cells + 2, len(ACTIONS)), off, dtype=np.int64)
    neighbour[:n_cells] = np.where(on_grid, target[..., 0] * g + target[..., 1], off)
    if reach == 1:
        reach_cells = neighbour[:, :4]
    elif reach == 0:
        reach_cells = np.append(np.arange(n_cells), [off, off])[:, None]
    else:
        raise ValueError(f"a reach of {reach} is not a capture rule ({CAPTURE_RULES})")
    offsets = np.stack(np.meshgrid(np.arange(-r, r + 1), np.arange(-r, r + 1), indexing="ij"), axis=-1).reshape(-1, 2)
    wcells = cells[:, None, :] + offsets[None, :, :]
    inside = np.all((wcells >= 0) & (wcells < g), axis=-1)
    window = np.where(inside, wcells[..., 0] * g + wcells[..., 1], off)
    avail = np.zeros((n_cells + 2, len(ACTIONS)), dtype=bool)
    avail[:n_cells, :4] = on_grid[:, :4]
    avail[:, STAY] = True
    return {
        "cells": cells,
        # the same float32 expression the observation always used, so values are bit-identical
        "position": cells.astype(np.float32) / max(g - 1, 1),
        "neighbour": neighbour,
        "reach": np.ascontiguousarray(reach_cells),
        "window": window,
        "avail": avail,
    }


#: key of the "stay" column appended to every entity's candidates: real keys lie in [0, 1) and
#: closed candidates read -1, so staying wins exactly when no real candidate is open
_STAY_KEY = -0.5


def _with_stay(cand, keys, src) -> tuple[np.ndarray, np.ndarray]:
    """Candidates and keys with the last "stay" column (the entity's own cell, key ``_STAY_KEY``)."""
    stay_key = np.full(keys.shape[:-1] + (1,), _STAY_KEY)
    return np.concatenate([cand, src[..., None]], axis=-1), np.concatenate([keys, stay_key], axis=-1)


def _take(cand, open_, keys) -> np.ndarray:
    """The cell each entity ends on: its open column with the largest key (first of equal keys).

    With the "stay" column open, the argmax is the move taken, staying included, so the
    destination is one gather, with no separate "was any candidate open?" pass.
    """
    e, k, c = cand.shape
    choice = np.where(open_, keys, -1.0).argmax(-1)
    return cand.reshape(-1)[np.arange(0, e * k * c, c) + choice.ravel()].reshape(e, k)


def _free_moves(cand, keys, moving, off) -> np.ndarray:
    """:func:`free_moves` on candidates and keys that already end with the "stay" column."""
    open_ = (cand != off) & moving[..., None]
    open_[..., -1] = True
    return _take(cand, open_, keys)


def free_moves(src, cand, keys, moving, off) -> np.ndarray:
    """Destinations when nothing blocks (the ``"same_cell"`` rule): every on-grid move succeeds.

    Then the order of turns does not matter, so all entities move at once.

    Parameters
    ----------
    src, cand, keys, moving
        As in :func:`sequential_moves`.
    off : int
        The off-grid slot; candidates equal to it are closed.

    Returns
    -------
    ndarray of int64, shape (E, k)

    Examples
    --------
    >>> free_moves(np.array([[0, 1]]), np.array([[[1, 9], [9, 9]]]), np.full((1, 2, 2), 0.5),
    ...            np.array([[True, True]]), off=9).tolist()
    [[1, 1]]
    """
    return _free_moves(*_with_stay(cand, keys, src), moving, off)


def _move_layout(e, k, c, n_slots) -> tuple:
    """Index arrays :func:`_sequential_moves` needs for a given shape (the env makes them once)."""
    base = (np.arange(e) * n_slots)[:, None]
    rows = np.arange(0, e * k * c, c).reshape(e, k)
    # the "stay" column's slot, one past the copies' cells: left before any turn, never entered
    stay_slot = e * n_slots
    return base, rows, stay_slot


def _sequential_moves(src, cand, keys, moving, occ, rank, layout=None) -> np.ndarray:
    """:func:`sequential_moves` on candidates and keys that already end with the "stay" column."""
    e, k, c = cand.shape
    n_slots = occ.shape[1]
    base, rows, stay_slot = layout if layout is not None else _move_layout(e, k, c, n_slots)
    never = k  # a turn after every real one
    # Per-cell turns live in flat arrays over all copies, plus the "stay" slot (index arithmetic
    # rather than broadcast_to/append/full: this runs every step, on small arrays).
    cand_slot = cand + base[:, :, None]
    cand_slot[..., -1] = stay_slot
    movers = np.flatnonzero(moving)
    mover_src = (src + base).ravel()[movers]
    mover_base = movers // k * n_slots
    mover_turn = rank[movers % k]
    # a non-mover's turn reads -1: no cell is left before it, so only "stay" is open to it
    turn = np.where(moving, rank, -1)[..., None]
    left0 = np.empty(stay_slot + 1, dtype=np.int64)
    left0[:-1] = np.where(occ.ravel() > 0, never, -1)
    left0[-1] = -2
    entered0 = np.full_like(left0, never)
    flat_cand = cand.reshape(-1)

    def take(open_):
        return flat_cand[rows + np.where(open_, keys, -1.0).argmax(-1)]

    dest = take(left0[cand_slot] < turn)
    for _ in range(k):
        mover_dest = dest.ravel()[movers] + mover_base
        moved_turn = np.where(mover_dest != mover_src, mover_turn, never)
        left = left0.copy()
        left[mover_src] = moved_turn
        entered = entered0.copy()
        np.minimum.at(entered, mover_dest, moved_turn)
        new = take((left[cand_slot] < turn) & (entered[cand_slot] >= turn))
        if (new == dest).all():
            break
        dest = new
    return dest


def sequential_moves(src, cand, keys, moving, occ, rank) -> np.ndarray:
    """Destinations when entities move one at a time into empty cells (the ``"adjacent"`` rule).

    At its turn, a moving entity considers its candidate cells, takes the open
    one (empty at that moment) with the largest key, and stays when none is
    open.  As a cell holds at most one entity and every entity moves at most
    once, a cell's history is short: its first occupant (if any) may leave at
    some turn, after which at most one entity enters, for good.  So a cell is
    open at turn ``r`` exactly when ``left < r <= entered``, with ``left`` the
    turn its occupant leaves (-1 if it starts empty, never if the occupant
    stays) and ``entered`` the first turn someone moves in.  Given a guess of
    everyone's destination, both turns are one scatter over the cells, and
    every entity's choice against them one gather.

    The choice of the entity at turn ``r`` depends only on entities before
    ``r``, so the map "destinations -> choices against the turns they imply"
    has a unique fixed point, the one-at-a-time result.  Iterating it from
    "nobody moved" fixes at least one more turn per iteration (at most ``k``);
    it stops when the destinations reproduce themselves, usually after one or
    two iterations, as chains of entities making room for each other are
    short.  This replaces ``k`` dependent Python steps by a few array passes
    over all copies and entities; the env passes predators and prey in one
    call (predators first in the order), so the fixed cost is paid once per
    step.

    Parameters
    ----------
    src : ndarray of int, shape (E, k)
        Flat cells of the entities before they move.
    cand : ndarray of int, shape (E, k, C)
        Flat candidate cells of each entity, none equal to its own cell
        (off-grid candidates, and padding for entities with fewer candidates,
        are a slot with a positive count in ``occ``).
    keys : ndarray of float, shape (E, k, C)
        Preferences in [0, 1); the largest open candidate is taken.
    moving : ndarray of bool, shape (E, k)
        Entities that try to move at all (the others stay, and block their cell
        if ``occ`` counts them).
    occ : ndarray of int or float, shape (E, S)
        Entities per slot before anyone moves, at most 1 on every cell (S
        covers every index in ``cand``; every mover is counted on its cell).
    rank : ndarray of int, shape (k,)
        The turn of each entity, 0 first (shared by the copies).

    Returns
    -------
    ndarray of int64, shape (E, k)
        Flat cells after everyone's turn.

    Examples
    --------
    Three entities in a row of cells 0, 1, 2 each try to move right into
    cell 1, 2, 3; the front one moving first makes room for the others:

    >>> src, cand = np.array([[0, 1, 2]]), np.array([[[1], [2], [3]]])
    >>> occ = np.array([[1, 1, 1, 0]])
    >>> keys, moving = np.zeros((1, 3, 1)), np.ones((1, 3), bool)
    >>> sequential_moves(src, cand, keys, moving, occ, np.array([2, 1, 0])).tolist()
    [[1, 2, 3]]
    >>> sequential_moves(src, cand, keys, moving, occ, np.array([0, 1, 2])).tolist()
    [[0, 1, 3]]
    """
    return _sequential_moves(src, *_with_stay(cand, keys, src), moving, occ, rank)


# ---------------------------------------------------------------------- the env


def _read_only(array: np.ndarray) -> np.ndarray:
    """A view of ``array`` that cannot be written through (it still follows writes to ``array``)."""
    view = array.view()
    view.flags.writeable = False
    return view


class PredatorPreyEnv:
    """``n_envs`` copies of predator-prey with capture punishment (rules in the module docstring).

    Parameters
    ----------
    n_envs : int
        Copies stepped together.
    seed : int, optional
        Seed of the env's generator (initial positions, prey moves, move order).
    punishment : float
        Team reward when a prey gets some but too few capture attempts (0, -2, -5 ...).
    capture_rule : {"adjacent", "same_cell"}
        Where a predator must be to capture a prey.
    grid_size, n_predators, n_prey, obs_radius, episode_limit, capture_needed : int
    capture_reward : float
    observe_position : bool
        Append the predator's own scaled (row, column) to its observation.
    prey_rest_prob : float
        Probability that a prey stays put in a step instead of moving.

    Attributes
    ----------
    pred_pos, prey_pos : ndarray of int64, shape (n_envs, n_predators or n_prey, 2)
        (row, column) of every entity (removed ones keep their last cell).
    pred_active, prey_active : ndarray of bool, shape (n_envs, n_predators or n_prey)
        Entities still on the grid.
    done : ndarray of bool, shape (n_envs,)
    t : ndarray of int64, shape (n_envs,)
        Steps taken in the current episode.

    Notes
    -----
    The four entity arrays are read-only views that follow the env's state:
    the counts, reach and availability derived from them are computed once
    per state and shared by :meth:`obs`, :meth:`state`,
    :meth:`avail_actions` and :meth:`step`, so an in-place write from outside
    would leave them stale; :meth:`set_positions` is the way to change them.
    """

    def __init__(
        self,
        n_envs: int = 1,
        seed: int | None = None,
        *,
        punishment: float = 0.0,
        capture_rule: str = "adjacent",
        grid_size: int = 10,
        n_predators: int = 8,
        n_prey: int = 8,
        obs_radius: int = 2,
        episode_limit: int = 200,
        capture_needed: int = 2,
        capture_reward: float = 10.0,
        observe_position: bool = True,
        prey_rest_prob: float = 0.0,
    ):
        self.n_envs = check_n_envs(n_envs)
        if capture_rule not in CAPTURE_RULES:
            raise SettingsError(
                f"unknown capture_rule {capture_rule!r}; choose one of: {', '.join(CAPTURE_RULES)}"
            )
        self.capture_rule = capture_rule
        self.punishment = _float_option("punishment", punishment)
        self.capture_reward = _float_option("capture_reward", capture_reward)
        self.prey_rest_prob = _float_option("prey_rest_prob", prey_rest_prob)
        if not 0.0 <= self.prey_rest_prob <= 1.0:
            raise SettingsError(f"predator_prey option prey_rest_prob must be in [0, 1], got {prey_rest_prob!r}")
        self.grid_size = _int_option("grid_size", grid_size, 2)
        self.n_predators = _int_option("n_predators", n_predators, 1)
        self.n_prey = _int_option("n_prey", n_prey, 1)
        self.obs_radius = _int_option("obs_radius", obs_radius, 0)
        self.capture_needed = _int_option("capture_needed", capture_needed, 1)
        limit = _int_option("episode_limit", episode_limit, 1)
        if not isinstance(observe_position, (bool, np.bool_)):
            raise SettingsError(f"predator_prey option observe_position must be true or false, got {observe_position!r}")
        self.observe_position = bool(observe_position)
        if self.n_predators + self.n_prey > self.grid_size**2:
            raise SettingsError(
                f"{self.n_predators} predators and {self.n_prey} prey do not fit on a "
                f"{self.grid_size}x{self.grid_size} grid"
            )
        self._reach = CAPTURE_RULES[capture_rule]
        #: every rule option, for run records (results must say which capture rule they used)
        self.options = {
            "punishment": self.punishment,
            "capture_rule": capture_rule,
            "grid_size": self.grid_size,
            "n_predators": self.n_predators,
            "n_prey": self.n_prey,
            "obs_radius": self.obs_radius,
            "episode_limit": limit,
            "capture_needed": self.capture_needed,
            "capture_reward": self.capture_reward,
            "observe_position": self.observe_position,
            "prey_rest_prob": self.prey_rest_prob,
        }
        self._blocking = capture_rule == "adjacent"
        window = 2 * self.obs_radius + 1
        self.info = EnvInfo(
            n_agents=self.n_predators,
            n_actions=len(ACTIONS),
            obs_dim=2 * window * window + (2 if self.observe_position else 0),
            state_dim=2 * self.grid_size**2,
            episode_limit=limit,
        )
        self._rng = np.random.default_rng(seed)
        e, n, m = self.n_envs, self.n_predators, self.n_prey
        # The state proper: flat cell and activity of every entity, predators first, in one
        # array each so that per-step work runs once over all entities; positions follow the
        # flat cells for readers.  The public arrays are read-only views of these.
        self._flat = np.zeros((e, n + m), dtype=np.int64)
        self._active = np.zeros((e, n + m), dtype=bool)
        self._pos = np.zeros((e, n + m, 2), dtype=np.int64)
        self._pred_flat, self._prey_flat = self._flat[:, :n], self._flat[:, n:]
        self._pred_active, self._prey_active = self._active[:, :n], self._active[:, n:]
        self.pred_pos, self.prey_pos = _read_only(self._pos[:, :n]), _read_only(self._pos[:, n:])
        self.pred_active, self.prey_active = _read_only(self._pred_active), _read_only(self._prey_active)
        self.done = np.ones(e, dtype=bool)
        self.t = np.zeros(e, dtype=np.int64)
        self._envs = np.arange(e)
        self._derived_cache = None

        tables = grid_tables(self.grid_size, self.obs_radius, self._reach)
        g2 = self.grid_size**2
        self._off, self._gone, self._n_slots = g2, g2 + 1, g2 + 2
        s = self._n_slots
        self._cells = tables["cells"]
        self._reach_cells = tables["reach"]
        self._avail_cell = tables["avail"]
        # observation gather: per cell, both channels' windows as indices into a copy's (2, S) block
        # of counts (shifted per copy by _obs_base), then the scaled position, found behind the
        # counts of all copies (not shifted)
        n_win = 2 * window * window
        columns = [tables["window"], tables["window"] + s]
        if self.observe_position:
            columns.append(e * 2 * s + 2 * np.arange(g2)[:, None] + np.arange(2))
        self._obs_index = np.concatenate(columns, axis=1)
        self._obs_base = np.zeros((e, 1, self.info.obs_dim), dtype=np.int64)
        self._obs_base[:, :, :n_win] = (self._envs * 2 * s)[:, None, None]
        self._obs_source = np.concatenate([np.zeros(e * 2 * s, dtype=np.float32), tables["position"].reshape(-1)])
        self._centre = self.obs_radius * window + self.obs_radius
        # count slot offsets: per copy a (2, S) block, predators in row 0 and prey in row 1, so one
        # bincount gives both channels; per-cell counts of one kind (_per_cell) use one S block
        self._env_base = self._envs[:, None] * s
        self._chan_base = self._env_base * 2 + np.repeat([0, s], [n, m])
        self._prey_chan_base = (self._env_base * 2 + s)[:, :, None]
        # move candidates with the "stay" column last (see sequential_moves): a predator has the
        # cell its action leads to, padded with closed OFF slots to the prey's four neighbours
        neighbour = tables["neighbour"]
        stay = np.arange(s)[:, None]
        self._prey_cand = np.concatenate([neighbour[:, :4], stay], axis=1)
        self._pred_cand = np.full((s, len(ACTIONS), 5), self._off, dtype=np.int64)
        self._pred_cand[:, :, 0] = neighbour
        self._pred_cand[:, :, 4] = stay
        # keys, same layout: the prey's four are drawn each step, a predator's one real candidate
        # needs no key, and "stay" ranks below every real key
        self._keys = np.zeros((e, n + m, 5))
        self._keys[..., 4] = _STAY_KEY
        self._move_layout = _move_layout(e, n + m, 5, s)
        self._avail_rows = np.arange(e * n).reshape(e, n) * len(ACTIONS)
        self.reset()

    def __repr__(self) -> str:
        return (
            f"PredatorPreyEnv(n_envs={self.n_envs}, grid={self.grid_size}, predators={self.n_predators}, "
            f"prey={self.n_prey}, punishment={self.punishment:g}, capture_rule={self.capture_rule!r})"
        )

    # ------------------------------------------------------------------ episode control
    def _place(self, flat) -> None:
        """Move every entity to the given flat cells (positions follow); the derived values go stale."""
        self._flat[:] = flat
        self._pos[:] = self._cells[self._flat]
        self._derived_cache = None

    def reset(self, seed: int | None = None) -> None:
        """Place all entities on distinct random cells in every copy."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        e, n, m, g = self.n_envs, self.n_predators, self.n_prey, self.grid_size
        self._place(np.argsort(self._rng.random((e, g * g)), axis=1)[:, : n + m])
        self._active[:] = True
        self.done[:] = False
        self.t[:] = 0

    def state_dict(self) -> dict:
        """The generator state, for exact resumption between episodes (positions are redrawn at reset)."""
        return {"rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        """Restore the generator from :meth:`state_dict`."""
        self._rng.bit_generator.state = state["rng"]

    def set_positions(self, pred_pos, prey_pos, pred_active=None, prey_active=None) -> None:
        """Put the env into a given configuration (for tests and hand-made scenarios).

        Arrays broadcast to ``(n_envs, n_predators, 2)`` / ``(n_envs, n_prey, 2)`` (0-based
        row, column) and ``(n_envs, n_predators)`` / ``(n_envs, n_prey)``.  Every copy
        becomes not done.

        Raises
        ------
        SettingsError
            A position off the grid, or two active entities on one cell under the
            ``"adjacent"`` rule.
        """
        e, n, m, g = self.n_envs, self.n_predators, self.n_prey, self.grid_size
        pp = np.broadcast_to(np.asarray(pred_pos, dtype=np.int64), (e, n, 2))
        qp = np.broadcast_to(np.asarray(prey_pos, dtype=np.int64), (e, m, 2))
        pa = np.broadcast_to(np.asarray(True if pred_active is None else pred_active, dtype=bool), (e, n))
        qa = np.broadcast_to(np.asarray(True if prey_active is None else prey_active, dtype=bool), (e, m))
        if np.any((pp < 0) | (pp >= g)) or np.any((qp < 0) | (qp >= g)):
            raise SettingsError(f"positions must lie on the {g}x{g} grid (0-based)")
        if self._blocking:
            occ = self._occupancy(pp, pa, qp, qa)
            if occ.max(initial=0) > 1:
                raise SettingsError("two active entities share a cell, which the 'adjacent' rule forbids")
        # the inputs may be views of this env's own arrays: both are read in full before writing
        pos = np.concatenate([pp, qp], axis=1)
        active = np.concatenate([pa, qa], axis=1)
        self._place(pos[..., 0] * g + pos[..., 1])
        self._active[:] = active
        self.done[:] = False
        self.t[:] = 0

    # ------------------------------------------------------------------ derived values
    def _derived(self) -> tuple[np.ndarray, ...]:
        """``(slots, counts, pred_reach, avail)`` of the current state, computed once per state.

        ``slots`` ``(E, n + m)``: every entity's cell, ``GONE`` once removed; ``counts``
        ``(E, 2, S)`` float32: active predators and prey per slot (``OFF`` stays 0, which is
        what windows read off the grid), a view into the observation gather's source, valid
        until the state changes; ``pred_reach`` ``(E, n, R)``: indices into a :meth:`_per_cell`
        array of the cells each predator reaches (``OFF`` for a removed one); ``avail``
        ``(E, n, 6)`` as :meth:`avail_actions`.
        """
        if self._derived_cache is None:
            e, n, s = self.n_envs, self.n_predators, self._n_slots
            slots = np.where(self._active, self._flat, self._gone)
            # the counts are written straight into the head of the observation gather's source
            flat_counts = self._obs_source[: e * 2 * s]
            flat_counts[:] = np.bincount((slots + self._chan_base).ravel(), minlength=e * 2 * s)
            reached = self._reach_cells[slots[:, :n]]
            avail = self._avail_cell[slots[:, :n]]
            # capture needs an active prey within reach: a positive prey count in a reached cell
            avail[..., CAPTURE] = (flat_counts[reached + self._prey_chan_base] > 0).any(-1)
            pred_reach = reached + self._env_base[:, :, None]
            self._derived_cache = (slots, flat_counts.reshape(e, 2, s), pred_reach, avail)
        return self._derived_cache

    def _per_cell(self, slots) -> np.ndarray:
        """Flat ``(E * S,)`` count of the given entity slots per cell, each copy in its own block."""
        return np.bincount((slots + self._env_base).ravel(), minlength=self.n_envs * self._n_slots)

    def _occupancy(self, pp, pa, qp, qa) -> np.ndarray:
        """(E, G, G) active entities per cell of given positions and activity (validation and tests)."""
        e, g = self.n_envs, self.grid_size
        counts = np.zeros((e, g, g), dtype=np.int64)
        for pos, act in ((pp, pa), (qp, qa)):
            ei, k = np.nonzero(act)
            np.add.at(counts, (ei, pos[ei, k, 0], pos[ei, k, 1]), 1)
        return counts

    # ------------------------------------------------------------------ observations
    def state(self) -> np.ndarray:
        """The whole grid, predator and prey counts, ``(n_envs, 2 * grid_size**2)`` float32."""
        counts = self._derived()[1]
        g2 = self.grid_size**2
        return counts[:, :, :g2].reshape(self.n_envs, 2 * g2).astype(np.float32, copy=True)

    def obs(self) -> np.ndarray:
        """Each predator's window and position, ``(n_envs, n_predators, obs_dim)`` float32."""
        self._derived()  # fills the counts at the head of _obs_source
        # one gather reads both channels' windows out of each copy's block of counts and the
        # scaled position out of the table behind them
        out = self._obs_source[self._obs_index[self._pred_flat] + self._obs_base]
        out[..., self._centre] -= 1.0  # the predator itself (harmless for removed ones: zeroed below)
        out[~self._pred_active] = 0.0
        return out

    def avail_actions(self) -> np.ndarray:
        """Availability per the module rules, ``(n_envs, n_predators, 6)`` bool."""
        return self._derived()[3].copy()

    # ------------------------------------------------------------------ dynamics
    def _valid_actions(self, actions, avail, live) -> np.ndarray:
        """``check_actions(actions, avail, live)``, with a cheap path for the usual valid int64 batch.

        The usual batch (right shape, int64, every action available) passes three array
        operations; anything else goes through :func:`~stablepoint.rl.envs.base.check_actions`,
        which owns the rules and the error messages.
        """
        if isinstance(actions, np.ndarray) and actions.dtype == np.int64 and actions.shape == avail.shape[:2]:
            # as unsigned, a negative action is huge: one comparison checks both bounds
            if (actions.view(np.uint64) < len(ACTIONS)).all() and avail.reshape(-1)[self._avail_rows + actions].all():
                return actions
        return check_actions(actions, avail, live)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        """Resolve captures, then move predators and prey; ``(reward, terminated, info)``."""
        e, n, m = self.n_envs, self.n_predators, self.n_prey
        live = ~self.done
        slots, counts, pred_reach, avail = self._derived()
        acts = self._valid_actions(actions, avail, live)
        acts = np.where(live[:, None] & self._pred_active, acts, STAY)

        # captures, on the positions the agents observed.  Reach is symmetric, so a prey's
        # attempts are the capturing predators counted over the cells it reaches; a predator
        # attempting two prey is thereby counted for both
        capturing = acts == CAPTURE
        removed = False
        if capturing.any():
            prey_reach = self._reach_cells[slots[:, n:]] + self._env_base[:, :, None]
            n_attempts = self._per_cell(np.where(capturing, slots[:, :n], self._gone))[prey_reach].sum(-1)
            captured = n_attempts >= self.capture_needed
            miscaptured = (n_attempts > 0) & ~captured
            n_captured = captured.sum(1)
            n_miscaptured = miscaptured.sum(1)
            removed = n_captured.any()
        else:
            n_captured = n_miscaptured = np.zeros(e, dtype=np.int64)
        reward = self.capture_reward * n_captured + self.punishment * n_miscaptured
        if removed:
            # captors: capturing predators with a captured prey within reach
            captured_per_cell = self._per_cell(np.where(captured, slots[:, n:], self._gone))
            captors = capturing & (captured_per_cell[pred_reach] > 0).any(-1)
            self._prey_active &= ~captured
            self._pred_active &= ~captors

        # the one-at-a-time version's draws, in its order: predator order, prey keys, prey rests,
        # prey order (drawn every step, whatever moves, so the stream never depends on the play)
        pred_rank = self._rng.permutation(n).argsort()
        self._keys[:, n:, :4] = self._rng.random((e, m, 4))
        rest = self._rng.random((e, m)) < self.prey_rest_prob
        prey_rank = self._rng.permutation(m).argsort()

        # moves: predators, then prey, each one at a time in the drawn order, as one sequence
        cand = np.concatenate([self._pred_cand[self._pred_flat, acts], self._prey_cand[self._prey_flat]], axis=1)
        moving = np.concatenate([self._pred_active & (acts < STAY), self._prey_active & live[:, None] & ~rest], axis=1)
        if self._blocking:
            if removed:  # the captured prey and their captors no longer block
                occ = self._per_cell(np.where(self._active, self._flat, self._gone)).reshape(e, -1)
            else:
                occ = counts.sum(1)
            occ[:, self._off] = 1
            rank = np.concatenate([pred_rank, n + prey_rank])
            dest = _sequential_moves(self._flat, cand, self._keys, moving, occ, rank, self._move_layout)
        else:
            # nothing blocks: the order does not matter, every move on the grid succeeds
            dest = _free_moves(cand, self._keys, moving, self._off)
        self._place(dest)

        ended = ~self._prey_active.any(1) | ~self._pred_active.any(1)
        self.t += live
        self.done |= live & ended
        info = {"captures": n_captured * live, "miscaptures": n_miscaptured * live}
        return (reward * live).astype(np.float32), self.done.copy(), info
