"""Env rules: matrix games and predator-prey (capture, punishment, removal, walls, masks, seeding)."""

import itertools

import numpy as np
import pytest

from stablepoint.catalog import get_game
from stablepoint.errors import PayoffError, SettingsError
from stablepoint.payoff import Payoff
from stablepoint.rl.envs import ENVS, EnvInfo, VecEnv, make_env, parse_options
from stablepoint.rl.envs.matrix import MatrixGameEnv
from stablepoint.rl.envs.predator_prey import CAPTURE, DOWN, LEFT, RIGHT, STAY, UP, PredatorPreyEnv

# --------------------------------------------------------------------------- matrix games


@pytest.mark.parametrize("spec", ["table5", "qtran", "risk-reward:agents=3,actions=4,seed=2"])
def test_matrix_reward_is_the_payoff_for_every_joint_action(spec):
    payoff = get_game(spec)
    joint = np.array(list(payoff.joint_actions()), dtype=np.int64)
    env = make_env(f"matrix:{spec}", n_envs=len(joint), seed=0)
    assert isinstance(env, VecEnv)
    assert env.info == EnvInfo(payoff.n_agents, max(payoff.shape), payoff.n_agents, 1, 1)
    env.reset()
    reward, terminated, info = env.step(joint)
    assert reward.dtype == np.float32 and terminated.dtype == bool
    np.testing.assert_array_equal(reward, payoff.values.reshape(-1).astype(np.float32))
    assert terminated.all()
    optimal = [tuple(u) for u in joint[info["optimal"] == 1]]
    assert optimal == payoff.optimal_actions()
    # done copies stay done, earn nothing, and ignore their actions
    reward2, terminated2, _ = env.step(joint[::-1].copy())
    assert terminated2.all() and not reward2.any()
    env.reset()
    assert np.array_equal(env.step(joint)[0], reward)


def test_matrix_observations_carry_no_information_about_others():
    env = make_env("matrix:table5", n_envs=3)
    env.reset()
    obs = env.obs()
    assert obs.shape == (3, 2, 2) and obs.dtype == np.float32
    np.testing.assert_array_equal(obs[1], np.eye(2))
    before = (obs.copy(), env.state().copy())
    env.step(np.array([[0, 1], [1, 2], [2, 0]]))
    np.testing.assert_array_equal(env.obs(), before[0])
    np.testing.assert_array_equal(env.state(), before[1])
    const = make_env("matrix:table5", n_envs=2, obs="constant")
    assert const.info.obs_dim == 1 and np.all(const.obs() == 1.0)
    with pytest.raises(SettingsError, match="obs mode"):
        make_env("matrix:table5", obs="onehot")


def test_matrix_unequal_action_counts_are_masked():
    payoff = Payoff(np.arange(6.0).reshape(2, 3))
    env = MatrixGameEnv(payoff, n_envs=1)
    avail = env.avail_actions()
    assert avail.tolist() == [[[True, True, False], [True, True, True]]]
    env.reset()
    with pytest.raises(SettingsError, match="not available to agent 0"):
        env.step(np.array([[2, 0]]))
    assert env.step(np.array([[1, 2]]))[0].tolist() == [5.0]


