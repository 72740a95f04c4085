"""Layers that read class labels: a table of label vectors, the generator's input join, the projection head.

A network is conditional when some of its layers read the label of each sample. Labels do not
travel through ``forward(x)`` (a network still takes one input): they are set on the whole network
before the forward that uses them, ``net.given(labels)(x)``, as a mode is set with ``train()``,
and each label-reading layer keeps the labels of its forward in its cache, so its backward and
its forward tangent use the same ones. Derivations (docs/derivations.md, "Conditional layers"):

1. ``Embedding``: e_n = E[y_n], row y_n of a table E (num_classes, dim). Written as a product with
   the one-hot rows O (N, num_classes), e = O @ E, so Dense's step 1 gives dE = Oᵀ @ de: row k of
   dE is the sum of de_n over the samples labelled k (a label repeated in the batch accumulates),
   and the rows of labels absent from the batch get nothing. Labels are integers: no dy for them.
2. ``ConcatEmbedding``: y = [x, E[labels]] along the features (Mirza and Osindero's conditional
   generator, with a learnt label vector in place of the one-hot); dx = dy[:, :in], and
   dy[:, in:] is the Embedding's de.
3. ``Projection``: s_n = ψ(h_n) + ⟨E[y_n], h_n⟩ with ψ(h) = h @ W + b, the projection
   discriminator's head (Miyato and Koyama 2018); h is what the layers below extract. Then
   dW = hᵀ @ ds, db = Σ_n ds_n (Dense's step 1), dE = Oᵀ @ (ds ⊙ h) (step 1 with de_n = ds_n h_n),
   and dh_n = ds_n (Wᵀ + E[y_n]), i.e. dh = ds @ Wᵀ + ds ⊙ E[labels].
4. For a gradient penalty (the labels held, as the data are): the forward tangent of a direction u
   is u @ W + ⟨E[y_n], u_n⟩ per sample, and d⟨tangent, dy⟩ adds uᵀ @ dy into dW and
   Oᵀ @ (dy ⊙ u) into dE.

Tests: tests/nn/test_conditional.py.
"""
import math

from .. import backend
from ..backend import matmul
from .dense import Dense
from .module import Layer, Parameter
from .sizes import check_sizes


class Embedding(Layer):
    """A learnt vector per class: e = E[labels], row ``labels[n]`` of the table E (step 1).

    Backward: dE += Oᵀ @ de with O the one-hot rows of the labels (a repeated label accumulates);
    returns None, since labels are integers and have no gradient.
    Shapes: labels (N,) ints in [0, num_classes) -> e (N, dim); E (num_classes, dim).
    Derivation: docs/derivations.md, "Conditional layers". Tests: tests/nn/test_conditional.py.

    Parameters
    ----------
    num_classes, dim : int
    std : float
        E ~ N(0, std²) (1, as torch.nn.Embedding draws it).
    rng : int, numpy.random.Generator or None
    dtype : str, optional
        Parameter dtype; defaults to ``minigan.get_default_dtype()``.
    """

    def __init__(self, num_classes, dim, std=1.0, rng=None, dtype=None):
        super().__init__()
        check_sizes("Embedding", num_classes=num_classes, dim=dim)
        if not (isinstance(std, (int, float)) and not isinstance(std, bool) and math.isfinite(std) and std > 0):
            raise ValueError(f"Embedding: std must be a finite number > 0, got {std!r}")
        self.num_classes, self.dim = num_classes, dim
        E = std * backend.as_rng(rng).standard_normal((num_classes, dim))
        self.E = Parameter(backend.asarray(E, dtype=dtype or backend.get_default_dtype()))

    def forward(self, labels):
        labels = self.checked(labels)
        e = self.E.data[labels]                                        # (N, dim)
        self._save(e.shape, labels, e.dtype)
        return e

    def backward(self, de):
        """Add Oᵀ @ de into E.grad (step 1); returns None (labels have no gradient)."""
        labels = self._pop_cache(de)
        self.accumulate(labels, de)
        return None

    def accumulate(self, labels, de):
        """E.grad += Oᵀ @ de: row k gains the sum of de over the samples labelled k (unless frozen)."""
        if not self.frozen:
            self.E.grad += matmul(self.one_hot(labels).T, de)

    def one_hot(self, labels):
        """O (N, num_classes) in E's dtype: O[n, labels[n]] = 1, every other entry 0."""
        xp = backend.xp_of(self.E.data)
        return xp.eye(self.num_classes, dtype=self.E.dtype)[labels]

    def checked(self, labels):
        """``labels`` as a 1-D int array on E's device; TypeError or ValueError naming this layer unless they are.

        Host (NumPy) labels are also checked to lie in [0, num_classes). Labels already on the GPU
        are not: reading their range back would stop the GPU at every forward, and the trainer's
        labels are checked on the host before they move there.
        """
        kind = getattr(getattr(labels, "dtype", None), "kind", None)
        if kind not in ("i", "u") or labels.ndim != 1:
            raise TypeError(f"{self!r}: labels must be a 1-D array of ints, got "
                            + (f"{labels.ndim}-D {labels.dtype}" if kind else type(labels).__name__))
        if len(labels) == 0:
            raise ValueError(f"{self!r}: labels must hold at least one label")
        if not backend.is_cupy_array(labels):
            low, high = int(labels.min()), int(labels.max())
            if low < 0 or high >= self.num_classes:
                raise ValueError(f"{self!r}: labels must lie in [0, {self.num_classes}), got "
                                 f"{low if low < 0 else high}")
        return backend.xp_of(self.E.data).asarray(labels)

    def __repr__(self):
        return f"Embedding({self.num_classes}, {self.dim})"


