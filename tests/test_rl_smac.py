"""The SMAC adapter's own logic, against a scripted StarCraft2Env stand-in (SC2 cannot run here)."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from click.testing import CliRunner

from stablepoint.errors import SettingsError
from stablepoint.rl.envs import make_env
from stablepoint.rl.envs import smac as smac_mod
from stablepoint.rl.envs.smac import SMACEnv
from stablepoint.rl.runner import run_episodes

from _fake_sc2 import FakeStarCraft2Env


class Recorder:
    """A factory that builds fakes and keeps them, to inspect constructor arguments and calls."""

    def __init__(self, **fixed):
        self.fixed = fixed
        self.made: list[FakeStarCraft2Env] = []

    def __call__(self, **kwargs):
        env = FakeStarCraft2Env(**{**kwargs, **self.fixed})
        self.made.append(env)
        return env


def test_spec_builds_copies_with_seeds_and_signed_reward_by_default():
    rec = Recorder()
    env = make_env("smac:3m", n_envs=3, seed=5, env_factory=rec)
    assert [f.seed for f in rec.made] == [5, 6, 7]
    assert [f.map_name for f in rec.made] == ["3m"] * 3
    # MRVF E.3: no absolute values unless asked for
    assert [f.reward_only_positive for f in rec.made] == [False] * 3
    assert env.info.n_agents == 3 and env.info.n_actions == 9 and env.info.episode_limit == 5
    assert env.options["reward_only_positive"] is False

    rec2 = Recorder()
    make_env("smac:3s_vs_5z,reward_only_positive=true,difficulty=7", n_envs=1, env_factory=rec2)
    assert rec2.made[0].map_name == "3s_vs_5z"
    assert rec2.made[0].reward_only_positive is True
    assert rec2.made[0].kwargs == {"difficulty": 7}


def test_obs_state_avail_plumbing():
    env = SMACEnv("3m", n_envs=2, seed=10, env_factory=FakeStarCraft2Env)
    env.reset()
    obs, state, avail = env.obs(), env.state(), env.avail_actions()
    assert obs.shape == (2, 3, 4) and obs.dtype == np.float32
    assert state.shape == (2, 6) and state.dtype == np.float32
    assert avail.shape == (2, 3, 9) and avail.dtype == bool
    # copy e carries seed 10 + e; agent i's observation row names i
    np.testing.assert_array_equal(obs[1, 2], [11, 0, 2, 1])
    np.testing.assert_array_equal(state[:, 0], [10, 11])
    assert avail.all()
    env.step(np.full((2, 3), 2))
    env.step(np.full((2, 3), 2))
    obs, avail = env.obs(), env.avail_actions()
    np.testing.assert_array_equal(obs[:, 0, 1], [2, 2])  # step counter advanced in both copies
    # agent 0 "died" at step 2: no-op only
    np.testing.assert_array_equal(avail[:, 0], np.eye(9, dtype=bool)[[0, 0]])
    assert avail[:, 1:].all()
    with pytest.raises(SettingsError, match="action 2 is not available to agent 0"):
        env.step(np.full((2, 3), 2))


def test_reward_sign_is_passed_through():
    signed = SMACEnv("3m", env_factory=FakeStarCraft2Env)
    signed.reset()
    reward, _, _ = signed.step(np.zeros((1, 3), dtype=np.int64))
    assert reward.tolist() == [-3.0]  # not clipped, not abs'ed by the adapter
    absolute = SMACEnv("3m", env_factory=FakeStarCraft2Env, reward_only_positive=True)
    absolute.reset()
    reward, _, _ = absolute.step(np.zeros((1, 3), dtype=np.int64))
    assert reward.tolist() == [3.0]
    with pytest.raises(SettingsError, match="reward_only_positive"):
        SMACEnv("3m", env_factory=FakeStarCraft2Env, reward_only_positive="yes")


def test_done_copies_are_frozen_and_never_stepped():
    rec = Recorder()
    env = SMACEnv("3m", n_envs=2, env_factory=rec)
    env.reset()
    # copy 0 wins at once (everyone attacks: action 1); copy 1 keeps going
    reward, terminated, info = env.step(np.array([[1, 1, 1], [2, 2, 2]]))
    assert terminated.tolist() == [True, False]
    assert info["battle_won"].tolist() == [1, 0]
    assert reward.tolist() == [0.0, 3.0]
    frozen = env.obs()[0].copy()
    steps_before = sum(c.startswith("step") for c in rec.made[0].calls)
    # copy 0 may carry any action now (even one the fake would reject): it is masked out
    reward, terminated, info = env.step(np.array([[8, 8, 8], [2, 2, 2]]))
    assert reward.tolist() == [0.0, 3.0] and terminated.tolist() == [True, False]
    assert info["battle_won"].tolist() == [0, 0]
    assert sum(c.startswith("step") for c in rec.made[0].calls) == steps_before
    np.testing.assert_array_equal(env.obs()[0], frozen)
    env.reset()
    assert not env._done.any() and env.obs()[0, 0, 1] == 0


def test_time_limit_is_not_termination_and_runner_masks():
    env = SMACEnv("3m", n_envs=2, env_factory=FakeStarCraft2Env)

    def policy(obs, state, avail, t, test_mode):
        # copy 0 attacks with everyone (wins at step 1); copy 1 waits with the no-op until the limit
        acts = np.zeros(obs.shape[:2], dtype=np.int64)
        acts[0] = 1
        return acts, {}

    batch, stats = run_episodes(env, policy, test_mode=True, t_env=0)
    assert stats.lengths.tolist() == [1, 5]
    assert stats.terminated.tolist() == [True, False]  # copy 1 stopped by the time limit only
    assert stats.info_totals["battle_won"].tolist() == [1.0, 0.0]
    assert stats.returns.tolist() == [0.0, -15.0]  # 5 steps of reward -3, signed
    assert batch["filled"].sum(axis=1).tolist() == [1, 5]


def test_missing_smac_and_missing_sc2_are_one_line_errors(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "smac", None)
    monkeypatch.setitem(sys.modules, "smac.env", None)
    with pytest.raises(SettingsError, match="'smac' package") as err:
        make_env("smac:3m")
    assert "\n" not in str(err.value)

    fake_pkg = types.ModuleType("smac.env")
    fake_pkg.StarCraft2Env = FakeStarCraft2Env
    monkeypatch.setitem(sys.modules, "smac", types.ModuleType("smac"))
    monkeypatch.setitem(sys.modules, "smac.env", fake_pkg)
    monkeypatch.setenv("SC2PATH", str(tmp_path / "nowhere"))
    with pytest.raises(SettingsError, match="SC2PATH=.*nowhere is not a directory"):
        make_env("smac:3m")
    monkeypatch.setenv("SC2PATH", str(tmp_path))
    assert isinstance(make_env("smac:3m"), SMACEnv)  # both present: the real class is used
    with pytest.raises(SettingsError, match="needs a map name"):
        make_env("smac:reward_only_positive=false", env_factory=FakeStarCraft2Env)


def test_cli_train_without_smac_exits_2(monkeypatch, tmp_path):
    from stablepoint.cli import main

    monkeypatch.setitem(sys.modules, "smac", None)
    monkeypatch.setitem(sys.modules, "smac.env", None)
    result = CliRunner().invoke(main, ["train", "--env", "smac:3m", "--algo", "qmix", "--steps", "10", "--no-progress",
                                         "--out", str(tmp_path)])  # the run folder is made before the env fails
    assert result.exit_code == 2
    assert "'smac' package" in result.output and "Traceback" not in result.output


def test_tiny_qmix_run_on_fake_smac(monkeypatch, tmp_path):
    from stablepoint.rl.config import make_config
    from stablepoint.rl.train import train

    monkeypatch.setattr(smac_mod, "smac_factory", lambda: FakeStarCraft2Env)
    cfg = make_config(
        "smac:3m", "qmix", seed=0, steps=60, out=str(tmp_path), device="cpu", batch_size=4,
        test_interval=30, test_episodes=2, log_interval=30, save_interval=30, tensorboard=False,
    )
    result = train(cfg)
    assert result.t_env >= 60 and result.n_updates > 0
    assert "test/battle_won_mean" in result.test
    assert (result.run_dir / "final.json").is_file()
