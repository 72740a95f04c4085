"""Flat parameter buffers: every parameter of an optimizer as a view into one array.

An optimizer built on them (``optim.Adam``, ``optim.SGD``) runs its update as a few operations
over all parameters at once, instead of about ten per parameter.
"""
from .. import backend


class FlatParameters:
    """Every parameter's data and gradient as views into one flat array each.

    An optimizer then updates all parameters with a few whole-array operations instead of ten
    small ones per parameter (which on a GPU are ten kernel launches each). The layers keep
    using ``p.data`` and ``p.grad`` as before: they are reshaped slices of ``data`` and ``grad``.
    If something rebinds a parameter's array (``load_state_dict``, ``astype``, a user),
    ``ensure()`` notices and copies it back into the flat buffers. Shapes: data, grad (total,).
    """

    def __init__(self, params):
        self.params = params
        self.sizes = [int(p.data.size) for p in params]
        self.offsets = [sum(self.sizes[:i]) for i in range(len(params))]
        xp = backend.xp_of(params[0].data)
        self.data = xp.empty(sum(self.sizes), dtype=params[0].data.dtype)
        self.grad = xp.zeros_like(self.data)
        self.bind()

    @staticmethod
    def applies(params):
        """True when all parameters share one backend and one dtype (else each is updated on its own)."""
        xp = backend.xp_of(params[0].data)
        return all(backend.xp_of(p.data) is xp and p.data.dtype == params[0].data.dtype and p.grad is not None
                   and p.grad.shape == p.data.shape and p.grad.dtype == p.data.dtype for p in params)

    def views(self, flat):
        """Each parameter's slice of a flat array, in its shape."""
        return [flat[o:o + n].reshape(p.data.shape) for p, o, n in zip(self.params, self.offsets, self.sizes)]

    def bind(self):
        for p, data, grad in zip(self.params, self.views(self.data), self.views(self.grad)):
            data[...] = p.data
            grad[...] = p.grad
            p.data, p.grad = data, grad

    def ensure(self):
        """Re-bind any parameter whose data or gradient is no longer a view of the flat buffers."""
        if any(p.data.base is not self.data or p.grad.base is not self.grad for p in self.params):
            if not self.applies(self.params) or self.params[0].data.dtype != self.data.dtype:
                raise RuntimeError("FlatParameters: a parameter changed dtype or backend; build a new optimizer")
            self.bind()
