"""Parameter, Layer and Sequential: the protocol every layer follows.

A layer maps x to y in ``forward(x)``, keeps exactly what its gradient needs in
``self._cache``, and in ``backward(dy)`` turns dy = dL/dy into dx = dL/dx while
**adding** dL/dθ into each parameter's ``.grad``. Adding (rather than assigning)
lets a discriminator backpropagate the real batch and then the fake batch into
the same gradients; ``zero_grad()`` clears them before each optimizer step.
"""
from .. import backend


class Parameter:
    """A trainable array ``data`` and its gradient ``grad`` (same shape and dtype, starts at zero)."""

    def __init__(self, data):
        self.data = data
        self.grad = backend.xp_of(data).zeros_like(data)

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def zero_grad(self):
        self.grad.fill(0)

    def __repr__(self):
        return f"Parameter(shape={tuple(self.shape)}, dtype={self.dtype})"


class Layer:
    """Base class: parameter bookkeeping, train/eval mode, the cache, and input checks.

    Subclasses implement ``forward(x)`` (save what backward needs with
    ``self._save(y.shape, cache)``) and ``backward(dy)`` (read it back with
    ``self._pop_cache(dy)``). ``backward`` returns dx; a layer whose dx costs real work (Dense,
    the convolutions) returns None instead when its ``needs_dx`` flag is False, which
    ``Sequential.backward(dy, need_dx=False)`` sets for the first layer of a network fed with data. Untrained state such as BatchNorm's running
    statistics is listed by name in the class attribute ``_buffer_names``.
    """

    _buffer_names = ()
    reads_labels = False                # True: forward reads the class labels set by ``given`` (nn.conditional)

    def __init__(self):
        self.training = True
        self.frozen = False
        self.needs_dx = True            # False: backward may skip dx and return None (a network's data input)
        self._cache = None
        self._y_shape = None

    def __call__(self, x):
        return self.forward(x)

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, dy):
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    # -- parameters, buffers and mode -------------------------------------------------
    def children(self):
        """Sub-layers (none for a plain layer)."""
        return []

    def named_layers(self, prefix=""):
        """Yield ``(prefix, layer)`` for this layer and every sub-layer below it, depth first.

        The prefix is what the layer's own names are prefixed with: ``""`` for this layer,
        ``"0."`` for a Sequential's first layer, ``"0.1."`` for the second layer inside that one.
        """
        yield prefix, self
        for i, child in enumerate(self.children()):
            yield from child.named_layers(f"{prefix}{i}.")

    def _own_parameters(self):
        """``(attribute name, Parameter)`` for this layer's own parameters, not its sub-layers'."""
        return [(name, value) for name, value in vars(self).items() if isinstance(value, Parameter)]

    def named_parameters(self, prefix=""):
        """Yield ``(name, Parameter)`` pairs, e.g. ``("W", p)`` or ``("0.W", p)`` inside a Sequential."""
        for path, layer in self.named_layers(prefix):
            for name, p in layer._own_parameters():
                yield path + name, p

    def parameters(self):
        """The trainable Parameters, in a fixed order (the order optimizers see them)."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix=""):
        """Yield ``(name, array)`` pairs of untrained state (BatchNorm running statistics)."""
        for path, layer in self.named_layers(prefix):
            for name in layer._buffer_names:
                yield path + name, getattr(layer, name)

    def zero_grad(self):
        """Set every parameter's gradient to zero."""
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode=True):
        """Training mode (BatchNorm uses batch statistics); returns self."""
        for _, layer in self.named_layers():
            layer.training = bool(mode)
        return self

    def eval(self):
        """Evaluation mode (BatchNorm uses its running statistics); returns self."""
        return self.train(False)

    def freeze(self, frozen=True):
        """Stop (or, with False, resume) computing parameter gradients in backward; returns self.

        A frozen layer's backward still returns dx but leaves every ``.grad`` untouched and skips
        the work of computing it: the generator's step backpropagates through a frozen D.
        """
        for _, layer in self.named_layers():
            layer.frozen = bool(frozen)
        return self

    def given(self, labels):
        """Set the class labels, one per sample, that this network's label-reading layers use; returns self.

        ``net.given(labels)(x)`` is how a conditional network is called (``minigan.nn.conditional``):
        the labels (a 1-D int array, or None to clear them) stay set, as a mode does, until the next
        ``given``; each forward checks that they are one per sample. A network with no label-reading
        layer ignores them.
        """
        for _, layer in self.named_layers():
            if layer.reads_labels:
                layer.labels = labels
        return self

    def unfreeze(self):
        """Compute parameter gradients again; returns self."""
        return self.freeze(False)

    def astype(self, dtype):
        """Cast every parameter, gradient and buffer to ``dtype`` in place; returns self.

        ``model.astype("float64")`` is how gradient checks run a float32 model in double precision.
        """
        for _, layer in self.named_layers():
            for _, p in layer._own_parameters():
                p.data = p.data.astype(dtype)
                p.grad = p.grad.astype(dtype)
            for name in layer._buffer_names:
                setattr(layer, name, getattr(layer, name).astype(dtype))
            layer._cache = None
        return self

    def state_dict(self):
        """Host (NumPy) copies of every parameter and buffer, keyed by name; for checkpoints."""
        state = {name: backend.to_numpy(p.data).copy() for name, p in self.named_parameters()}
        state.update({name: backend.to_numpy(b).copy() for name, b in self.named_buffers()})
        return state

    def load_state_dict(self, state):
        """Copy arrays from ``state`` (as made by ``state_dict``) into this layer, keeping dtypes.

        Every entry is checked before any is copied (``check_state_dict``), so a bad state leaves
        the layer untouched. Raises KeyError naming missing or unexpected entries and ValueError on
        a shape mismatch or a non-numeric array.
        """
        targets = self.check_state_dict(state)
        for key, (layer, name) in targets.items():
            value = getattr(layer, name)
            current = value.data if isinstance(value, Parameter) else value
            new = backend.xp_of(current).asarray(state[key], dtype=current.dtype)
            if isinstance(value, Parameter):
                value.data = new
            else:
                setattr(layer, name, new)

    def check_state_dict(self, state):
        """Raise as ``load_state_dict`` would, changing nothing; returns {key: (layer, attribute name)}."""
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state, dict):
            raise TypeError(f"{owner}: state must be a dict of arrays, got {type(state).__name__}")
        targets = {path + name: (layer, name) for path, layer in self.named_layers()
                   for name in [n for n, _ in layer._own_parameters()] + list(layer._buffer_names)}
        missing = sorted(set(targets) - set(state))
        unexpected = sorted(set(state) - set(targets))
        if missing or unexpected:
            raise KeyError(f"{owner}: missing {missing}, unexpected {unexpected}")
        for key, (layer, name) in targets.items():
            value = getattr(layer, name)
            current = value.data if isinstance(value, Parameter) else value
            got = state[key]
            if getattr(getattr(got, "dtype", None), "kind", None) not in ("f", "i", "u"):
                raise ValueError(f"{owner}: {key} must be a numeric array, got {type(got).__name__}"
                                 + (f" of dtype {got.dtype}" if hasattr(got, "dtype") else ""))
            if tuple(got.shape) != tuple(current.shape):
                raise ValueError(f"{owner}: {key} must have shape {tuple(current.shape)}, got {tuple(got.shape)}")
        return targets

    # -- helpers for subclasses ----------------------------------------------------------
    def save_for_backward(self, y, cache):
        """Keep ``cache`` (anything: an array, a tuple) for backward, with y's shape and dtype to check dy
        against; returns y. What a layer of your own calls at the end of ``forward``."""
        self._save(y.shape, cache, y.dtype)
        return y

    def saved(self, dy):
        """What forward kept with ``save_for_backward``, released, after checking that dy matches the output.

        RuntimeError when there is nothing (backward before forward, or twice); TypeError or ValueError
        naming the layer when dy's dtype or shape is not the output's. What ``backward`` calls first.
        """
        return self._pop_cache(dy)

    def check_input(self, x, dims=None):
        """TypeError or ValueError naming this layer unless x is a floating-point array of the parameters'
        dtype and, when ``dims`` is given (e.g. ``("N", 3, "H", "W")``), of that shape."""
        self._check_input(x, dims)

    def _save(self, y_shape, cache, y_dtype=None):
        """Keep ``cache`` for backward and remember the output's shape (and dtype) to validate dy."""
        self._y_shape = tuple(y_shape)
        self._y_dtype = y_dtype
        self._cache = cache

    def _pop_cache(self, dy):
        """Return (and release) what forward saved, after checking that dy matches the output."""
        if self._cache is None:
            raise RuntimeError(f"{self!r}: backward called before forward (or twice for one forward)")
        if not hasattr(dy, "dtype") or dy.dtype.kind != "f":
            raise TypeError(f"{self!r}: dy must be a floating-point array of shape {self._y_shape}, got "
                            f"{type(dy).__name__}" + (f" of dtype {dy.dtype}" if hasattr(dy, "dtype") else ""))
        if self._y_dtype is not None and dy.dtype != self._y_dtype:
            raise TypeError(f"{self!r}: dy has dtype {dy.dtype} but the output was {self._y_dtype}; cast dy "
                            "(a float64 dy would make every gradient below float64)")
        if tuple(dy.shape) != self._y_shape:
            raise ValueError(f"{self!r}: dy must have the output's shape {self._y_shape}, got {tuple(dy.shape)}")
        cache, self._cache = self._cache, None
        return cache

    def _check_input(self, x, dims=None):
        """Validate x's dtype and, when ``dims`` is given, its rank and fixed sizes.

        ``dims`` names each axis: a str is a free size ("N", "H"), an int a required one.
        """
        expected = "(" + ", ".join(str(d) for d in dims) + ")" if dims else "of any shape"
        if not hasattr(x, "dtype") or x.dtype.kind != "f":
            raise TypeError(f"{self!r}: x must be a floating-point array {expected}, got {type(x).__name__}"
                            + (f" of dtype {x.dtype}" if hasattr(x, "dtype") else ""))
        if dims is not None:
            shape = tuple(x.shape)
            ok = len(shape) == len(dims) and all(isinstance(d, str) or s == d for s, d in zip(shape, dims))
            if not ok:
                raise ValueError(f"{self!r}: x must be {expected}, got {shape}")
            if shape[0] == 0:
                raise ValueError(f"{self!r}: x must hold at least one sample, got {shape}")
        params = self.parameters()
        if params and x.dtype != params[0].dtype:
            raise TypeError(
                f"{self!r}: x has dtype {x.dtype} but the parameters are {params[0].dtype}; "
                f"cast x or call .astype({str(x.dtype)!r}) on the layer"
            )

    def __repr__(self):
        return f"{type(self).__name__}()"


