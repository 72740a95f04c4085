"""Memory order: elementwise kernels that read and write an array in the order it lies in memory.

A convolution's output is an NCHW view of NHWC memory. An elementwise kernel given that view
would write NCHW-ordered outputs, reading and writing across each other's order; both fast paths
(``minigan.backend.cuda`` and ``minigan.backend.cpu``) view such an array in its memory order first.
Works on NumPy and CuPy arrays alike (it uses only strides, flags and transpose).
"""


def memory_order(x):
    """The axes of x from the largest stride to the smallest: x.transpose(memory_order(x)) walks memory in order."""
    return sorted(range(x.ndim), key=lambda axis: -x.strides[axis])


def is_dense(x):
    """True when x covers one contiguous block of memory, in some order of its axes."""
    return x.transpose(memory_order(x)).flags.c_contiguous


def in_memory_order(kernel, x, *args):
    """kernel(x, *args) with outputs laid out in memory as x is.

    Every array argument of x's shape is viewed in x's memory order, and the outputs are viewed
    back. A C-contiguous x, or one that is not dense, goes to the kernel as it is.
    """
    if x.flags.c_contiguous or not is_dense(x):
        return kernel(x, *args)
    order = memory_order(x)
    inverse = [order.index(axis) for axis in range(x.ndim)]
    args = [a.transpose(order) if getattr(a, "shape", None) == x.shape else a for a in args]
    out = kernel(x.transpose(order), *args)
    return tuple(o.transpose(inverse) for o in out) if isinstance(out, tuple) else out.transpose(inverse)
