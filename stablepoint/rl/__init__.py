"""Deep-RL side of stablepoint: environments, runner, replay buffer, learners.

Everything here imports torch lazily or not at all, so ``import stablepoint.rl``
stays cheap.  The pieces, each in its own module:

* :mod:`stablepoint.rl.envs`: batched (vectorized) multi-agent environments
  behind one small interface (:class:`~stablepoint.rl.envs.base.VecEnv`),
  a registry ``ENVS`` and :func:`~stablepoint.rl.envs.make_env`;
* :mod:`stablepoint.rl.runner`: :func:`~stablepoint.rl.runner.run_episodes`
  steps every copy of an env in lockstep and returns an
  :class:`~stablepoint.rl.buffer.EpisodeBatch`;
* :mod:`stablepoint.rl.buffer`: the episode replay buffer
  :class:`~stablepoint.rl.buffer.EpisodeBuffer`;
* agents, mixers, learner, controller, config and training loop (``train``).
"""
