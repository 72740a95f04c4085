"""The PyTorch peer of minigan's models, for the benches only: the same networks, minigan's weights copied in.

``torch_copy(model)`` turns a minigan ``Sequential`` into a ``torch.nn.Sequential`` layer by layer
(Dense's W (in, out) becomes Linear's weight (out, in); convolutions already share PyTorch's
layouts; BatchNorm copies gamma, beta and the running statistics). ``TorchGame`` is
``minigan.gan.game.gan_step`` written with autograd: D on the real batch and on the detached fakes,
one Adam step, then G through D with only G's parameters receiving gradients, one Adam step.
PyTorch is a peer for the benches, never a dependency of minigan: ``require_torch()`` says how
to install it and exits cleanly without it.
"""
import sys

import numpy as np


def require_torch():
    """Import torch, or exit with one line that says how to install it."""
    try:
        import torch
    except ImportError:
        sys.exit("this benchmark compares with PyTorch, which is not installed: pip install torch "
                 "(on the developers' machines: pip install torch==2.13.0, a CPU build)")
    return torch


def torch_copy(model, dtype="float32", device="cpu"):
    """A torch.nn.Sequential computing what the minigan Sequential ``model`` computes, with its weights."""
    torch = require_torch()
    nn, mg_nn = torch.nn, sys.modules["minigan"].nn
    tensor = lambda a: torch.tensor(sys.modules["minigan"].to_numpy(a), dtype=getattr(torch, dtype))  # noqa: E731
    layers = []
    for layer in model:
        name = type(layer).__name__
        if isinstance(layer, mg_nn.Dense):
            t = nn.Linear(*layer.W.shape)
            t.weight.data, t.bias.data = tensor(layer.W.data.T).contiguous(), tensor(layer.b.data)
        elif isinstance(layer, (mg_nn.Conv2d, mg_nn.ConvTranspose2d)):
            cls = nn.Conv2d if isinstance(layer, mg_nn.Conv2d) else nn.ConvTranspose2d
            C_a, C_b = layer.W.shape[:2]
            in_out = (C_a, C_b) if cls is nn.ConvTranspose2d else (C_b, C_a)
            t = cls(*in_out, layer.W.shape[2:], layer.stride, layer.padding)
            t.weight.data, t.bias.data = tensor(layer.W.data), tensor(layer.b.data)
        elif isinstance(layer, (mg_nn.BatchNorm1d, mg_nn.BatchNorm2d)):
            t = (nn.BatchNorm1d if name == "BatchNorm1d" else nn.BatchNorm2d)(layer.num_features, eps=layer.eps,
                                                                              momentum=layer.momentum)
            t.weight.data, t.bias.data = tensor(layer.gamma.data), tensor(layer.beta.data)
            t.running_mean.data, t.running_var.data = tensor(layer.running_mean), tensor(layer.running_var)
        elif isinstance(layer, mg_nn.LeakyReLU):
            t = nn.LeakyReLU(layer.negative_slope)
        elif isinstance(layer, mg_nn.Reshape):
            t = nn.Unflatten(1, tuple(layer.shape))
        else:
            t = {"ReLU": nn.ReLU, "Sigmoid": nn.Sigmoid, "Tanh": nn.Tanh, "Flatten": nn.Flatten}[name]()
        layers.append(t)
    return nn.Sequential(*layers).to(device=device, dtype=getattr(torch, dtype))


def torch_losses(name):
    """(d_loss(s_real, s_fake), g_loss(s_fake)) of a minigan loss, in PyTorch (label smoothing not included)."""
    torch = require_torch()
    F = torch.nn.functional
    bce = lambda s, t: F.binary_cross_entropy_with_logits(s, torch.full_like(s, t))   # noqa: E731
    return {
        "nonsaturating": (lambda r, f: bce(r, 1.0) + bce(f, 0.0), lambda f: bce(f, 1.0)),
        "minimax": (lambda r, f: bce(r, 1.0) + bce(f, 0.0), lambda f: -F.softplus(f).mean()),
        "lsgan": (lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean(),
                  lambda f: 0.5 * ((f - 1) ** 2).mean()),
        "hinge": (lambda r, f: F.relu(1 - r).mean() + F.relu(1 + f).mean(), lambda f: -f.mean()),
        "wasserstein": (lambda r, f: f.mean() - r.mean(), lambda f: -f.mean()),
    }[name]


