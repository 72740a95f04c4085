import numpy as np
import pytest

import minigan as mg
from minigan.gradcheck import check_layer


@pytest.mark.parametrize("build", [mg.models.dcgan, mg.models.mlp_gan])
def test_shapes_ranges_and_dtypes(rng, build):
    G, D = build(z_dim=100, rng=0)
    z = rng.standard_normal((5, 100)).astype(np.float32)
    images = G(z)
    assert images.shape == (5, 1, 28, 28) and images.dtype == np.float32
    assert 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    scores = D(images)
    assert scores.shape == (5, 1) and scores.dtype == np.float32


def test_same_seed_same_models():
    (G1, D1), (G2, D2) = mg.models.dcgan(rng=3), mg.models.dcgan(rng=3)
    for a, b in zip(G1.parameters() + D1.parameters(), G2.parameters() + D2.parameters()):
        assert np.array_equal(a.data, b.data)


def test_architecture_is_the_documented_one():
    G, D = mg.models.dcgan()
    assert [type(layer).__name__ for layer in G] == [
        "Dense", "BatchNorm1d", "LeakyReLU", "Reshape", "ConvTranspose2d", "BatchNorm2d", "LeakyReLU",
        "ConvTranspose2d", "Sigmoid"]
    assert [type(layer).__name__ for layer in D] == [
        "Conv2d", "LeakyReLU", "Conv2d", "BatchNorm2d", "LeakyReLU", "Flatten", "Dense"]
    G, D = mg.models.mlp_gan()
    assert [layer.out_features for layer in G if isinstance(layer, mg.nn.Dense)] == [128, 256, 784]
    assert [layer.out_features for layer in D if isinstance(layer, mg.nn.Dense)] == [256, 128, 1]


def test_which_models_normalise_over_the_batch():
    assert mg.models.normalises_over_batch("dcgan") and not mg.models.normalises_over_batch("mlp")


def test_unknown_model():
    with pytest.raises(ValueError, match=r"name must be one of \('dcgan', 'mlp'\)"):
        mg.models.build("vae")


@pytest.mark.parametrize("build, z_dim, N", [(mg.models.mlp_gan, 6, 3), (mg.models.dcgan, 5, 3)])
def test_whole_generator_through_discriminator_gradient_check(rng, build, z_dim, N):
    """D(G(z)) as one stack: the generator's gradient through the discriminator, in float64."""
    G, D = build(z_dim=z_dim, rng=1)
    stack = mg.nn.Sequential(G, D)
    z = rng.standard_normal((N, z_dim))
    errors = check_layer(stack, z, method="directional", n_directions=2)
    assert max(errors.values()) < 1e-6
    assert "x" in errors and "0.0.W" in errors                   # z and G's first weights ...
    assert any(name.startswith("1.") for name in errors)         # ... and D's weights


@pytest.mark.parametrize("loss_name", ["nonsaturating", "hinge"])
def test_generator_loss_gradient_through_discriminator(rng, loss_name):
    """dL_G/dθ_G by G.backward(D.backward(g_loss')) equals the directional finite difference of L_G."""
    G, D = mg.models.mlp_gan(z_dim=4, rng=2, init="torch")
    G.astype("float64")
    D.astype("float64")
    loss = mg.losses.get(loss_name)
    z = rng.standard_normal((3, 4))
    _, d_scores = loss.g_loss(D(G(z)))
    G.zero_grad()
    G.backward(D.backward(d_scores))
    W = G[0].W
    v = rng.standard_normal(W.shape)                             # a random direction, tilted towards the
    v = v / np.linalg.norm(v) + W.grad / np.linalg.norm(W.grad)  # gradient so the derivative is well above
    v /= np.linalg.norm(v)                                       # the finite differences' rounding noise
    original, eps = W.data.copy(), 1e-6
    W.data = original + eps * v
    plus = loss.g_loss(D(G(z)))[0]
    W.data = original - eps * v
    minus = loss.g_loss(D(G(z)))[0]
    W.data = original
    assert float((W.grad * v).sum()) == pytest.approx((plus - minus) / (2 * eps), rel=1e-6)


@pytest.mark.parametrize("name, sizes", [("dcgan", (8, 4)), ("mlp", (4, 8))])
def test_width_narrows_a_model_and_its_default_keeps_the_weights(name, sizes):
    G, D = mg.models.build(name, z_dim=5, rng=0, width=4)
    assert G(np.zeros((2, 5), np.float32)).shape == (2, 1, 28, 28)
    if name == "dcgan":
        assert (G[4].in_channels, G[4].out_channels) == sizes and D[2].out_channels == 8
    else:
        assert [layer.out_features for layer in G if isinstance(layer, mg.nn.Dense)] == [*sizes, 784]
    own_width = 64 if name == "dcgan" else 128
    (G1, D1), (G2, D2) = mg.models.build(name, rng=3), mg.models.build(name, rng=3, width=own_width)
    for a, b in zip(G1.parameters() + D1.parameters(), G2.parameters() + D2.parameters()):
        assert np.array_equal(a.data, b.data)
    with pytest.raises(ValueError, match=r"width must be a positive int, got 0"):
        mg.models.build(name, width=0)
