"""minigan.train.parts: what a run is built from; here, the memory check made before the networks are built."""
import pytest

import minigan as mg
from minigan.train import parts


@pytest.mark.parametrize("model", ["dcgan", "mlp"])
def test_init_bytes_counts_the_weights_and_their_float64_draws(model):
    G, D = mg.models.build(model, z_dim=37, rng=0)
    params = sum(p.data.size for net in (G, D) for p in net.parameters())
    assert parts.init_bytes(model, 37) == 12 * params


def test_networks_larger_than_the_memory_are_refused_before_they_are_built(monkeypatch):
    monkeypatch.setattr(parts, "physical_memory", lambda: 10**9)      # 1 GB; z_dim 200,000 needs 15 GB
    real_build, sizes = mg.models.build, []
    monkeypatch.setattr(mg.models, "build", lambda name, z_dim=100, **k: sizes.append(z_dim) or real_build(name, z_dim, **k))
    with pytest.raises(mg.errors.ConfigError, match="200000 makes the dcgan networks too large"):
        parts.build_models(mg.train.TrainConfig(z_dim=200_000))
    assert max(sizes) == 2                                               # only the two tiny builds of init_bytes


def test_physical_memory_is_a_positive_number():
    assert parts.physical_memory() > 0
