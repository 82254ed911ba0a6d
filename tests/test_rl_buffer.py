"""Episode buffer bookkeeping: ring overwrite, masks, padding, trimming, extras, state_dict."""

import numpy as np
import pytest

from stablepoint.errors import SettingsError
from stablepoint.rl.buffer import STANDARD_FIELDS, EpisodeBatch, EpisodeBuffer
from stablepoint.rl.envs import EnvInfo

INFO = EnvInfo(n_agents=2, n_actions=3, obs_dim=4, state_dim=5, episode_limit=10)
EXTRAS = {"greedy": ((3, 2), np.int64)}


def episodes(tags, lengths, info=INFO, extras=True):
    """A batch whose episode k has length lengths[k] and every filled entry tagged with tags[k]."""
    batch = EpisodeBatch.empty(info, len(tags), EXTRAS if extras else None)
    for k, (tag, length) in enumerate(zip(tags, lengths)):
        batch["obs"][k, : length + 1] = tag
        batch["state"][k, : length + 1] = tag
        batch["avail_actions"][k, : length + 1] = [True, False, True]
        batch["actions"][k, :length] = tag
        batch["reward"][k, :length] = tag
        batch["terminated"][k, length - 1] = True
        batch["filled"][k, :length] = True
        if extras:
            batch["greedy"][k, :length] = tag
        batch.lengths[k] = length
    return batch


def test_ring_buffer_overwrites_the_oldest():
    buf = EpisodeBuffer(5, info=INFO, extras=EXTRAS)
    assert len(buf) == 0 and not buf.can_sample(1)
    for start in (0, 2, 4):
        buf.insert(episodes([start + 1, start + 2], [3, 4]))
    assert len(buf) == 5 and buf.episodes_inserted == 6
    stored = sorted(buf.sample(5, np.random.default_rng(0))["reward"][:, 0].tolist())
    assert stored == [2.0, 3.0, 4.0, 5.0, 6.0]  # episode 1 was overwritten
    assert buf._next == 1
    # a batch larger than the buffer keeps its newest episodes
    buf.insert(episodes(list(range(10, 17)), [2] * 7))
    assert sorted(buf.sample(5, np.random.default_rng(1))["reward"][:, 0].tolist()) == [12, 13, 14, 15, 16]


def test_sample_is_trimmed_and_masks_are_consistent():
    buf = EpisodeBuffer(8, info=INFO, extras=EXTRAS)
    buf.insert(episodes([1, 2, 3], [3, 7, 1]))
    full = buf.sample(3, np.random.default_rng(0))
    assert full.max_seq_length == 8  # longest episode 7, plus its final observation
    assert full["greedy"].shape == (3, 8, 3, 2) and full["greedy"].dtype == np.int64
    np.testing.assert_array_equal(full["filled"].sum(1), full.lengths)
    np.testing.assert_array_equal(full["terminated"].sum(1), np.ones(3))
    for k in range(3):
        tag, length = full["reward"][k, 0], full.lengths[k]
        assert {1.0: 3, 2.0: 7, 3.0: 1}[float(tag)] == length
        assert np.all(full["obs"][k, : length + 1] == tag) and not full["obs"][k, length + 1 :].any()
        assert not full["reward"][k, length:].any() and not full["actions"][k, length:].any()
        # padding rows of avail are all True so maxima over available actions stay finite
        assert full["avail_actions"][k, length + 1 :].all()
        assert full["avail_actions"][k, : length + 1, :, 1].sum() == 0
    rng = np.random.default_rng(5)
    for _ in range(20):
        short = buf.sample(2, rng)
        assert short.max_seq_length == short.lengths.max() + 1
        assert len(set(short["reward"][:, 0].tolist())) == 2  # without replacement
    with pytest.raises(SettingsError, match="cannot sample 4"):
        buf.sample(4, rng)


