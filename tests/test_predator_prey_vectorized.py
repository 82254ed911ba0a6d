"""The vectorized predator-prey env and controller against the loop versions they replaced.

``tests/_predator_prey_loop.py`` and ``tests/_controller_loop.py`` are verbatim copies of the
env (one entity at a time) and the controller before issue 14, item 2.  The rewrite must give
the same episodes: same observations, states, masks, rewards, terminations and step info from
the same seeds and actions, the same random-number use, so checkpoints and bit-exact resume
tests keep holding.  The drivers below play both side by side, step by step, under every rule
option, with actions drawn to provoke captures, punished attempts, blocked moves and chains of
predators and prey moving into cells just vacated (where the order of turns decides), and
check that the comparison itself catches a changed order of turns.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from _controller_loop import Controller as LoopController
from _predator_prey_loop import PredatorPreyEnv as LoopEnv

from stablepoint.errors import SettingsError
from stablepoint.rl.config import load_algo
from stablepoint.rl.controller import Controller, LinearSchedule
from stablepoint.rl.envs import predator_prey
from stablepoint.rl.envs.predator_prey import CAPTURE, PredatorPreyEnv, free_moves, sequential_moves
from stablepoint.rl.learner import Learner
from stablepoint.rl.runner import run_episodes

torch.set_num_threads(1)  # tiny networks: more threads only contend on a shared CI machine

# name -> env options, n_envs, episodes, seed, capture weight of the random play, and what the
# play must have covered (so that a passing comparison is not a vacuous one)
CONFIGS = {
    "defaults": ({}, 3, 2, 0, 4.0, {"captures", "blocked", "limit"}),
    "dcg-punish-2": ({"punishment": -2.0}, 3, 2, 1, 4.0, {"captures", "miscaptures", "blocked", "limit"}),
    "same-cell-punish-5": ({"punishment": -5.0, "capture_rule": "same_cell"}, 3, 2, 2, 4.0,
                           {"captures", "miscaptures", "limit"}),
    # 9 entities on 9 cells: nobody moves except into a cell vacated earlier in the same step
    "full-grid": ({"grid_size": 3, "n_predators": 5, "n_prey": 4, "episode_limit": 25, "punishment": -1.0}, 6, 4, 3,
                  4.0, {"captures", "miscaptures", "blocked", "early", "limit", "chains"}),
    "dense": ({"grid_size": 4, "n_predators": 6, "n_prey": 5, "obs_radius": 1, "punishment": -5.0,
               "episode_limit": 40}, 6, 4, 4, 4.0, {"captures", "miscaptures", "blocked", "early", "limit", "chains"}),
    "dense-same-cell": ({"grid_size": 3, "n_predators": 6, "n_prey": 2, "capture_rule": "same_cell",
                         "episode_limit": 30, "prey_rest_prob": 0.5}, 6, 4, 5, 10.0, {"captures", "early", "limit"}),
    "three-needed": ({"grid_size": 4, "n_predators": 7, "n_prey": 2, "capture_needed": 3, "capture_reward": 7.5,
                      "punishment": -1.5, "prey_rest_prob": 0.3, "observe_position": False, "obs_radius": 3,
                      "episode_limit": 50}, 4, 3, 6, 20.0, {"captures", "miscaptures", "blocked", "early", "chains"}),
    "tiny": ({"grid_size": 2, "n_predators": 2, "n_prey": 1, "obs_radius": 0, "episode_limit": 10,
              "punishment": -2.0}, 8, 4, 7, 4.0, {"captures", "miscaptures", "early", "limit"}),
    "resting-prey": ({"prey_rest_prob": 1.0, "grid_size": 5, "n_predators": 4, "n_prey": 3, "episode_limit": 30},
                     4, 3, 8, 4.0, {"captures", "limit"}),
    "many": ({"grid_size": 12, "n_predators": 12, "n_prey": 10, "punishment": -2.0, "episode_limit": 60}, 2, 2, 9,
             4.0, {"captures", "miscaptures", "blocked", "chains"}),
}


def _same(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, f"{what}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}"
    np.testing.assert_array_equal(a, b, err_msg=what)


def _same_view(old, new, where):
    for name in ("obs", "state", "avail_actions"):
        _same(getattr(old, name)(), getattr(new, name)(), f"{name} {where}")
    for name in ("pred_pos", "prey_pos", "pred_active", "prey_active", "done", "t"):
        _same(getattr(old, name), getattr(new, name), f"{name} {where}")


def _actions(rng, avail, done, capture_weight):
    """Random available actions, capture weighted up; done copies get anything (both envs ignore it)."""
    w = avail * np.array([1.0, 1.0, 1.0, 1.0, 0.5, capture_weight])
    cum = np.cumsum(w / w.sum(-1, keepdims=True), -1)
    acts = np.minimum((rng.random(avail.shape[:2] + (1,)) > cum).sum(-1), avail.shape[-1] - 1)
    acts[done] = rng.integers(avail.shape[-1], size=acts[done].shape)
    return acts.astype(np.int64)


def _chains(env, actions):
    """Copies where a live predator moves into the cell of another predator that also moves."""
    live = ~env.done
    target = env.pred_pos + predator_prey._DELTA[actions]
    moving = (actions < predator_prey.STAY) & env.pred_active & live[:, None]
    hit = np.all(target[:, :, None, :] == env.pred_pos[:, None, :, :], axis=-1)
    hit &= moving[:, :, None] & moving[:, None, :]
    return int(hit.any(axis=(1, 2)).sum())


def drive(options, n_envs, episodes, seed=0, capture_weight=4.0):
    """Play the loop and vectorized envs side by side; assert equality at every step; return what was covered."""
    old = LoopEnv(n_envs=n_envs, seed=seed, **options)
    new = PredatorPreyEnv(n_envs=n_envs, seed=seed, **options)
    rng = np.random.default_rng(seed + 1)
    seen = dict.fromkeys(["captures", "miscaptures", "blocked", "early", "limit", "chains"], 0)
    for ep in range(episodes):
        # alternate a continuing generator with explicit reseeding
        reseed = seed + 100 + ep if ep % 2 else None
        old.reset(reseed)
        new.reset(reseed)
        limit = new.info.episode_limit
        for t in range(limit):
            _same_view(old, new, f"episode {ep} step {t}")
            actions = _actions(rng, new.avail_actions(), new.done, capture_weight)
            seen["chains"] += _chains(new, actions)
            before = new.pred_pos.copy()
            moving = (actions < predator_prey.STAY) & new.pred_active & ~new.done[:, None]
            r_old, term_old, info_old = old.step(actions.copy())
            r_new, term_new, info_new = new.step(actions.copy())
            seen["blocked"] += int((moving & np.all(new.pred_pos == before, axis=-1)).sum())
            _same(r_old, r_new, f"reward episode {ep} step {t}")
            _same(term_old, term_new, f"terminated episode {ep} step {t}")
            assert set(info_old) == set(info_new)
            for key in info_old:
                _same(info_old[key], info_new[key], f"info[{key}] episode {ep} step {t}")
            seen["captures"] += int(info_new["captures"].sum())
            seen["miscaptures"] += int(info_new["miscaptures"].sum())
            if new.done.all():
                break
        _same_view(old, new, f"episode {ep} end")
        seen["early"] += int((new.done & (new.t < limit)).sum())
        seen["limit"] += int((~new.done & (new.t == limit)).sum())
    return seen


@pytest.mark.parametrize("name", list(CONFIGS))
def test_same_episodes_as_the_loop_env(name):
    options, n_envs, episodes, seed, capture_weight, covers = CONFIGS[name]
    seen = drive(options, n_envs, episodes, seed, capture_weight)
    missing = {k for k in covers if not seen[k]}
    assert not missing, f"the play never covered {missing}: {seen}"


def test_comparison_catches_a_changed_order_of_turns(monkeypatch):
    options, n_envs, episodes, seed, capture_weight, _ = CONFIGS["full-grid"]
    drive(options, n_envs, 1, seed, capture_weight)  # the real thing passes
    original = predator_prey._sequential_moves

    def with_turns(change):
        def mutant(src, cand, keys, moving, occ, rank, *layout):
            return original(src, cand, keys, moving, occ, change(rank), *layout)

        return mutant

    # every entity in reverse turn order (prey before predators too), or all against the initial occupancy
    mutants = {
        "reversed": with_turns(lambda rank: rank.max() - rank),
        "simultaneous": with_turns(lambda rank: 0 * rank),
    }
    for label, mutant in mutants.items():
        monkeypatch.setattr(predator_prey, "_sequential_moves", mutant)
        try:
            drive(options, n_envs, episodes, seed, capture_weight)
        except AssertionError:
            pass
        else:
            pytest.fail(f"the comparison did not notice the {label} order of turns")
        monkeypatch.setattr(predator_prey, "_sequential_moves", original)


def test_unavailable_actions_raise_the_same_error():
    old, new = LoopEnv(n_envs=2, seed=5), PredatorPreyEnv(n_envs=2, seed=5)
    avail = new.avail_actions()
    actions = np.where(avail[..., CAPTURE], 0, CAPTURE).astype(np.int64)  # capture where it is not available
    messages = []
    for env in (old, new):
        with pytest.raises(SettingsError) as err:
            env.step(actions)
        messages.append(str(err.value))
    assert messages[0] == messages[1]


def _trace(env, rng, episodes):
    out = []
    for _ in range(episodes):
        env.reset()
        for _ in range(env.info.episode_limit):
            out.append((env.obs(), env.state(), env.avail_actions()))
            out.append(env.step(_actions(rng, env.avail_actions(), env.done, 4.0))[:2])
            if env.done.all():
                break
    return out


def _same_trace(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            _same(u, v, "trace")


@pytest.mark.parametrize("first,second", [("new", "new"), ("loop", "new"), ("new", "loop")])
def test_state_dict_round_trip_gives_identical_continuations(first, second):
    """A generator state saved between episodes resumes the same episodes, across implementations too."""
    kinds = {"new": PredatorPreyEnv, "loop": LoopEnv}
    options = CONFIGS["dense"][0]
    env = kinds[first](n_envs=3, seed=11, **options)
    _trace(env, np.random.default_rng(0), 2)
    saved = env.state_dict()
    expected = _trace(env, np.random.default_rng(1), 3)
    other = kinds[second](n_envs=3, seed=99, **options)
    other.load_state_dict(saved)
    _same_trace(_trace(other, np.random.default_rng(1), 3), expected)
    # the saved state is a snapshot: playing on did not change it
    again = kinds[second](n_envs=3, seed=7, **options)
    again.load_state_dict(saved)
    _same_trace(_trace(again, np.random.default_rng(1), 3), expected)


def test_runner_batches_are_identical():
    options = CONFIGS["dense"][0]
    rng_old, rng_new = np.random.default_rng(3), np.random.default_rng(3)
    results = []
    for env_cls, rng in ((LoopEnv, rng_old), (PredatorPreyEnv, rng_new)):
        env = env_cls(n_envs=5, seed=2, **options)

        def select(obs, state, avail, t, test_mode, rng=rng):
            return _actions(rng, avail, np.zeros(len(avail), bool), 4.0), {}

        results.append([run_episodes(env, select, test_mode=False, t_env=0) for _ in range(3)])
    for (b_old, s_old), (b_new, s_new) in zip(*results):
        assert set(b_old.data) == set(b_new.data)
        for key in b_old.data:
            _same(b_old.data[key], b_new.data[key], key)
        _same(s_old.returns, s_new.returns, "returns")
        _same(s_old.lengths, s_new.lengths, "lengths")
        assert set(s_old.info_totals) == set(s_new.info_totals)


def test_entity_arrays_are_read_only_views_that_follow_the_state():
    env = PredatorPreyEnv(n_envs=2, seed=0)
    pos = env.pred_pos
    before = pos.copy()
    env.reset()
    assert pos is env.pred_pos and not np.array_equal(pos, before)  # a held reference follows the env
    for name in ("pred_pos", "prey_pos", "pred_active", "prey_active"):
        with pytest.raises(ValueError):
            getattr(env, name)[0, 0] = 0
    env.set_positions(env.pred_pos, env.prey_pos, env.pred_active, env.prey_active)  # own views in: fine
    np.testing.assert_array_equal(env.pred_pos, pos)


# --------------------------------------------------------------------------- the pure move functions


def _one_at_a_time(src, cand, keys, moving, occ, rank, blocking=True, off=None):
    """Reference: the loop rule, one copy and one entity at a time."""
    e, k, _ = cand.shape
    dest = src.copy()
    for b in range(e):
        count = occ[b].astype(int).copy()
        for i in np.argsort(rank):
            if not moving[b, i]:
                continue
            if blocking:
                open_ = count[cand[b, i]] == 0
            else:
                open_ = cand[b, i] != off
            if open_.any():
                c = int(np.argmax(np.where(open_, keys[b, i], -1.0)))
                count[dest[b, i]] -= 1
                dest[b, i] = cand[b, i, c]
                count[dest[b, i]] += 1
    return dest


@pytest.mark.parametrize("k,c", [(1, 1), (4, 1), (6, 3), (9, 4)])
def test_sequential_moves_equals_one_at_a_time(k, c):
    rng = np.random.default_rng(k * 10 + c)
    n_cells, e = 10, 400  # few cells: chains of entities making room for each other are common
    off = n_cells
    src = np.stack([rng.permutation(n_cells)[:k] for _ in range(e)])
    cand = rng.integers(n_cells + 1, size=(e, k, c))  # n_cells is the off-grid slot
    cand = np.where(cand == src[..., None], off, cand)  # never the own cell
    keys = rng.random((e, k, c))
    moving = rng.random((e, k)) < 0.8
    occ = np.zeros((e, n_cells + 1), dtype=np.int64)
    np.put_along_axis(occ, src, 1, axis=1)
    blockers = rng.random((e, n_cells)) < 0.15  # static entities that never move
    occ[:, :n_cells] |= blockers & (occ[:, :n_cells] == 0)
    occ[:, off] = 1
    rank = rng.permutation(k)
    got = sequential_moves(src, cand, keys, moving, occ, rank)
    np.testing.assert_array_equal(got, _one_at_a_time(src, cand, keys, moving, occ, rank))
    assert (got != src).any() and (got == src).any()
    got = free_moves(src, cand, keys, moving, off)
    np.testing.assert_array_equal(got, _one_at_a_time(src, cand, keys, moving, occ, rank, blocking=False, off=off))


# --------------------------------------------------------------------------- acting


def _learner(name, **overrides):
    env = PredatorPreyEnv(n_envs=1, **SMALL)
    algo = dataclasses.replace(load_algo(name), **overrides)
    return Learner(algo, env.info, seed=0)


SMALL = {"grid_size": 5, "n_predators": 3, "n_prey": 2, "episode_limit": 12, "punishment": -2.0}


@pytest.mark.parametrize(
    "name,overrides",
    [
        ("qmix", {}),
        ("mrvf", {}),
        ("qmix", {"obs_last_action": True}),
        ("mrvf", {"obs_last_action": True, "preselect_p": 0.5}),
    ],
)
def test_controller_acts_as_the_loop_controller(name, overrides):
    """Same actions, batches, round counts and generator state as the old controller, training and testing."""
    learner = _learner(name, **overrides)
    runs = []
    for env_cls, ctl_cls in ((LoopEnv, LoopController), (PredatorPreyEnv, Controller)):
        env = env_cls(n_envs=3, seed=4, **SMALL)
        ctl = ctl_cls(learner, LinearSchedule(0.6, 0.1, 40), seed=9)
        modes = [False, True, False, True]
        runs.append(([run_episodes(env, ctl, test_mode=test, t_env=12 * i) for i, test in enumerate(modes)], ctl))
    (old_runs, old_ctl), (new_runs, new_ctl) = runs
    for (b_old, _), (b_new, _) in zip(old_runs, new_runs):
        for key in b_old.data:
            _same(b_old.data[key], b_new.data[key], key)
    _same(old_ctl.round_counts, new_ctl.round_counts, "round_counts")
    assert old_ctl.rng.bit_generator.state == new_ctl.rng.bit_generator.state
    # greedy() itself, from the same GRU state
    env = PredatorPreyEnv(n_envs=3, seed=1, **SMALL)
    old_ctl.reset(3)
    new_ctl.reset(3)
    got_old = old_ctl.greedy(env.obs(), env.state(), env.avail_actions())
    got_new = new_ctl.greedy(env.obs(), env.state(), env.avail_actions())
    _same(got_old[0], got_new[0], "final")
    _same(got_old[1], got_new[1], "which")
    for a, b in zip(got_old[2], got_new[2], strict=True):
        _same(a, b, "per round")


def test_controller_state_dict_round_trip():
    learner = _learner("mrvf")
    ctl = Controller(learner, LinearSchedule(1.0, 0.05, 100), seed=3)
    env = PredatorPreyEnv(n_envs=2, seed=0, **SMALL)
    run_episodes(env, ctl, test_mode=False, t_env=0)
    run_episodes(env, ctl, test_mode=True, t_env=0)
    saved, env_saved = ctl.state_dict(), env.state_dict()
    expected = run_episodes(env, ctl, test_mode=False, t_env=5)[0]
    other = Controller(learner, LinearSchedule(1.0, 0.05, 100), seed=77)
    other.load_state_dict(saved)
    env2 = PredatorPreyEnv(n_envs=2, seed=5, **SMALL)
    env2.load_state_dict(env_saved)
    got = run_episodes(env2, other, test_mode=False, t_env=5)[0]
    for key in expected.data:
        _same(expected.data[key], got.data[key], key)
    _same(ctl.round_counts, other.round_counts, "round_counts")
