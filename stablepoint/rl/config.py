"""Typed, frozen run configurations for the deep-RL learners, loaded from YAML.

A run is described by three dataclasses:

* :class:`AlgoConfig`: which components the one learner loop plugs together
  (mixer, Q_tot target, loss weight, auxiliary losses, rounds, exploration)
  and their hyperparameters;
* :class:`EnvConfig`: which environment, how many copies run batched, the
  discount and the episode-budget defaults that suit it;
* :class:`TrainConfig`: the two above plus seed, step budget, replay, epsilon
  schedule, evaluation and logging settings (MRVF Table 9 defaults).

Algorithms live in ``stablepoint/configs/algos/<name>.yaml`` and environment
families in ``stablepoint/configs/envs/<family>.yaml``; an environment file
may carry a ``train:`` block of overrides (matrix games anneal epsilon much
faster than Table 9's 50,000 steps).  Every field is validated on load and
derived values come from :func:`dataclasses.replace`, never from mutation.

>>> cfg = make_config("matrix:table5", "mrvf", seed=1, steps=2000)
>>> cfg.algo.rounds, cfg.algo.exploration, cfg.algo.preselect_p
(3, 'centralized', 0.2)
>>> cfg.env.spec, cfg.seed, cfg.steps
('matrix:table5', 1, 2000)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from stablepoint.errors import SettingsError

__all__ = [
    "AlgoConfig",
    "EnvConfig",
    "TrainConfig",
    "list_algos",
    "list_profiles",
    "load_profile",
    "load_algo",
    "load_env",
    "make_config",
    "config_from_dict",
    "config_to_dict",
    "save_config",
    "load_config",
]


@dataclass(frozen=True)
class AlgoConfig:
    """One algorithm as a set of pluggable components plus hyperparameters."""

    name: str
    """Algorithm name (used in run names and reports only; the learner never reads it)."""
    mixer: str = "qmix"
    """Key in :data:`stablepoint.rl.mixers.MIXERS`."""
    target: str = "td"
    """Key in :data:`stablepoint.rl.learner.TARGETS`: what Q_tot regresses on."""
    loss_weight: str = "uniform"
    """Key in :data:`stablepoint.rl.learner.LOSS_WEIGHTS` (``cw``/``ow`` for WQMIX)."""
    tot_loss: bool = True
    """Whether Q_tot is trained on the (weighted) squared error to its target; QTRAN-base trains
    the utilities only through its optimality constraints."""
    aux_losses: tuple[str, ...] = ()
    """Keys in :data:`stablepoint.rl.learner.AUX_LOSSES` added to the loss (``joint_td``, ``qtran``, ``rnd``)."""
    joint_net: bool = False
    """Build the unrestricted joint-action network Q_jt (WQMIX's Q*, QTRAN's Q_jt, MRVF's Q^_jt)."""
    rounds: int = 1
    """Rounds of value factorization K (MRVF: 3); 1 is ordinary single-round factorization."""
    exploration: str = "decentralized"
    """``decentralized`` (each agent explores on its own, MRVF Eq. 2) or ``centralized`` (Eq. 8)."""
    preselect_p: float = 0.0
    """Probability of acting with one round's greedy action during training (MRVF Sec. 4.3)."""
    sample_epsilon: float = -1.0
    """Epsilon of the centralized policy pi_k that samples u^k for the ``joint_value`` target;
    negative means the behaviour epsilon of the moment (the paper's reading)."""
    alpha: float = 0.1
    """WQMIX down-weighting of the loss on non-preferred joint actions."""
    td_lambda: float = 0.0
    """lambda of the TD(lambda) target (0 gives the one-step target)."""
    double_q: bool = True
    """Pick next greedy actions with the online agents and score them with the target networks."""
    rnd_beta: float = 0.0
    """Weight beta of the RND intrinsic reward (only used with the ``rnd`` auxiliary loss)."""
    qtran_lambda_opt: float = 1.0
    """Weight of QTRAN's L_opt."""
    qtran_lambda_nopt: float = 1.0
    """Weight of QTRAN's L_nopt."""
    agent_hidden: int = 64
    """GRU hidden size of the shared agent network (MRVF Appendix E)."""
    mixing_embed: int = 32
    """Hidden size of the mixing layer whose weights the hypernetworks generate."""
    hypernet_embed: int = 64
    """Hidden size of the hypernetworks that read the state."""
    joint_hidden: int = 128
    """Hidden size of the joint-action network (3 layers)."""
    obs_agent_id: bool = True
    """Append a one-hot agent id to each observation (parameter sharing needs it)."""
    obs_last_action: bool = False
    """Append the agent's previous action (one-hot) to its observation."""
    analysis: str = ""
    """Name of the matching exact method in :mod:`stablepoint.methods` (``confirm`` compares
    against its stable points); empty when there is none."""
    increment: bool = True
    """MRVF rounds k > 1 regress on the increment max(Q^_jt(u) - Q^_jt(ubar^{k-1}), 0) (Eq. 5);
    False regresses every round on Q^_jt itself (Eq. 6; MRVF-non-strict, Appendix F)."""
    cw_target: bool = False
    """CW weighting scores ubar with the target Q* (as the WQMIX code does) instead of the online one."""
    optimizer: str = "adam"
    """``adam`` or ``rmsprop`` (PyMARL's, with ``optim_alpha`` and ``optim_eps``)."""
    optim_alpha: float = 0.99
    """RMSprop smoothing constant."""
    optim_eps: float = 1e-5
    """RMSprop epsilon (Adam keeps torch's default 1e-8)."""
    lr: float = 0.0005
    """Learning rate."""
    grad_norm_clip: float = 10.0
    """Clip the global gradient norm to this value."""


@dataclass(frozen=True)
class EnvConfig:
    """An environment family and the settings the runner uses with it."""

    spec: str
    """Environment spec passed to ``make_env`` (``matrix:table5``, ``predator-prey:punishment=-2``)."""
    n_envs: int = 8
    """Environment copies stepped together in one process."""
    gamma: float = 0.99
    """Discount."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs (MRVF Table 9 defaults)."""

    env: EnvConfig
    algo: AlgoConfig
    profile: str = "default"
    """The settings profile the config was made with (``stablepoint/configs/profiles``); a record."""
    seed: int = 0
    """Seed of numpy, torch and the environments."""
    steps: int = 20000
    """Environment steps (summed over the batched copies) to train for."""
    batch_size: int = 32
    """Episodes per update."""
    buffer_size: int = 5000
    """Episodes held in the replay buffer."""
    target_update_interval: int = 200
    """Updates between hard target-network copies."""
    epsilon_start: float = 1.0
    """Initial exploration rate."""
    epsilon_finish: float = 0.05
    """Final exploration rate."""
    epsilon_anneal_steps: int = 50000
    """Environment steps of linear epsilon decay."""
    test_interval: int = 10000
    """Environment steps between greedy evaluations."""
    test_episodes: int = 32
    """Episodes per evaluation."""
    log_interval: int = 2000
    """Environment steps between training-metric log rows."""
    save_interval: int = 5000
    """Environment steps between checkpoints (one is always written at the end)."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu`` or ``cuda``."""
    torch_threads: int = 1
    """Torch intra-op threads on CPU (the machine is shared; 1 is usually fastest for these sizes)."""
    out: str = "runs"
    """Parent directory of run directories."""
    run_name: str = ""
    """Run directory name; empty derives ``<env>__<algo>__seed<seed>``."""
    tensorboard: bool = True
    """Also write TensorBoard event files when tensorboard is installed."""
    wandb: bool = False
    """Also log to Weights & Biases (the ``wandb`` extra; ``WANDB_MODE=offline`` logs locally)."""
    wandb_project: str = "stablepoint"
    """W&B project of the run (with ``wandb``)."""


_ALGO_FIELDS = {f.name for f in fields(AlgoConfig)}
_ENV_FIELDS = {f.name for f in fields(EnvConfig)}
_TRAIN_FIELDS = {f.name for f in fields(TrainConfig)} - {"env", "algo", "profile"}
_EXPLORATIONS = ("decentralized", "centralized")
_OPTIMIZERS = ("adam", "rmsprop")
_DEVICES = ("auto", "cpu", "cuda")


def _configs_dir() -> Path:
    return Path(str(resources.files("stablepoint") / "configs"))


def list_profiles() -> list[str]:
    """Names of the settings profiles shipped in ``stablepoint/configs/profiles``."""
    return sorted(p.stem for p in (_configs_dir() / "profiles").glob("*.yaml"))


def load_profile(name: str) -> dict[str, dict]:
    """A profile's ``env``, ``train`` and ``algo`` overrides (each a mapping, maybe empty)."""
    path = _configs_dir() / "profiles" / f"{name}.yaml"
    if not path.is_file():
        raise SettingsError(f"unknown profile {name!r}; choose one of: {', '.join(list_profiles())}")
    data = _read_yaml(path)
    _check_keys(data, {"env", "train", "algo"}, str(path))
    out = {key: dict(data.get(key) or {}) for key in ("env", "train", "algo")}
    _check_keys(out["env"], _ENV_FIELDS - {"spec"}, f"{path} (env:)")
    _check_keys(out["train"], _TRAIN_FIELDS, f"{path} (train:)")
    _check_keys(out["algo"], _ALGO_FIELDS - {"name"}, f"{path} (algo:)")
    return out


def list_algos() -> list[str]:
    """Names of the algorithm configs shipped in ``stablepoint/configs/algos``."""
    return sorted(p.stem for p in (_configs_dir() / "algos").glob("*.yaml"))


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read as a text YAML file ({type(exc).__name__})") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a mapping at the top level")
    return data