def test_matrix_from_file_and_bad_specs(tmp_path):
    f = tmp_path / "g.csv"
    f.write_text("1,2\n3,4\n")
    env = make_env(f"matrix:file={f}", n_envs=1)
    env.reset()
    assert env.step(np.array([[1, 0]]))[0].tolist() == [3.0]
    with pytest.raises(PayoffError):
        make_env(f"matrix:file={tmp_path / 'missing.csv'}")
    with pytest.raises(SettingsError, match="unknown env"):
        make_env("nosuchenv:3m")
    with pytest.raises(SettingsError, match="unknown game"):
        make_env("matrix:nope")
    with pytest.raises(SettingsError, match="needs a game"):
        make_env("matrix")
    with pytest.raises(SettingsError, match="n_envs"):
        make_env("matrix:table5", n_envs=0)
    with pytest.raises(SettingsError, match="shape"):
        make_env("matrix:table5", n_envs=2).step(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(SettingsError, match="integers"):
        make_env("matrix:table5", n_envs=1).step(np.zeros((1, 2)))
    assert set(ENVS) == {"matrix", "predator_prey", "smac", "smax"}


def test_parse_options():
    assert parse_options("a=1, b=-2.5,c=same_cell,d=false") == {"a": 1, "b": -2.5, "c": "same_cell", "d": False}
    with pytest.raises(SettingsError, match="key=value"):
        parse_options("punishment")


# --------------------------------------------------------------------------- predator-prey helpers

FAR = [(9, 9), (9, 7), (7, 9), (9, 5), (5, 9), (7, 7)]  # parking spots away from the action


def small_env(n_envs=1, predators=((4, 5), (6, 5)), prey=((5, 5),), **kwargs):
    """A predator-prey env with the given predators and prey (others parked far away, removed)."""
    n_pred = kwargs.pop("n_predators", 8)
    n_prey = kwargs.pop("n_prey", 8)
    env = PredatorPreyEnv(n_envs=n_envs, seed=kwargs.pop("seed", 0), n_predators=n_pred, n_prey=n_prey, **kwargs)
    pp = np.array(list(predators) + FAR[: n_pred - len(predators)])
    qp = np.array(list(prey) + [(9, k) for k in range(n_prey - len(prey))])
    pa = np.arange(n_pred) < len(predators)
    qa = np.arange(n_prey) < len(prey)
    env.set_positions(pp, qp, pa, qa)
    return env


def act(env, *first):
    """Actions for the listed predators; every other predator stays."""
    a = np.full((env.n_envs, env.n_predators), STAY, dtype=np.int64)
    a[:, : len(first)] = first
    return a


# --------------------------------------------------------------------------- predator-prey rules


def test_capture_needs_two_adjacent_predators_and_removes_them():
    env = small_env(punishment=-2)
    assert env.avail_actions()[0, :2, CAPTURE].all()
    reward, terminated, info = env.step(act(env, CAPTURE, CAPTURE))
    assert reward.tolist() == [10.0] and info["captures"].tolist() == [1] and info["miscaptures"].tolist() == [0]
    assert not env.prey_active[0, 0] and not env.pred_active[0, :2].any()
    # every prey is gone: true termination
    assert terminated.tolist() == [True]
    obs = env.obs()
    assert not obs[0, :2].any()
    assert env.avail_actions()[0, :2].tolist() == [[False] * 4 + [True, False]] * 2
    assert env.state()[0].sum() == 0  # no active entity left on the grid


@pytest.mark.parametrize("punishment", [0.0, -2.0, -5.0])
def test_exactly_one_capture_attempt_is_punished_and_changes_nothing(punishment):
    env = small_env(punishment=punishment, prey=((5, 5), (0, 0)), n_prey=2)
    reward, terminated, info = env.step(act(env, CAPTURE, STAY))
    assert reward.tolist() == [punishment] and info["miscaptures"].tolist() == [1]
    assert env.prey_active[0, 0] and env.pred_active[0, :2].all() and not terminated[0]
    assert env.pred_pos[0, 0].tolist() == [4, 5]  # the lone capturer did not move


@pytest.mark.parametrize("punishment", [-2.0, -5.0])
def test_two_predators_at_one_prey_give_the_payoff_of_mrvf_eq_32(punishment):
    """All 36 joint actions of two predators next to one prey, against the catalog's Eq. 32 matrix."""
    from stablepoint.catalog import predator_prey

    eq32 = predator_prey(penalty=punishment).values  # action 0 is "capture" there
    order = [CAPTURE, UP, DOWN, LEFT, RIGHT, STAY]  # env action for each catalog index
    joint = np.array([(order[i], order[j]) for i in range(6) for j in range(6)])
    env = small_env(n_envs=36, punishment=punishment, prey=((5, 5), (0, 0)), n_prey=2)
    assert env.avail_actions()[:, :2].all()
    actions = np.full((36, 8), STAY)
    actions[:, :2] = joint
    reward, _, _ = env.step(actions)
    np.testing.assert_array_equal(reward.reshape(6, 6), eq32)


def test_one_predator_attempting_two_prey_and_three_needed():
    # predator 0 at (5,5) touches prey (4,5) and (6,5); predator 1 touches only (4,5)
    env = small_env(predators=((5, 5), (4, 4)), prey=((4, 5), (6, 5), (0, 0)), n_prey=3, punishment=-5)
    reward, _, info = env.step(act(env, CAPTURE, CAPTURE))
    assert info["captures"].tolist() == [1] and info["miscaptures"].tolist() == [1]
    assert reward.tolist() == [10.0 - 5.0]
    assert env.prey_active[0].tolist() == [False, True, True]
    env = small_env(capture_needed=3, punishment=-2, prey=((5, 5), (0, 0)), n_prey=2)
    reward, _, info = env.step(act(env, CAPTURE, CAPTURE))
    assert reward.tolist() == [-2.0] and info["captures"].tolist() == [0]


def test_capture_availability_follows_the_rule():
    # adjacent rule: diagonal neighbours cannot capture; a predator two cells away neither
    env = small_env(predators=((4, 5), (4, 4), (5, 7)), prey=((5, 5),))
    assert env.avail_actions()[0, :3, CAPTURE].tolist() == [True, False, False]
    with pytest.raises(SettingsError, match="action 5 is not available to agent 1"):
        env.step(act(env, CAPTURE, CAPTURE))
    # same-cell rule: only predators on the prey's cell may capture; several share a cell
    env = small_env(predators=((5, 5), (5, 5), (4, 5)), prey=((5, 5),), capture_rule="same_cell")
    assert env.avail_actions()[0, :3, CAPTURE].tolist() == [True, True, False]
    reward, terminated, _ = env.step(act(env, CAPTURE, CAPTURE, STAY))
    assert reward.tolist() == [10.0] and terminated.tolist() == [True]
    with pytest.raises(SettingsError, match="share a cell"):
        small_env(predators=((5, 5), (5, 5)))
    with pytest.raises(SettingsError, match="capture_rule"):
        PredatorPreyEnv(capture_rule="nearby")


def test_walls_and_blocked_moves():
    env = small_env(predators=((0, 0), (0, 1)), prey=((9, 0),))
    avail = env.avail_actions()[0]
    assert avail[0, :4].tolist() == [False, True, False, True]  # corner: no up, no left
    assert avail[1, :4].tolist() == [False, True, True, True]
    with pytest.raises(SettingsError, match="action 0 is not available"):
        env.step(act(env, UP))
    # predator 0 moves right into predator 1's cell: blocked if it moves first, free if 1 left first
    outcomes = set()
    for seed in range(12):
        env = small_env(predators=((0, 0), (0, 1)), prey=((9, 0),), seed=seed)
        env.step(act(env, RIGHT, DOWN))
        outcomes.add(str(env.pred_pos[0, :2].tolist()))
    assert outcomes == {"[[0, 0], [1, 1]]", "[[0, 1], [1, 1]]"}
    env = small_env(predators=((0, 0), (0, 1)), prey=((9, 0),), capture_rule="same_cell")
    env.step(act(env, RIGHT, LEFT))
    assert env.pred_pos[0, :2].tolist() == [[0, 1], [0, 0]]  # no blocking under same_cell


def test_termination_only_when_no_prey_or_no_predator_is_left():
    env = small_env(predators=((4, 5), (6, 5), (2, 3)), prey=((5, 5), (2, 2)), n_prey=2, punishment=-2)
    _, terminated, _ = env.step(act(env, CAPTURE, CAPTURE))
    assert terminated.tolist() == [False] and env.prey_active[0].tolist() == [False, True]
    assert env.pred_active[0].sum() == 1
    # the lone predator can no longer capture, but it can still be punished
    env.set_positions(env.pred_pos, [(5, 5), (2, 2)], env.pred_active, env.prey_active)
    reward, terminated, _ = env.step(act(env, STAY, STAY, CAPTURE))
    assert reward.tolist() == [-2.0] and terminated.tolist() == [False]
    # all predators removed: the episode ends with prey left
    env = small_env(predators=((4, 5), (6, 5)), prey=((5, 5), (0, 0)), n_prey=2)
    _, terminated, _ = env.step(act(env, CAPTURE, CAPTURE))
    assert terminated.tolist() == [True] and env.prey_active[0].sum() == 1
    # a done copy is frozen
    state = env.state().copy()
    reward, terminated, info = env.step(act(env, STAY, STAY))
    assert reward.tolist() == [0.0] and terminated.tolist() == [True] and info["captures"].tolist() == [0]
    np.testing.assert_array_equal(env.state(), state)


def reference_obs_state(env):
    """Observations and state by plain loops over cells (independent of the vectorized code)."""
    g, r = env.grid_size, env.obs_radius
    w = 2 * r + 1
    obs = np.zeros((env.n_envs, env.n_predators, env.info.obs_dim), dtype=np.float32)
    state = np.zeros((env.n_envs, 2, g, g), dtype=np.float32)
    for e in range(env.n_envs):
        for k in range(env.n_predators):
            if env.pred_active[e, k]:
                state[e, 0][tuple(env.pred_pos[e, k])] += 1
        for k in range(env.n_prey):
            if env.prey_active[e, k]:
                state[e, 1][tuple(env.prey_pos[e, k])] += 1
        for k in range(env.n_predators):
            if not env.pred_active[e, k]:
                continue
            row, col = env.pred_pos[e, k]
            window = np.zeros((2, w, w), dtype=np.float32)
            for dr, dc in itertools.product(range(-r, r + 1), repeat=2):
                rr, cc = row + dr, col + dc
                if 0 <= rr < g and 0 <= cc < g:
                    window[:, dr + r, dc + r] = state[e, :, rr, cc]
            window[0, r, r] -= 1
            obs[e, k] = np.concatenate([window.ravel(), [row / (g - 1), col / (g - 1)]])
    return obs, state.reshape(env.n_envs, -1)


@pytest.mark.parametrize("rule", ["adjacent", "same_cell"])
def test_obs_state_and_invariants_along_random_play(rule):
    env = PredatorPreyEnv(n_envs=6, seed=3, punishment=-2, capture_rule=rule)
    rng = np.random.default_rng(0)
    assert env.info == EnvInfo(8, 6, 52, 200, 200)
    total_captures = 0
    for _ in range(100):
        obs, state = env.obs(), env.state()
        ref_obs, ref_state = reference_obs_state(env)
        np.testing.assert_array_equal(obs, ref_obs)
        np.testing.assert_array_equal(state, ref_state)
        assert obs.dtype == np.float32 and state.dtype == np.float32
        avail = env.avail_actions()
        assert avail.any(-1).all()
        # prefer capturing so that captures and removals happen
        p = avail * np.array([1, 1, 1, 1, 1, 6.0])
        actions = np.array([[rng.choice(6, p=row / row.sum()) for row in agent] for agent in p])
        before_active = env.pred_active.copy()
        reward, terminated, info = env.step(actions)
        total_captures += info["captures"].sum()
        np.testing.assert_allclose(reward, 10 * info["captures"] - 2 * info["miscaptures"])
        # removed predators never come back; only capturers are removed, at least two per capturing step
        removed = before_active & ~env.pred_active
        assert not np.any(env.pred_active & ~before_active)
        assert np.all(actions[removed] == CAPTURE)
        np.testing.assert_array_equal(removed.sum(1) >= 2, info["captures"] > 0)
        assert np.all((env.pred_pos >= 0) & (env.pred_pos < 10))
        assert np.all((env.prey_pos >= 0) & (env.prey_pos < 10))
        if rule == "adjacent":
            assert env._occupancy(env.pred_pos, env.pred_active, env.prey_pos, env.prey_active).max() <= 1
        ended = ~env.prey_active.any(1) | ~env.pred_active.any(1)
        np.testing.assert_array_equal(terminated, ended)
    assert total_captures > 0


def test_prey_move_uniformly_to_open_cells():
    n = 4000
    env = small_env(n_envs=n, predators=((0, 0),), prey=((5, 5),), n_predators=1, n_prey=1)
    env.step(act(env, STAY))
    moves = env.prey_pos[:, 0] - np.array([5, 5])
    counts = {tuple(m): c for m, c in zip(*np.unique(moves, axis=0, return_counts=True))}
    assert set(counts) == {(-1, 0), (1, 0), (0, -1), (0, 1)}  # prey never rest by default
    assert all(abs(c / n - 0.25) < 0.03 for c in counts.values())
    # in a corner next to a predator only one cell is open; fully boxed in, a prey stays
    env = small_env(n_envs=50, predators=((0, 1), (5, 4), (5, 6), (4, 5), (6, 5)), prey=((0, 0), (5, 5)), n_prey=2)
    env.step(act(env, STAY))
    assert np.all(env.prey_pos[:, 0] == [1, 0]) and np.all(env.prey_pos[:, 1] == [5, 5])
    # same_cell: predators do not block prey; prey_rest_prob=1 freezes them
    env = small_env(n_envs=200, predators=((0, 1),), prey=((0, 0),), n_predators=1, n_prey=1, capture_rule="same_cell")
    env.step(act(env, STAY))
    assert {tuple(x) for x in env.prey_pos[:, 0].tolist()} == {(0, 1), (1, 0)}
    env = small_env(n_envs=20, prey_rest_prob=1.0)
    env.step(act(env, STAY, STAY))
    assert np.all(env.prey_pos[:, 0] == [5, 5])


def test_seeding_is_deterministic():
    def play(seed):
        env = make_env("predator_prey:punishment=-2", n_envs=3, seed=seed)
        rng = np.random.default_rng(1)
        trace = []
        for _ in range(15):
            avail = env.avail_actions()
            actions = np.array([[rng.choice(np.flatnonzero(a)) for a in agent] for agent in avail])
            trace.append((env.obs().copy(), env.step(actions)[0]))
        return trace

    a, b, c = play(7), play(7), play(8)
    assert all(np.array_equal(x[0], y[0]) and np.array_equal(x[1], y[1]) for x, y in zip(a, b))
    assert not np.array_equal(a[0][0], c[0][0])
    env = make_env("predator_prey", n_envs=2, seed=1)
    first = env.state().copy()
    env.reset(seed=1)
    np.testing.assert_array_equal(env.state(), first)
    env.reset()
    assert not np.array_equal(env.state(), first)  # without a seed the generator continues
    # a saved generator state resumes the same sequence of episodes in a fresh env
    saved = env.state_dict()
    env.reset()
    expected = env.state().copy()
    other = make_env("predator_prey", n_envs=2, seed=99)
    other.load_state_dict(saved)
    other.reset()
    np.testing.assert_array_equal(other.state(), expected)


def test_predator_prey_options_and_spec():
    env = make_env("predator_prey:punishment=-5,capture_rule=same_cell", n_envs=1, seed=0, grid_size=6)
    assert env.punishment == -5.0 and env.capture_rule == "same_cell" and env.info.state_dim == 72
    assert env.options["capture_rule"] == "same_cell" and env.options["grid_size"] == 6
    assert make_env("predator_prey").options["capture_rule"] == "adjacent"
    assert make_env("matrix:qtran").options == {"game": "qtran", "shape": [3, 3], "obs": "agent_id"}
    env = make_env("predator-prey:observe_position=false,obs_radius=1")
    assert env.info.obs_dim == 18
    for spec, match in [
        ("predator_prey:punish=-2", "unexpected keyword"),
        ("predator_prey:grid_size=3", "do not fit"),
        ("predator_prey:punishment=bad", "must be a number"),
        ("predator_prey:n_prey=0", ">= 1"),
        ("predator_prey:observe_position=2", "true or false"),
        ("predator_prey:prey_rest_prob=1.5", r"in \[0, 1\]"),
    ]:
        with pytest.raises(SettingsError, match=match):
            make_env(spec)
