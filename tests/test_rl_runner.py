"""Runner: lockstep episodes, padding and masks, final observations, extras, hooks, into the buffer."""

import numpy as np
import pytest

from stablepoint.catalog import get_game
from stablepoint.errors import SettingsError
from stablepoint.rl.buffer import EpisodeBuffer
from stablepoint.rl.envs import make_env
from stablepoint.rl.envs.predator_prey import CAPTURE
from stablepoint.rl.runner import run_episodes


class RandomSelector:
    """Uniform over available actions (capture weighted up), with a reset hook and an extra field."""

    def __init__(self, seed=0, capture_weight=1.0):
        self.rng = np.random.default_rng(seed)
        self.capture_weight = capture_weight
        self.resets, self.calls = [], []

    def reset(self, n_envs):
        self.resets.append(n_envs)

    def __call__(self, obs, state, avail, t, test_mode):
        self.calls.append((t, test_mode))
        w = avail.astype(float)
        if w.shape[-1] > CAPTURE:
            w[..., CAPTURE] *= self.capture_weight
        cum = np.cumsum(w / w.sum(-1, keepdims=True), -1)
        actions = (self.rng.random(avail.shape[:2] + (1,)) > cum).sum(-1).astype(np.int64)
        return actions, {"greedy": np.stack([actions, actions[:, ::-1]], 1), "eps": np.full(len(obs), 0.5)}


def test_matrix_episodes_are_one_step():
    payoff = get_game("risk-reward:agents=3,actions=4,seed=1")
    env = make_env("matrix:risk-reward:agents=3,actions=4,seed=1", n_envs=5)
    sel = RandomSelector()
    batch, stats = run_episodes(env, sel, test_mode=False, t_env=123)
    assert sel.resets == [5] and sel.calls == [(123, False)]
    assert batch["obs"].shape == (5, 2, 3, 3) and batch["state"].shape == (5, 2, 1)
    assert batch["actions"].shape == (5, 2, 3) and batch["greedy"].shape == (5, 2, 2, 3)
    assert stats.lengths.tolist() == [1] * 5 and stats.terminated.all() and stats.env_steps == 5
    expected = [payoff[tuple(u)] for u in batch["actions"][:, 0]]
    np.testing.assert_allclose(stats.returns, expected, rtol=1e-6)
    np.testing.assert_allclose(batch["reward"][:, 0], expected, rtol=1e-6)
    assert batch["terminated"][:, 0].all() and not batch["filled"][:, 1].any()
    # the final observation is recorded after the single step
    np.testing.assert_array_equal(batch["obs"][:, 1], batch["obs"][:, 0])
    assert stats.captures is None and stats.summary()["length_mean"] == 1.0
    best = payoff.values.max()
    assert stats.summary()["optimal_mean"] == np.mean(np.isclose(expected, best))
    fixed = np.array([[0, 0], [1, 1], [0, 0]])  # QTRAN game: optimum at (1, 1) 1-based
    _, stats = run_episodes(make_env("matrix:qtran", n_envs=3), lambda *a: (fixed, {}), test_mode=True, t_env=0)
    assert stats.returns.tolist() == [8.0, 0.0, 8.0] and stats.summary()["optimal_mean"] == 2 / 3


def small_predator_prey(n_envs, seed=0, **kwargs):
    options = dict(grid_size=4, n_predators=3, n_prey=1, episode_limit=25, punishment=-1)
    options.update(kwargs)
    return make_env("predator_prey", n_envs=n_envs, seed=seed, **options)