def _check_keys(data: Mapping, allowed: set, where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise SettingsError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(allowed))}"
        )


def _coerce(cls, data: Mapping, where: str):
    """Build ``cls(**data)`` converting each value to the field's declared type."""
    out = {}
    hints = {f.name: f.type for f in fields(cls)}
    for key, value in data.items():
        kind = hints[key]
        try:
            if kind in ("int", int):
                if isinstance(value, bool) or float(value) != int(float(value)):
                    raise ValueError
                value = int(float(value))
            elif kind in ("float", float):
                if isinstance(value, bool):
                    raise ValueError
                value = float(value)
            elif kind in ("bool", bool):
                if not isinstance(value, bool):
                    raise ValueError
            elif kind in ("str", str):
                if not isinstance(value, str):
                    raise ValueError
            elif str(kind).startswith("tuple"):
                if isinstance(value, str):
                    value = (value,) if value else ()
                value = tuple(str(v) for v in value)
        except (TypeError, ValueError):
            raise SettingsError(f"{where}: {key} = {value!r} is not a valid {kind}") from None
        out[key] = value
    return cls(**out)


def validate(cfg: TrainConfig) -> TrainConfig:
    """Check ranges and registry names; return ``cfg`` unchanged or raise :class:`SettingsError`."""
    # Local imports: the registries import torch, configs alone should not.
    from stablepoint.rl.learner import AUX_LOSSES, LOSS_WEIGHTS, TARGETS
    from stablepoint.rl.mixers import MIXERS

    a, e = cfg.algo, cfg.env
    for value, table, what in (
        (a.mixer, MIXERS, "mixer"),
        (a.target, TARGETS, "target"),
        (a.loss_weight, LOSS_WEIGHTS, "loss_weight"),
    ):
        if value not in table:
            raise SettingsError(f"unknown {what} {value!r}; choose one of: {', '.join(table)}")
    for aux in a.aux_losses:
        if aux not in AUX_LOSSES:
            raise SettingsError(f"unknown aux loss {aux!r}; choose from: {', '.join(AUX_LOSSES)}")
    needs_joint = a.target == "joint_value" or a.loss_weight == "cw" or "joint_td" in a.aux_losses or "qtran" in a.aux_losses
    if needs_joint and not a.joint_net:
        raise SettingsError(f"algorithm {a.name!r}: its target/loss needs joint_net: true")
    if a.optimizer not in _OPTIMIZERS:
        raise SettingsError(f"optimizer must be one of {', '.join(_OPTIMIZERS)}, got {a.optimizer!r}")
    if a.exploration not in _EXPLORATIONS:
        raise SettingsError(f"exploration must be one of {', '.join(_EXPLORATIONS)}, got {a.exploration!r}")
    checks = [
        (a.rounds >= 1, f"rounds must be >= 1, got {a.rounds}"),
        (a.rounds == 1 or a.joint_net, "rounds > 1 needs joint_net: true (early termination compares Q_jt)"),
        (a.sample_epsilon <= 1.0, f"sample_epsilon must be <= 1 (negative: behaviour epsilon), got {a.sample_epsilon}"),
        (0.0 <= a.preselect_p <= 1.0, f"preselect_p must be in [0, 1], got {a.preselect_p}"),
        (0.0 < a.alpha <= 1.0, f"alpha must be in (0, 1], got {a.alpha}"),
        (0.0 <= a.td_lambda <= 1.0, f"td_lambda must be in [0, 1], got {a.td_lambda}"),
        (a.rnd_beta >= 0.0, f"rnd_beta must be >= 0, got {a.rnd_beta}"),
        (a.lr > 0.0, f"lr must be > 0, got {a.lr}"),
        (0.0 <= a.optim_alpha < 1.0, f"optim_alpha must be in [0, 1), got {a.optim_alpha}"),
        (a.optim_eps > 0.0, f"optim_eps must be > 0, got {a.optim_eps}"),
        (a.grad_norm_clip > 0.0, f"grad_norm_clip must be > 0, got {a.grad_norm_clip}"),
        (min(a.agent_hidden, a.mixing_embed, a.hypernet_embed, a.joint_hidden) >= 1, "hidden sizes must be >= 1"),
        (e.n_envs >= 1, f"n_envs must be >= 1, got {e.n_envs}"),
        (0.0 < e.gamma <= 1.0, f"gamma must be in (0, 1], got {e.gamma}"),
        (cfg.steps >= 1, f"steps must be >= 1, got {cfg.steps}"),
        (cfg.batch_size >= 1, f"batch_size must be >= 1, got {cfg.batch_size}"),
        (cfg.buffer_size >= cfg.batch_size, f"buffer_size ({cfg.buffer_size}) must be >= batch_size ({cfg.batch_size})"),
        (cfg.target_update_interval >= 1, "target_update_interval must be >= 1"),
        (0.0 <= cfg.epsilon_finish <= cfg.epsilon_start <= 1.0, "need 0 <= epsilon_finish <= epsilon_start <= 1"),
        (cfg.epsilon_anneal_steps >= 1, "epsilon_anneal_steps must be >= 1"),
        (cfg.test_interval >= 1 and cfg.test_episodes >= 1, "test_interval and test_episodes must be >= 1"),
        (cfg.log_interval >= 1 and cfg.save_interval >= 1, "log_interval and save_interval must be >= 1"),
        (cfg.device in _DEVICES, f"device must be one of {', '.join(_DEVICES)}, got {cfg.device!r}"),
        (cfg.torch_threads >= 1, "torch_threads must be >= 1"),
        (cfg.seed >= 0, f"seed must be >= 0, got {cfg.seed}"),
    ]
    for ok, message in checks:
        if not ok:
            raise SettingsError(message)
    return cfg


