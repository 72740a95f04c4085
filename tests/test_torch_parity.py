"""PyTorch as an optional oracle: same weights, same input, same dy -> same y, dx and grads (float64).

Confirms every section of docs/derivations.md against autograd.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import minigan as mg  # noqa: E402

pytestmark = pytest.mark.torch


def _t(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def _compare(layer, torch_layer, x, rng, param_pairs):
    """Run both, backprop the same dy, and compare y, dx and each (minigan name, torch tensor) gradient."""
    layer = layer.astype("float64")
    y = layer(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    xt = _t(x, grad=True)
    yt = torch_layer(xt)
    yt.backward(_t(dy))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    params = dict(layer.named_parameters())
    for name, tensor, to_torch in param_pairs:
        np.testing.assert_allclose(to_torch(params[name].grad), tensor.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_dense(rng):
    layer = mg.nn.Dense(5, 3, init="torch", rng=0)
    t = torch.nn.Linear(5, 3).double()
    with torch.no_grad():
        t.weight.copy_(_t(layer.W.data.T))          # torch keeps (out, in); minigan (in, out)
        t.bias.copy_(_t(layer.b.data))
    _compare(layer, t, rng.standard_normal((4, 5)), rng,
             [("W", t.weight, lambda g: g.T), ("b", t.bias, lambda g: g)])


@pytest.mark.parametrize("ours, theirs, x_shape", [
    (mg.nn.Conv2d, torch.nn.Conv2d, (2, 3, 9, 8)),
    (mg.nn.ConvTranspose2d, torch.nn.ConvTranspose2d, (2, 3, 5, 4)),
])
@pytest.mark.parametrize("k, s, p", [(4, 2, 1), (3, 1, 1), (5, 3, 2), (2, 2, 0)])
def test_convolutions(rng, ours, theirs, x_shape, k, s, p):
    layer = ours(3, 4, k, s, p, init="torch", rng=0)
    t = theirs(3, 4, k, s, p).double()
    with torch.no_grad():
        t.weight.copy_(_t(layer.W.data))           # both use PyTorch's weight layouts
        t.bias.copy_(_t(layer.b.data))
    _compare(layer, t, rng.standard_normal(x_shape), rng,
             [("W", t.weight, lambda g: g), ("b", t.bias, lambda g: g)])


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("dims", [1, 2])
def test_batchnorm(rng, dims, training):
    shape = (6, 3) if dims == 1 else (4, 3, 5, 5)
    layer = mg.nn.BatchNorm1d(3) if dims == 1 else mg.nn.BatchNorm2d(3)
    t = (torch.nn.BatchNorm1d(3) if dims == 1 else torch.nn.BatchNorm2d(3)).double()
    gamma, beta = 1.0 + rng.standard_normal(3), rng.standard_normal(3)
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    layer = layer.astype("float64")
    layer.gamma.data, layer.beta.data, layer.running_mean, layer.running_var = gamma, beta, mean, var
    with torch.no_grad():
        t.weight.copy_(_t(gamma))
        t.bias.copy_(_t(beta))
        t.running_mean.copy_(_t(mean))
        t.running_var.copy_(_t(var))
    layer.train(training)
    t.train(training)
    _compare(layer, t, 2.0 + rng.standard_normal(shape), rng,
             [("gamma", t.weight, lambda g: g), ("beta", t.bias, lambda g: g)])
    np.testing.assert_allclose(layer.running_mean, t.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, t.running_var.numpy(), rtol=1e-12)


@pytest.mark.parametrize("ours, theirs", [
    (mg.nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)), (mg.nn.ReLU(), torch.nn.ReLU()),
    (mg.nn.Sigmoid(), torch.nn.Sigmoid()), (mg.nn.Tanh(), torch.nn.Tanh()),
])
def test_activations(rng, ours, theirs):
    _compare(ours, theirs, 3.0 * rng.standard_normal((4, 2, 3, 3)), rng, [])


def _torch_loss_grads(fn, *scores):
    tensors = [_t(s, grad=True) for s in scores]
    value = fn(*tensors)
    value.backward()
    return float(value.detach()), [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("name, d_fn, g_fn", [
    ("nonsaturating",
     lambda r, f: torch.nn.functional.binary_cross_entropy_with_logits(r, torch.full_like(r, 0.9))
     + torch.nn.functional.binary_cross_entropy_with_logits(f, torch.zeros_like(f)),
     lambda f: torch.nn.functional.binary_cross_entropy_with_logits(f, torch.ones_like(f))),
    ("minimax",
     lambda r, f: torch.nn.functional.binary_cross_entropy_with_logits(r, torch.full_like(r, 0.9))
     + torch.nn.functional.binary_cross_entropy_with_logits(f, torch.zeros_like(f)),
     lambda f: -torch.nn.functional.binary_cross_entropy_with_logits(f, torch.zeros_like(f))),
    ("lsgan", lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean(), lambda f: 0.5 * ((f - 1) ** 2).mean()),
    ("hinge", lambda r, f: torch.relu(1 - r).mean() + torch.relu(1 + f).mean(), lambda f: -f.mean()),
    ("wasserstein", lambda r, f: f.mean() - r.mean(), lambda f: -f.mean()),
])
def test_losses_match_torch_autograd(rng, name, d_fn, g_fn):
    options = {"real_label": 0.9} if name in ("minimax", "nonsaturating") else {}
    loss = mg.losses.get(name, **options)
    real, fake = 3.0 * rng.standard_normal((6, 1)), 3.0 * rng.standard_normal((6, 1))
    value, (_, d_real), (_, d_fake) = loss.d_loss(real, fake), loss.d_loss_real(real), loss.d_loss_fake(fake)
    t_value, (t_real, t_fake) = _torch_loss_grads(d_fn, real, fake)
    assert value == pytest.approx(t_value, rel=1e-12)
    np.testing.assert_allclose(d_real, t_real, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(d_fake, t_fake, rtol=1e-12, atol=1e-15)
    g_value, g_fake = loss.g_loss(fake)
    t_value, (t_fake,) = _torch_loss_grads(g_fn, fake)
    assert g_value == pytest.approx(t_value, rel=1e-12)
    np.testing.assert_allclose(g_fake, t_fake, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("ours, theirs", [
    (lambda ps: mg.optim.Adam(ps, lr=1e-2, betas=(0.5, 0.999), weight_decay=1e-3),
     lambda ts: torch.optim.Adam(ts, lr=1e-2, betas=(0.5, 0.999), weight_decay=1e-3)),
    (lambda ps: mg.optim.SGD(ps, lr=1e-2, momentum=0.9, weight_decay=1e-3),
     lambda ts: torch.optim.SGD(ts, lr=1e-2, momentum=0.9, weight_decay=1e-3)),
])
def test_optimizer_trajectories_match_torch(rng, ours, theirs):
    start = rng.standard_normal((3, 4))
    p = mg.Parameter(start.copy())
    t = _t(start, grad=True)
    opt, t_opt = ours([p]), theirs([t])
    for _ in range(20):
        g = rng.standard_normal((3, 4))
        p.grad[...] = g
        t.grad = _t(g)
        opt.step()
        t_opt.step()
    np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("center, weight", [(1.0, 10.0), (0.0, 5.0)])
def test_gradient_penalty_against_double_backward(rng, center, weight):
    """P and ∂P/∂θ against torch.autograd.grad(..., create_graph=True) then P.backward(): WGAN-GP and R1."""
    D = mg.nn.Sequential(mg.nn.Conv2d(1, 3, 4, 2, 1, init="torch", rng=0), mg.nn.LeakyReLU(0.2),
                         mg.nn.Conv2d(3, 4, 3, 2, 1, init="torch", rng=1), mg.nn.LeakyReLU(0.2),
                         mg.nn.Flatten(), mg.nn.Dense(4 * 4 * 4, 8, init="torch", rng=2), mg.nn.ReLU(),
                         mg.nn.Dense(8, 1, init="torch", rng=3)).astype("float64")
    T = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 4, 2, 1), torch.nn.LeakyReLU(0.2), torch.nn.Conv2d(3, 4, 3, 2, 1),
                            torch.nn.LeakyReLU(0.2), torch.nn.Flatten(), torch.nn.Linear(64, 8), torch.nn.ReLU(),
                            torch.nn.Linear(8, 1)).double()
    with torch.no_grad():
        for i in (0, 2):
            T[i].weight.copy_(_t(D[i].W.data))
            T[i].bias.copy_(_t(D[i].b.data))
        for i in (5, 7):
            T[i].weight.copy_(_t(D[i].W.data.T))
            T[i].bias.copy_(_t(D[i].b.data))
    x = rng.standard_normal((5, 1, 14, 14))
    D.zero_grad()
    P = mg.penalties.gradient_penalty(D, x, weight, center)
    xt = _t(x, grad=True)
    g, = torch.autograd.grad(T(xt).sum(), xt, create_graph=True)
    Pt = weight * ((g.flatten(1).norm(dim=1) - center) ** 2).mean()
    Pt.backward()
    np.testing.assert_allclose(float(P), Pt.item(), rtol=1e-10)
    for i, transpose in ((0, False), (2, False), (5, True), (7, True)):
        ours = D[i].W.grad.T if transpose else D[i].W.grad
        np.testing.assert_allclose(ours, T[i].weight.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=f"layer {i} W")
        bias = T[i].bias.grad                     # None where the graph of g never reaches the bias
        np.testing.assert_allclose(D[i].b.grad, 0.0 if bias is None else bias.numpy(), atol=1e-12, err_msg=f"layer {i} b")