class TorchGame:
    """minigan's game (``minigan.gan.game.gan_step``) with autograd, on copies of minigan's G and D."""

    def __init__(self, G, D, loss="nonsaturating", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), clip_value=None,
                 device="cpu", penalty=None, rng=None):
        torch = require_torch()
        self.torch, self.device = torch, device
        self.G, self.D = torch_copy(G, device=device), torch_copy(D, device=device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=lr_d, betas=betas)
        self.d_loss, self.g_loss = torch_losses(loss)
        self.clip_value = clip_value
        self.penalty, self.rng = penalty, rng       # a minigan Penalty; the numpy Generator of its interpolates

    def step(self, real, z, update_g=True):
        """One iteration on host arrays; returns (loss_d, loss_g or None) as tensors (no host read)."""
        torch = self.torch
        real = torch.as_tensor(real, device=self.device)
        z = torch.as_tensor(z, device=self.device)
        fake = self.G(z)
        self.opt_d.zero_grad()
        loss_d = self.d_loss(self.D(real), self.D(fake.detach()))
        if self.penalty is not None:
            loss_d = loss_d + self.gradient_penalty(real, fake.detach())
        loss_d.backward()
        self.opt_d.step()
        if self.clip_value is not None:
            with torch.no_grad():
                for p in self.D.parameters():
                    p.clamp_(-self.clip_value, self.clip_value)
        if not update_g:
            return loss_d, None
        self.opt_g.zero_grad()
        loss_g = self.g_loss(self.D(fake))
        torch.autograd.backward(loss_g, inputs=list(self.G.parameters()))   # D's gradients stay untouched
        self.opt_g.step()
        return loss_d, loss_g

    def gradient_penalty(self, real, fake):
        """minigan's ``Penalty`` by double backward: g = ∂ΣD(x)/∂x with create_graph=True, then P."""
        torch, term = self.torch, self.penalty
        if term.on == "interpolates":
            eps = torch.as_tensor(self.rng.random(len(real)), dtype=real.dtype, device=self.device)
            x = fake + eps.view(-1, *([1] * (real.dim() - 1))) * (real - fake)
        else:
            x = real if term.on == "real" else fake
        x = x.detach().requires_grad_(True)
        g, = torch.autograd.grad(self.D(x).sum(), x, create_graph=True)
        return term.weight * ((g.flatten(1).norm(dim=1) - term.center) ** 2).mean()

    def parameters(self):
        """Host float64 copies of every parameter, G's then D's, in minigan's order."""
        return [p.detach().cpu().double().numpy() for net in (self.G, self.D) for p in net.parameters()]

    def generate(self, z, chunk=250):
        """G in eval mode on host noise, as host float32 images."""
        torch = self.torch
        self.G.eval()
        with torch.no_grad():
            out = [self.G(torch.as_tensor(z[i:i + chunk], device=self.device)).cpu().numpy()
                   for i in range(0, len(z), chunk)]
        self.G.train()
        return np.concatenate(out)


def minigan_parameters(G, D):
    """Host float64 copies of minigan's parameters in the order ``TorchGame.parameters`` uses."""
    mg = sys.modules["minigan"]
    out = []
    for model in (G, D):
        for layer in model:
            for p in layer.parameters():
                a = mg.to_numpy(p.data).astype(np.float64)
                out.append(a.T if isinstance(layer, mg.nn.Dense) and p is layer.W else a)
    return out