def load_algo(name_or_path: str, **overrides) -> AlgoConfig:
    """An :class:`AlgoConfig` from a shipped name (``mrvf``) or a YAML path, with overrides."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise SettingsError(f"algorithm config {name_or_path!r} does not exist")
    else:
        path = _configs_dir() / "algos" / f"{name_or_path}.yaml"
        if not path.is_file():
            raise SettingsError(f"unknown algorithm {name_or_path!r}; choose one of: {', '.join(list_algos())}")
    data = _read_yaml(path)
    data.setdefault("name", path.stem)
    data.update(overrides)
    _check_keys(data, _ALGO_FIELDS, str(path))
    return _coerce(AlgoConfig, data, str(path))


def load_env(spec: str, **overrides) -> tuple[EnvConfig, dict]:
    """The :class:`EnvConfig` for ``spec`` and the ``train:`` overrides of its family's YAML.

    The family is the part of ``spec`` before the first colon (``matrix:table5`` -> ``matrix``; ``-`` reads as ``_``).
    """
    family = spec.partition(":")[0].strip().lower().replace("-", "_")
    path = _configs_dir() / "envs" / f"{family}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (_configs_dir() / "envs").glob("*.yaml"))
        raise SettingsError(f"unknown environment family {family!r}; choose one of: {', '.join(known)}")
    data = _read_yaml(path)
    train = data.pop("train", {}) or {}
    data["spec"] = spec
    data.update(overrides)
    _check_keys(data, _ENV_FIELDS, str(path))
    _check_keys(train, _TRAIN_FIELDS, f"{path} (train:)")
    return _coerce(EnvConfig, data, str(path)), dict(train)


def make_config(env: str, algo: str, profile: str | None = None, **train_overrides) -> TrainConfig:
    """A validated :class:`TrainConfig`: env family defaults, the profile, then ``train_overrides``.

    ``train_overrides`` are :class:`TrainConfig` fields or :class:`EnvConfig` fields other than
    ``spec`` (``n_envs``, ``gamma``); ``None`` values are ignored so a CLI can pass every option
    through.  ``profile`` (default ``"default"``) names a file of ``stablepoint/configs/profiles``
    whose settings come after the environment family's and before the overrides.
    """
    profile = profile or "default"
    prof = load_profile(profile)
    given = {k: v for k, v in train_overrides.items() if v is not None}
    env_keys = {**prof["env"], **{k: given.pop(k) for k in list(given) if k in _ENV_FIELDS - {"spec"}}}
    env_cfg, env_train = load_env(env, **env_keys)
    algo_cfg = load_algo(algo, **prof["algo"])
    settings = {**env_train, **prof["train"]}
    settings.update(given)
    _check_keys(settings, _TRAIN_FIELDS, "train settings")
    base = _coerce(_TrainFields, settings, "train settings")
    return validate(TrainConfig(env=env_cfg, algo=algo_cfg, profile=profile, **dataclasses.asdict(base)))


@dataclass(frozen=True)
class _TrainFields:
    """TrainConfig without its nested parts (for typed coercion of overrides)."""

    seed: int = TrainConfig.seed
    steps: int = TrainConfig.steps
    batch_size: int = TrainConfig.batch_size
    buffer_size: int = TrainConfig.buffer_size
    target_update_interval: int = TrainConfig.target_update_interval
    epsilon_start: float = TrainConfig.epsilon_start
    epsilon_finish: float = TrainConfig.epsilon_finish
    epsilon_anneal_steps: int = TrainConfig.epsilon_anneal_steps
    test_interval: int = TrainConfig.test_interval
    test_episodes: int = TrainConfig.test_episodes
    log_interval: int = TrainConfig.log_interval
    save_interval: int = TrainConfig.save_interval
    device: str = TrainConfig.device
    torch_threads: int = TrainConfig.torch_threads
    out: str = TrainConfig.out
    run_name: str = TrainConfig.run_name
    tensorboard: bool = TrainConfig.tensorboard
    wandb: bool = TrainConfig.wandb
    wandb_project: str = TrainConfig.wandb_project


def config_to_dict(cfg: TrainConfig) -> dict:
    """A plain, YAML-able dict of ``cfg`` (tuples become lists)."""
    return dataclasses.asdict(cfg)


def config_from_dict(data: Mapping[str, Any]) -> TrainConfig:
    """Rebuild and validate a :class:`TrainConfig` from :func:`config_to_dict` output."""
    data = dict(data)
    try:
        env = dict(data.pop("env"))
        algo = dict(data.pop("algo"))
    except KeyError as exc:
        raise SettingsError(f"config is missing its {exc.args[0]!r} section") from None
    _check_keys(env, _ENV_FIELDS, "env")
    _check_keys(algo, _ALGO_FIELDS, "algo")
    _check_keys(data, _TRAIN_FIELDS | {"profile"}, "config")
    profile = str(data.pop("profile", "default"))
    return validate(
        TrainConfig(
            env=_coerce(EnvConfig, env, "env"),
            algo=_coerce(AlgoConfig, algo, "algo"),
            profile=profile,
            **dataclasses.asdict(_coerce(_TrainFields, data, "config")),
        )
    )


def save_config(cfg: TrainConfig, path) -> None:
    """Write ``cfg`` as YAML."""
    Path(path).write_text(yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


def load_config(path) -> TrainConfig:
    """Read a config written by :func:`save_config`."""
    return config_from_dict(_read_yaml(Path(path)))