def test_predator_prey_lockstep_with_early_ends_and_time_limits():
    env = small_predator_prey(12)
    sel = RandomSelector(capture_weight=20.0)
    batch, stats = run_episodes(env, sel, test_mode=True, t_env=7)
    T = env.info.episode_limit
    lengths = stats.lengths
    assert batch.max_seq_length == T + 1 and sel.resets == [12]
    assert len(sel.calls) == lengths.max() and {c for c in sel.calls} == {(7, True)}
    # both kinds of endings happen in this setting
    assert stats.terminated.any() and (~stats.terminated).any()
    assert np.all(lengths[~stats.terminated] == T) and np.all(lengths[stats.terminated] <= T)
    np.testing.assert_array_equal(batch["filled"].sum(1), lengths)
    for k, length in enumerate(lengths):
        assert batch["filled"][k, :length].all()
        assert batch["terminated"][k].sum() == stats.terminated[k]
        if stats.terminated[k]:
            assert batch["terminated"][k, length - 1]
        # observations exist up to and including the one after the last step; then padding
        assert batch["obs"][k, : length + 1].any(axis=(1, 2)).sum() >= 1
        assert not batch["obs"][k, length + 1 :].any() and not batch["state"][k, length + 1 :].any()
        assert batch["avail_actions"][k, length + 1 :].all()
        assert not batch["greedy"][k, length:].any() and np.all(batch["eps"][k, :length] == 0.5)
        np.testing.assert_allclose(batch["reward"][k].sum(), stats.returns[k], rtol=1e-6)
        np.testing.assert_array_equal(batch["greedy"][k, :length, 0], batch["actions"][k, :length])
    # captures seen by the runner agree with the rewards
    np.testing.assert_allclose(
        stats.returns, 10 * stats.info_totals["captures"] - stats.info_totals["miscaptures"]
    )
    assert stats.captures.sum() > 0 and stats.env_steps == lengths.sum()


def test_recorded_episode_replays_exactly():
    """Replaying the recorded actions in a fresh env with the same seed reproduces the batch."""
    batch, stats = run_episodes(small_predator_prey(4, seed=5), RandomSelector(1, 20.0), test_mode=False, t_env=0)
    env = small_predator_prey(4, seed=5)
    env.reset()
    for t in range(stats.lengths.max() + 1):
        live = stats.lengths >= t
        np.testing.assert_array_equal(env.obs()[live], batch["obs"][live, t])
        np.testing.assert_array_equal(env.state()[live], batch["state"][live, t])
        np.testing.assert_array_equal(env.avail_actions()[live], batch["avail_actions"][live, t])
        if t == stats.lengths.max():
            break
        reward, terminated, _ = env.step(batch["actions"][:, t])
        running = stats.lengths > t
        np.testing.assert_array_equal(reward[running], batch["reward"][running, t])
        np.testing.assert_array_equal(terminated[running], batch["terminated"][running, t])


def test_seeded_runs_match_and_batches_fit_the_buffer():
    runs = [
        run_episodes(small_predator_prey(3, seed=9), RandomSelector(2), test_mode=False, t_env=0, seed=4)
        for _ in range(2)
    ]
    for key in runs[0][0].keys():
        np.testing.assert_array_equal(runs[0][0][key], runs[1][0][key])
    env = small_predator_prey(3)
    buf = EpisodeBuffer(10, info=env.info, extras={"greedy": ((2, 3), np.int64), "eps": ((), np.float64)})
    for _ in range(4):
        buf.insert(run_episodes(env, RandomSelector(3), test_mode=False, t_env=0)[0])
    assert len(buf) == 10 and buf.episodes_inserted == 12
    sample = buf.sample(4, np.random.default_rng(0))
    assert sample.max_seq_length == sample.lengths.max() + 1


def test_bad_selectors_are_reported():
    env = make_env("matrix:table5", n_envs=2)
    with pytest.raises(SettingsError, match="expected"):
        run_episodes(env, lambda *a: (np.zeros((2, 3), dtype=np.int64), {}), test_mode=False, t_env=0)
    with pytest.raises(SettingsError, match="leading dimension"):
        run_episodes(
            env, lambda *a: (np.zeros((2, 2), dtype=np.int64), {"x": np.zeros(3)}), test_mode=False, t_env=0
        )
    with pytest.raises(SettingsError, match="new field"):
        run_episodes(
            env, lambda *a: (np.zeros((2, 2), dtype=np.int64), {"obs": np.zeros(2)}), test_mode=False, t_env=0
        )