class Sequential(Layer):
    """Layers applied in order: y = f_n(... f_2(f_1(x))).

    Backward: the chain rule, dx = J_1ᵀ(J_2ᵀ(... J_nᵀ dy)), i.e. each layer's backward in reverse order.
    Shapes: whatever the first layer takes to whatever the last layer gives.
    Derivation: docs/derivations.md, "Sequential". Tests: tests/nn/test_module.py.
    """

    def __init__(self, *layers):
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"Sequential: argument {i} must be a Layer, got {type(layer).__name__}")
        self.layers = list(layers)

    def children(self):
        return self.layers

    def forward(self, x):
        """Each layer in order. A forward that fails part way (a batch of the wrong shape) drops every
        layer's cache, so a later backward is refused instead of mixing this batch's caches with the last's."""
        try:
            for layer in self.layers:
                x = layer(x)
        except BaseException:
            for _, layer in self.named_layers():
                layer._cache = None
            raise
        return x

    def backward(self, dy, need_dx=None):
        """Backpropagate dy through every layer; returns dx, or None with ``need_dx=False``.

        ``need_dx=False`` is for a network whose input is data (D on real images, or on fakes that
        G will not learn from): the first layer then skips its input gradient, which for a
        convolution is the costly col2im. None: the ``needs_dx`` flag (True unless a parent set it).
        """
        need_dx = self.needs_dx if need_dx is None else need_dx
        first = self.layers[0]
        for layer in reversed(self.layers[1:]):
            dy = layer.backward(dy)
        first.needs_dx, previous = need_dx, first.needs_dx
        try:
            dx = first.backward(dy)
        finally:
            first.needs_dx = previous
        return dx if need_dx else None

    def __getitem__(self, i):
        return Sequential(*self.layers[i]) if isinstance(i, slice) else self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        lines = [f"  ({i}) {layer!r}".replace("\n", "\n  ") for i, layer in enumerate(self.layers)]
        return "Sequential(\n" + "\n".join(lines) + "\n)"
