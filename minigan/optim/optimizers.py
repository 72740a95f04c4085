"""Optimizers: Adam (the GAN default) and SGD with momentum, following PyTorch's update rules.

Both update each ``Parameter.data`` in place from its ``.grad`` (so the arrays a layer
holds stay the same objects, on either backend, in the parameter's dtype), and save and
restore their state exactly (``state_dict`` / ``load_state_dict``) so that a resumed run
continues bit for bit.

Adam (Kingma & Ba, 2015), as ``torch.optim.Adam``; at step t, for each parameter p with gradient g:

1. g = g + weight_decay * p                    (L2 penalty folded into the gradient)
2. m = beta1 * m + (1 - beta1) * g,  v = beta2 * v + (1 - beta2) * g²
3. p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

SGD, as ``torch.optim.SGD`` (no dampening, no Nesterov):

1. g = g + weight_decay * p
2. buf = g on the first step, then buf = momentum * buf + g   (only when momentum > 0)
3. p = p - lr * buf

``clip_value`` (either optimizer) clamps every parameter to [-clip_value, clip_value] after
each step: the weight clipping of the original Wasserstein GAN, which keeps the critic
roughly Lipschitz.
"""
import math

from .. import backend
from ..backend import cpu, cuda
from ..checks import is_int, is_number
from .flat import FlatParameters
from ..nn.module import Parameter


def clip_weights(params, clip_value):
    """Clamp every parameter's data to [-clip_value, clip_value] in place (WGAN weight clipping)."""
    if not clip_value > 0.0:
        raise ValueError(f"clip_weights: clip_value must be positive, got {clip_value!r}")
    for p in params:
        backend.xp_of(p.data).clip(p.data, -clip_value, clip_value, out=p.data)


def _positive_number(owner, name, value):
    if not (is_number(value) and value > 0):
        raise ValueError(f"{owner}: {name} must be a positive finite number, got {value!r}")
    return float(value)


def _non_negative(owner, name, value):
    if not (is_number(value) and value >= 0):
        raise ValueError(f"{owner}: {name} must be >= 0, got {value!r}")
    return float(value)


def _fraction(owner, name, value):
    """``value`` as a float in [0, 1), or ValueError naming it."""
    if not (is_number(value) and 0.0 <= value < 1.0):
        raise ValueError(f"{owner}: {name} must be in [0, 1), got {value!r}")
    return float(value)


def _betas(owner, betas):
    """Adam's (beta1, beta2) as floats in [0, 1), or ValueError naming them."""
    try:
        pair = tuple(betas)
    except TypeError:
        pair = ()
    if len(pair) != 2 or not all(is_number(b) and 0.0 <= b < 1.0 for b in pair):
        raise ValueError(f"{owner}: betas must be two numbers in [0, 1), got {betas!r}")
    return float(pair[0]), float(pair[1])