def num_classes(network):
    """How many classes ``network`` is conditioned on: its label-reading layers' count, 0 when none reads labels."""
    return max((layer.embedding.num_classes for _, layer in network.named_layers() if layer.reads_labels), default=0)


class _ReadsLabels(Layer):
    """A layer that reads the labels set by ``given``: checks they are there and one per sample."""

    reads_labels = True

    def _labels_for(self, x):
        labels = getattr(self, "labels", None)
        if labels is None:
            raise ValueError(f"{self!r}: no labels given; call network.given(labels) before its forward")
        if len(labels) != len(x):
            raise ValueError(f"{self!r}: labels must be one per sample, {len(x)}, got {len(labels)}")
        return labels


class ConcatEmbedding(_ReadsLabels):
    """y = [x, E[labels]]: the input joined with its label's learnt vector (step 2), G's first layer.

    Backward: dx = dy[:, :in_features]; dE += Oᵀ @ dy[:, in_features:] (the Embedding's step 1).
    Shapes: x (N, in_features), labels (N,) -> y (N, in_features + dim).
    Derivation: docs/derivations.md, "Conditional layers". Tests: tests/nn/test_conditional.py.

    Parameters
    ----------
    in_features, num_classes, dim : int
    rng : int, numpy.random.Generator or None
        Draws E ~ N(0, 1), the scale of the noise it is joined to.
    dtype : str, optional
    """

    def __init__(self, in_features, num_classes, dim, rng=None, dtype=None):
        super().__init__()
        check_sizes("ConcatEmbedding", in_features=in_features)
        self.in_features = in_features
        self.embedding = Embedding(num_classes, dim, rng=rng, dtype=dtype)

    def children(self):
        return [self.embedding]

    def forward(self, x):
        self._check_input(x, ("N", self.in_features))
        e = self.embedding(self._labels_for(x))
        y = backend.xp_of(x).concatenate([x, e], axis=1)            # (N, in_features + dim)
        self._save(y.shape, True, y.dtype)
        return y

    def backward(self, dy):
        """dE from dy's label columns (step 2); returns dx = dy's first in_features columns."""
        self._pop_cache(dy)
        self.embedding.backward(dy[:, self.in_features:])
        return dy[:, :self.in_features] if self.needs_dx else None

    def __repr__(self):
        return f"ConcatEmbedding({self.in_features}, {self.embedding.num_classes}, {self.embedding.dim})"


class Projection(_ReadsLabels):
    """The projection discriminator's head: s = h @ W + b + ⟨E[labels], h⟩ per sample (step 3).

    Backward: dW += hᵀ @ ds, db += Σ_n ds_n, dE += Oᵀ @ (ds ⊙ h); dh = ds @ Wᵀ + ds ⊙ E[labels].
    Shapes: h (N, features), labels (N,) -> s (N, 1); W (features, 1), b (1,), E (num_classes, features).
    Derivation: docs/derivations.md, "Conditional layers". Tests: tests/nn/test_conditional.py.

    Parameters
    ----------
    features, num_classes : int
    init : str
        The scheme of ψ's weight (``minigan.nn.init``); E ~ N(0, 1/features), so that the projection
        term starts at the scale of ψ's: ⟨E[y], h⟩ has variance mean(h²).
    rng : int, numpy.random.Generator or None
    dtype : str, optional
    """

    def __init__(self, features, num_classes, init="dcgan", rng=None, dtype=None):
        super().__init__()
        check_sizes("Projection", features=features)
        self.psi = Dense(features, 1, init=init, rng=rng, dtype=dtype)
        self.embedding = Embedding(num_classes, features, std=1.0 / math.sqrt(features), rng=rng, dtype=dtype)

    def children(self):
        return [self.psi, self.embedding]

    def forward(self, h):
        self._check_input(h, ("N", self.psi.in_features))
        e = self.embedding(self._labels_for(h))                        # (N, features)
        s = self.psi(h) + (e * h).sum(axis=1, keepdims=True)           # (N, 1)
        self._save(s.shape, (h, e), s.dtype)
        return s

    def backward(self, ds):
        """Add dW, db (ψ's backward) and dE = Oᵀ @ (ds ⊙ h); return dh = ds @ Wᵀ + ds ⊙ E[labels] (step 3)."""
        h, e = self._pop_cache(ds)
        dh = self.psi.backward(ds)
        self.embedding.backward(ds * h)
        dh += ds * e
        return dh

    def tangent(self, h, u, dy=None):
        """Forward tangent u @ W + ⟨E[labels], u⟩ (step 4); with dy, add uᵀ @ dy into W.grad and
        Oᵀ @ (dy ⊙ u) into E.grad. The labels are those of the last ``given``.

        Shapes: h, u (N, features) -> (N, 1); dy (N, 1). Tests: tests/nn/test_conditional.py.
        """
        labels = self.embedding.checked(self._labels_for(h))
        e = self.embedding.E.data[labels]
        if dy is not None:
            self.embedding.accumulate(labels, dy * u)
        return self.psi.tangent(h, u, dy) + (e * u).sum(axis=1, keepdims=True)

    @property
    def in_features(self):
        return self.psi.in_features

    def __repr__(self):
        return f"Projection({self.psi.in_features}, {self.embedding.num_classes})"