def test_sampling_is_uniform_over_stored_episodes():
    buf = EpisodeBuffer(4, info=INFO, extras=EXTRAS)
    buf.insert(episodes([1, 2, 3, 4], [1, 2, 3, 4]))
    rng = np.random.default_rng(0)
    counts = np.zeros(5)
    for _ in range(2000):
        for tag in buf.sample(2, rng)["reward"][:, 0]:
            counts[int(tag)] += 1
    np.testing.assert_allclose(counts[1:] / 4000, 0.25, atol=0.03)


def test_fields_are_checked_on_insert():
    buf = EpisodeBuffer(4, info=INFO, extras=EXTRAS)
    with pytest.raises(SettingsError, match=r"missing \['greedy'\]"):
        buf.insert(episodes([1], [2], extras=False))
    other = EpisodeBatch.empty(INFO, 1, {"greedy": ((2, 2), np.int64)})
    with pytest.raises(SettingsError, match="field 'greedy' has shape"):
        buf.insert(other)
    longer = EpisodeBatch.empty(EnvInfo(2, 3, 4, 5, 12), 1, EXTRAS)
    with pytest.raises(SettingsError, match="at most 11"):
        buf.insert(longer)
    with pytest.raises(SettingsError, match="clashes"):
        EpisodeBuffer(4, info=INFO, extras={"obs": ((1,), np.float32)})
    with pytest.raises(SettingsError, match="shape, dtype"):
        EpisodeBuffer(4, info=INFO, extras={"greedy": 3})
    with pytest.raises(SettingsError, match="capacity"):
        EpisodeBuffer(0, info=INFO)


def test_shorter_batches_are_padded_on_insert():
    buf = EpisodeBuffer(2, info=INFO, extras=EXTRAS)
    buf.insert(episodes([1, 2], [10, 10]))
    trimmed = episodes([5], [2]).trimmed()
    assert trimmed.max_seq_length == 3
    buf.insert(trimmed)  # overwrites slot 0, which held a full-length episode
    batch = buf.sample(2, np.random.default_rng(0))
    k = int(np.flatnonzero(batch["reward"][:, 0] == 5)[0])
    assert batch.lengths[k] == 2 and not batch["obs"][k, 3:].any() and batch["avail_actions"][k, 3:].all()
    assert not batch["filled"][k, 2:].any() and not batch["greedy"][k, 2:].any()


def test_state_dict_round_trip():
    buf = EpisodeBuffer(3, info=INFO, extras=EXTRAS)
    buf.insert(episodes([1, 2], [4, 6]))
    state = buf.state_dict()
    clone = EpisodeBuffer(3, info=INFO, extras=EXTRAS)
    clone.load_state_dict(state)
    assert len(clone) == 2 and clone.episodes_inserted == 2
    a, b = buf.sample(2, np.random.default_rng(3)), clone.sample(2, np.random.default_rng(3))
    for key in STANDARD_FIELDS + ("greedy",):
        np.testing.assert_array_equal(a[key], b[key])
    # both continue the ring at the same slot
    buf.insert(episodes([7, 8], [1, 1]))
    clone.insert(episodes([7, 8], [1, 1]))
    a, b = buf.sample(3, np.random.default_rng(4)), clone.sample(3, np.random.default_rng(4))
    np.testing.assert_array_equal(a["reward"], b["reward"])
    with pytest.raises(SettingsError, match="does not match"):
        EpisodeBuffer(4, info=INFO, extras=EXTRAS).load_state_dict(state)


def test_to_torch_keeps_dtypes():
    torch = pytest.importorskip("torch")
    tensors = episodes([1], [3]).to_torch("cpu")
    assert tensors["obs"].dtype == torch.float32 and tensors["actions"].dtype == torch.int64
    assert tensors["filled"].dtype == torch.bool and tensors["greedy"].shape == (1, 11, 3, 2)
    assert float(tensors["reward"].sum()) == 3.0