class Optimizer:
    """Shared bookkeeping: the parameter list, zero_grad, weight clipping and state (de)serialisation."""

    _state_names = ()

    def __init__(self, params, lr, weight_decay, clip_value):
        name = type(self).__name__
        if isinstance(params, Parameter) or not hasattr(params, "__iter__"):
            raise TypeError(f"{name}: params must be a list of Parameters, e.g. model.parameters()")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{name}: params is empty; pass model.parameters() of a model with weights")
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(f"{name}: params[{i}] must be a Parameter, got {type(p).__name__}")
            if any(p is q for q in self.params[:i]):
                raise ValueError(f"{name}: params[{i}] is listed twice; it would be updated twice per step")
        self.lr = _positive_number(name, "lr", lr)
        self.weight_decay = _non_negative(name, "weight_decay", weight_decay)
        self.clip_value = None if clip_value is None else _positive_number(name, "clip_value", clip_value)
        self.t = 0
        self.flat = FlatParameters(self.params) if FlatParameters.applies(self.params) else None
        if self.flat is not None:                  # one flat array per state, each parameter's a view of it
            self.flat_state = {key: backend.xp_of(self.flat.data).zeros_like(self.flat.data)
                               for key in self._state_names}
            views = {key: self.flat.views(a) for key, a in self.flat_state.items()}
            self.state = [{key: views[key][i] for key in self._state_names} for i in range(len(self.params))]
        else:
            self.state = [{key: backend.xp_of(p.data).zeros_like(p.data) for key in self._state_names}
                          for p in self.params]

    @classmethod
    def state_names(cls):
        """The names of the per-parameter state arrays, e.g. ("m", "v") for Adam."""
        return tuple(cls._state_names)

    def zero_grad(self):
        """Set every parameter's gradient to zero."""
        if self.flat is not None:
            self.flat.ensure()
            self.flat.grad.fill(0)
            return
        for p in self.params:
            p.zero_grad()

    def step(self):
        """Update every parameter from its gradient (then clip, if ``clip_value`` was given).

        With flat buffers (``FlatParameters``) the update runs once over all parameters; the
        arithmetic per element is the same, so the result is bit for bit that of the loop.
        """
        self.t += 1
        for i, p in enumerate(self.params):
            if p.grad is None or tuple(p.grad.shape) != tuple(p.data.shape):
                got = None if p.grad is None else tuple(p.grad.shape)
                raise RuntimeError(f"{type(self).__name__}: params[{i}] of shape {tuple(p.data.shape)} "
                                   f"has no gradient of its shape (got {got}); run backward first")
        if self.flat is not None:
            self.flat.ensure()
            targets = [(self.flat.data, self.flat.grad, self.flat_state)]
        else:
            targets = [(p.data, p.grad, state) for p, state in zip(self.params, self.state)]
        for data, g, state in targets:
            if self.weight_decay:
                g = g + self.weight_decay * data                      # step 1
            self._update(data, g, state)
        if self.clip_value is not None:
            clip_weights([self.flat] if self.flat is not None else self.params, self.clip_value)

    def _update(self, data, g, state):
        """Update the array ``data`` in place from its gradient ``g`` and its state arrays."""
        raise NotImplementedError

    def _hyperparameters(self):
        return {"lr": self.lr, "weight_decay": self.weight_decay, "clip_value": self.clip_value}

    def _check_hyperparameters(self, owner, hyper):
        """ValueError naming a saved hyperparameter that the constructor would have refused."""
        _positive_number(owner, "lr", hyper["lr"])
        _non_negative(owner, "weight_decay", hyper["weight_decay"])
        if hyper["clip_value"] is not None:
            _positive_number(owner, "clip_value", hyper["clip_value"])

    def state_dict(self):
        """Hyperparameters, the step count and host (NumPy) copies of the per-parameter state."""
        return {
            "type": type(self).__name__,
            "hyperparameters": self._hyperparameters(),
            "t": self.t,
            "state": [{k: backend.to_numpy(v).copy() for k, v in s.items()} for s in self.state],
        }

    def load_state_dict(self, state):
        """Restore what ``state_dict`` saved; the parameter list must have the same shapes in the same order.

        Everything is checked first (``check_state_dict``): a bad state leaves the optimizer untouched.
        """
        self.check_state_dict(state)
        for key, value in state["hyperparameters"].items():     # Python floats, as the constructor keeps them
            setattr(self, key, tuple(map(float, value)) if isinstance(value, (list, tuple))
                    else float(value) if is_number(value) else value)
        self.t = int(state["t"])
        for mine, (p, saved) in zip(self.state, zip(self.params, state["state"])):
            for k in self._state_names:                # in place: the flat buffers keep their views
                mine[k][...] = backend.xp_of(p.data).asarray(saved[k], dtype=mine[k].dtype)

    def check_state_dict(self, state):
        """Raise ValueError as ``load_state_dict`` would (naming what is wrong), changing nothing."""
        name = type(self).__name__
        owner = f"{name}.load_state_dict"
        if not isinstance(state, dict) or state.get("type") != name:
            found = state.get("type") if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"{owner}: the state is from {found!r}, not {name!r}")
        missing = sorted({"hyperparameters", "t", "state"} - set(state))
        if missing:
            raise ValueError(f"{owner}: the state has no {missing}")
        if not is_int(state["t"], 0):
            raise ValueError(f"{owner}: t must be an int >= 0, got {state['t']!r}")
        hyper = state["hyperparameters"]
        known = set(self._hyperparameters())
        if not isinstance(hyper, dict) or set(hyper) != known:
            raise ValueError(f"{owner}: hyperparameters must have the keys {sorted(known)}, got {hyper!r}")
        self._check_hyperparameters(owner, hyper)
        if len(state["state"]) != len(self.params):
            raise ValueError(f"{owner}: the state has {len(state['state'])} parameters, this optimizer {len(self.params)}")
        for i, (p, saved) in enumerate(zip(self.params, state["state"])):
            for key in self._state_names:
                if key not in saved:
                    raise ValueError(f"{owner}: params[{i}] has no {key!r}")
                if tuple(saved[key].shape) != tuple(p.data.shape):
                    raise ValueError(f"{owner}: params[{i}] {key} must have shape "
                                     f"{tuple(p.data.shape)}, got {tuple(saved[key].shape)}")
                if not bool(backend.xp_of(saved[key]).isfinite(saved[key]).all()):
                    raise ValueError(f"{owner}: params[{i}] {key} holds a NaN or an infinity")

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self._hyperparameters().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {args})"


