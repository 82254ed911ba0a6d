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

>>> env = PredatorPreyEnv(n_envs=2, seed=0)
>>> env.reset()
>>> env.obs().shape, env.state().shape, env.avail_actions().shape
((2, 8, 52), (2, 200), (2, 8, 6))
"""

from __future__ import annotations

import numpy as np

from stablepoint.errors import SettingsError
from stablepoint.rl.envs.base import EnvInfo, check_actions, check_n_envs

__all__ = ["PredatorPreyEnv", "ACTIONS", "UP", "DOWN", "LEFT", "RIGHT", "STAY", "CAPTURE", "CAPTURE_RULES"]

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
        self.pred_pos = np.zeros((e, n, 2), dtype=np.int64)
        self.prey_pos = np.zeros((e, m, 2), dtype=np.int64)
        self.pred_active = np.zeros((e, n), dtype=bool)
        self.prey_active = np.zeros((e, m), dtype=bool)
        self.done = np.ones(e, dtype=bool)
        self.t = np.zeros(e, dtype=np.int64)
        self._envs = np.arange(e)
        # flat cell -> (row, column), and flat cell x action -> target flat cell (-1 off the grid)
        g = self.grid_size
        self._cells = np.stack(np.divmod(np.arange(g * g), g), axis=1)
        target = self._cells[:, None, :] + _DELTA[None, :, :]
        on_grid = np.all((target >= 0) & (target < g), axis=-1)
        self._neighbour = np.where(on_grid, target[..., 0] * g + target[..., 1], -1)
        self.reset()

    def __repr__(self) -> str:
        return (
            f"PredatorPreyEnv(n_envs={self.n_envs}, grid={self.grid_size}, predators={self.n_predators}, "
            f"prey={self.n_prey}, punishment={self.punishment:g}, capture_rule={self.capture_rule!r})"
        )

    # ------------------------------------------------------------------ episode control
    def reset(self, seed: int | None = None) -> None:
        """Place all entities on distinct random cells in every copy."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        e, n, m, g = self.n_envs, self.n_predators, self.n_prey, self.grid_size
        cells = np.argsort(self._rng.random((e, g * g)), axis=1)[:, : n + m]
        rows, cols = np.divmod(cells, g)
        pos = np.stack([rows, cols], axis=-1)
        self.pred_pos[:] = pos[:, :n]
        self.prey_pos[:] = pos[:, n:]
        self.pred_active[:] = True
        self.prey_active[:] = True
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
        self.pred_pos[:] = pp
        self.prey_pos[:] = qp
        self.pred_active[:] = pa
        self.prey_active[:] = qa
        self.done[:] = False
        self.t[:] = 0

    # ------------------------------------------------------------------ observations
    def _counts(self, pos, active) -> np.ndarray:
        """Per-cell counts of active entities, shape (E, G, G)."""
        e, g = self.n_envs, self.grid_size
        env_idx = np.broadcast_to(self._envs[:, None], active.shape)[active]
        flat = env_idx * g * g + pos[..., 0][active] * g + pos[..., 1][active]
        return np.bincount(flat, minlength=e * g * g).reshape(e, g, g)

    def _occupancy(self, pp, pa, qp, qa) -> np.ndarray:
        e, g = self.n_envs, self.grid_size
        counts = np.zeros((e, g, g), dtype=np.int64)
        for pos, act in ((pp, pa), (qp, qa)):
            ei, k = np.nonzero(act)
            np.add.at(counts, (ei, pos[ei, k, 0], pos[ei, k, 1]), 1)
        return counts

    def state(self) -> np.ndarray:
        """The whole grid, predator and prey counts, ``(n_envs, 2 * grid_size**2)`` float32."""
        grid = np.stack(
            [self._counts(self.pred_pos, self.pred_active), self._counts(self.prey_pos, self.prey_active)],
            axis=1,
        )
        return grid.reshape(self.n_envs, -1).astype(np.float32)

    def obs(self) -> np.ndarray:
        """Each predator's window and position, ``(n_envs, n_predators, obs_dim)`` float32."""
        e, n, g, r = self.n_envs, self.n_predators, self.grid_size, self.obs_radius
        w = 2 * r + 1
        grid = np.zeros((e, 2, g + 2 * r, g + 2 * r), dtype=np.float32)
        grid[:, 0, r : r + g, r : r + g] = self._counts(self.pred_pos, self.pred_active)
        grid[:, 1, r : r + g, r : r + g] = self._counts(self.prey_pos, self.prey_active)
        # window of padded grid cell (i, j) .. (i+2r, j+2r) is centred on grid cell (i, j)
        views = np.lib.stride_tricks.sliding_window_view(grid, (w, w), axis=(2, 3))
        win = views[self._envs[:, None], :, self.pred_pos[..., 0], self.pred_pos[..., 1]]  # (E, n, 2, w, w)
        win = np.array(win, dtype=np.float32)
        win[:, :, 0, r, r] -= 1.0  # the predator itself (harmless for removed ones: zeroed below)
        out = win.reshape(e, n, 2 * w * w)
        if self.observe_position:
            out = np.concatenate([out, self.pred_pos.astype(np.float32) / max(g - 1, 1)], axis=2)
        out[~self.pred_active] = 0.0
        return out

    def _reachable(self) -> np.ndarray:
        """(E, n, m) bool: active predator i reaches active prey j."""
        dist = np.abs(self.pred_pos[:, :, None, :] - self.prey_pos[:, None, :, :]).sum(-1)
        return (dist == self._reach) & self.pred_active[:, :, None] & self.prey_active[:, None, :]

    def avail_actions(self) -> np.ndarray:
        """Availability per the module rules, ``(n_envs, n_predators, 6)`` bool."""
        g = self.grid_size
        target = self.pred_pos[:, :, None, :] + _DELTA[None, None, :4, :]  # (E, n, 4, 2)
        on_grid = np.all((target >= 0) & (target < g), axis=-1)
        avail = np.zeros((self.n_envs, self.n_predators, len(ACTIONS)), dtype=bool)
        avail[..., :4] = on_grid & self.pred_active[..., None]
        avail[..., STAY] = True
        avail[..., CAPTURE] = self._reachable().any(-1)
        return avail

    # ------------------------------------------------------------------ dynamics
    def _open_moves(self, cell, occ) -> np.ndarray:
        """(E, 4) bool: which of the four moves from flat cells ``cell`` (E,) land on an open cell."""
        target = self._neighbour[cell, :4]
        open_ = target >= 0
        if self._blocking:
            # off-grid targets (-1) read some cell's count; they are already closed
            open_ &= occ[self._envs[:, None], target] == 0
        return open_

    def _move(self, pos, k, actions, moving, occ) -> None:
        """Move entity ``k`` of every copy where ``moving``; updates ``pos`` and flat ``occ`` in place."""
        ei = np.flatnonzero(moving)
        if not ei.size:
            return
        old = pos[ei, k, 0] * self.grid_size + pos[ei, k, 1]
        new = self._neighbour[old, actions[ei]]
        ok = new >= 0
        if self._blocking:
            ok &= occ[ei, new] == 0
        if not ok.all():
            ei, old, new = ei[ok], old[ok], new[ok]
        occ[ei, old] -= 1
        occ[ei, new] += 1
        pos[ei, k] = self._cells[new]

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        """Resolve captures, then move predators and prey; ``(reward, terminated, info)``."""
        live = ~self.done
        acts = check_actions(actions, self.avail_actions(), live)
        acts = np.where(live[:, None] & self.pred_active, acts, STAY)

        # captures, on the positions the agents observed
        attempts = self._reachable() & (acts == CAPTURE)[:, :, None]  # (E, n, m)
        n_attempts = attempts.sum(1)
        captured = n_attempts >= self.capture_needed
        miscaptured = (n_attempts > 0) & ~captured
        captors = (attempts & captured[:, None, :]).any(2)
        n_captured = captured.sum(1)
        n_miscaptured = miscaptured.sum(1)
        reward = self.capture_reward * n_captured + self.punishment * n_miscaptured
        self.prey_active &= ~captured
        self.pred_active &= ~captors

        # moves: predators, then prey, each one at a time in a random order
        occ = self._occupancy(self.pred_pos, self.pred_active, self.prey_pos, self.prey_active)
        occ = occ.reshape(self.n_envs, -1)  # flat cells: row * grid_size + column
        for k in self._rng.permutation(self.n_predators):
            moving = self.pred_active[:, k] & (acts[:, k] < STAY)
            self._move(self.pred_pos, k, acts[:, k], moving, occ)
        keys = self._rng.random((self.n_envs, self.n_prey, 4))
        rest = self._rng.random((self.n_envs, self.n_prey)) < self.prey_rest_prob
        for k in self._rng.permutation(self.n_prey):
            moving = self.prey_active[:, k] & live & ~rest[:, k]
            if moving.any():
                open_ = self._open_moves(self.prey_pos[:, k, 0] * self.grid_size + self.prey_pos[:, k, 1], occ)
                # uniform among open moves: the largest random key among them
                choice = np.argmax(np.where(open_, keys[:, k], -1.0), axis=1)
                self._move(self.prey_pos, k, choice, moving & open_.any(1), occ)

        ended = ~self.prey_active.any(1) | ~self.pred_active.any(1)
        self.t += live
        self.done |= live & ended
        info = {"captures": n_captured * live, "miscaptures": n_miscaptured * live}
        return (reward * live).astype(np.float32), self.done.copy(), info