class Adam(Optimizer):
    """Adam with bias correction, exactly ``torch.optim.Adam``'s update (steps 1-3 of the module docstring).

    p -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
    Derivation: docs/derivations.md, "Adam and SGD". Tests: tests/optim/test_optim.py.

    Parameters
    ----------
    params : list of Parameter
    lr : float
        Step size, default 2e-4 (the DCGAN setting).
    betas : (float, float)
        Decay rates of the first and second moment, default (0.5, 0.999) (the DCGAN setting;
        PyTorch's default beta1 is 0.9).
    eps : float
        Added to the denominator, default 1e-8.
    weight_decay : float
        L2 penalty added to the gradient, default 0.
    clip_value : float or None
        Clamp parameters to [-clip_value, clip_value] after each step (WGAN), default None.
    """

    _state_names = ("m", "v")

    def __init__(self, params, lr=2e-4, betas=(0.5, 0.999), eps=1e-8, weight_decay=0.0, clip_value=None):
        super().__init__(params, lr, weight_decay, clip_value)
        self.betas = _betas("Adam", betas)
        self.eps = _positive_number("Adam", "eps", eps)
        self._t_device = None                                         # t on the GPU, for _fused_update

    def _update(self, data, g, state):
        if backend.is_cupy_array(data) and data is getattr(self.flat, "data", None):
            return self._fused_update(data, g, state)
        beta1, beta2 = self.betas
        m, v = state["m"], state["v"]
        step_size = float(self.lr) / (1.0 - beta1 ** self.t)         # a Python float, whatever type lr was given
        bias2_sqrt = math.sqrt(1.0 - beta2 ** self.t)
        if cpu.handles(data, g, m, v):                                # the same numbers in one pass
            return cpu.adam_update(data, g, m, v, step_size, bias2_sqrt, self.betas, self.eps)
        m *= beta1                                                    # step 2
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * (g * g)
        denom = backend.xp_of(v).sqrt(v)                              # step 3
        denom /= bias2_sqrt
        denom += self.eps
        data -= step_size * (m / denom)

    def _fused_update(self, data, g, state):
        """Steps 2-3 over the flat buffers in one GPU kernel (``minigan.backend.cuda.adam_update``).

        Its bias corrections come from a device copy of t that the kernel advances, so a step
        recorded in a CUDA graph (``minigan.gan.graph``) uses the right t on every replay.
        """
        if self._t_device is None:
            self._t_device = cuda.step_counter(self.t - 1)
        cuda.adam_update(data, g, state["m"], state["v"], self._t_device, self.lr, self.betas, self.eps)

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self._t_device = None                                         # re-read from t at the next step

    def _hyperparameters(self):
        return dict(super()._hyperparameters(), betas=self.betas, eps=self.eps)

    def _check_hyperparameters(self, owner, hyper):
        super()._check_hyperparameters(owner, hyper)
        _betas(owner, hyper["betas"])
        _positive_number(owner, "eps", hyper["eps"])


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, as ``torch.optim.SGD`` (steps 1-3 of the SGD part).

    p -= lr * buf, buf = momentum * buf + g (buf = g at the first step; buf = g when momentum = 0).
    Derivation: docs/derivations.md, "Adam and SGD". Tests: tests/optim/test_optim.py.

    Parameters
    ----------
    params : list of Parameter
    lr : float
    momentum : float
        In [0, 1), default 0.
    weight_decay : float
        L2 penalty added to the gradient, default 0.
    clip_value : float or None
        Clamp parameters to [-clip_value, clip_value] after each step (WGAN), default None.
    """

    _state_names = ("buf",)

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, clip_value=None):
        super().__init__(params, lr, weight_decay, clip_value)
        self.momentum = _fraction("SGD", "momentum", momentum)

    def _update(self, data, g, state):
        if self.momentum == 0.0:
            data -= self.lr * g
            return
        buf = state["buf"]
        if self.t == 1:
            buf[...] = g                                              # step 2, first step
        else:
            buf *= self.momentum
            buf += g
        data -= self.lr * buf

    def _hyperparameters(self):
        return dict(super()._hyperparameters(), momentum=self.momentum)

    def _check_hyperparameters(self, owner, hyper):
        super()._check_hyperparameters(owner, hyper)
        _fraction(owner, "momentum", hyper["momentum"])
