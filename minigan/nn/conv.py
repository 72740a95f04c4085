"""Conv2d and ConvTranspose2d, as one matrix product each way on im2col windows.

Derivation: docs/derivations.md, "Conv2d" and "ConvTranspose2d"; the steps below are numbered
as there, and the code cites them. The definitions, one output element at a time, are in
``minigan.nn.reference`` (``conv2d``, ``conv_transpose2d``); tests/nn/test_conv.py proves these
layers equal to them.

Conv2d:
1. Windows as rows: cols = im2col(pad(x)) (N*Hout*Wout, kh*kw*C_in) and W_mat = W laid out as
   (kh*kw*C_in, C_out) make the convolution one product, y_mat = cols @ W_mat + b, where y_mat
   is y in channels-last layout.
2. A Dense layer on the windows: dW_mat = cols.T @ dy_mat, db = sum over rows of dy_mat,
   dcols = dy_mat @ W_mat.T.
3. Back to pixels: each padded pixel sits in every window that covers it, so
   dx = crop(col2im(dcols)), col2im being im2col's adjoint (a scatter-add).

ConvTranspose2d, the adjoint of Conv2d's input map:
1. Forward is Conv2d's step 3: y = crop(col2im(x_mat @ W_mat)) + b.
2. Backward starts as Conv2d's step 1: dcols = im2col(pad(dy)).
3. The matrix products: dW_mat = x_mat.T @ dcols, db = sum_{n,i,j} dy, dx_mat = dcols @ W_mat.T.

Both convolutions are linear in x plus a bias, so the forward tangent of an input direction u
(the second pass of a gradient penalty; docs/derivations.md, "Gradient penalties") is the layer
without its bias applied to u, and d<tangent, dy>/dW is the weight gradient of step 2 (Conv2d)
or 3 (ConvTranspose2d) with u in the place of x; the bias gets nothing:

4. Conv2d: tangent = cols(u) @ W_mat, dW_mat += cols(u).T @ dy_mat.
5. ConvTranspose2d: tangent = crop(col2im(u_mat @ W_mat)), dW_mat += u_mat.T @ im2col(pad(dy)).

Both layers need col2im of a product, and ``matmul_col2im`` computes it one kernel offset at a
time without storing the product. Weights use PyTorch's layouts: Conv2d W (C_out, C_in, kh, kw),
ConvTranspose2d W (C_in, C_out, kh, kw). Kernel, stride and padding are (height, width) pairs.
"""
from ..backend import matmul, sum_rows
from ._im2col import crop_hw, im2col, matmul_col2im, pad_hw
from .init import make_weight_and_bias
from .module import Layer, Parameter
from .sizes import check_sizes, conv_output_size, conv_transpose_output_size, pair


class _Conv(Layer):
    """What the two convolutions share: the constructor, the input check and the repr.

    A subclass says how its weight is laid out (``_weight_shape``) and how long its output is
    along one axis (``output_length``).
    """

    output_length = None          # (size, kernel, stride, padding) -> output size along one axis

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 init="dcgan", rng=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        check_sizes(name, in_channels=in_channels, out_channels=out_channels)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "kernel_size", name)
        self.stride = pair(stride, "stride", name)
        self.padding = pair(padding, "padding", name, minimum=0)
        W, b = make_weight_and_bias(name, self._weight_shape(), out_channels, init, rng, dtype)
        self.W, self.b = Parameter(W), Parameter(b)

    def _weight_shape(self):
        raise NotImplementedError

    def _sizes(self, x):
        """Check x; return N, its spatial size (H, W) and the output's (Hout, Wout), never empty."""
        self._check_input(x, ("N", self.in_channels, "H", "W"))
        N, _, H, W = x.shape
        out_size = tuple(self.output_length(n, k, s, p)
                         for n, k, s, p in zip((H, W), self.kernel_size, self.stride, self.padding))
        if min(out_size) < 1:
            raise ValueError(f"{self!r}: the output for x of shape {tuple(x.shape)} would be empty "
                             f"({out_size[0]} x {out_size[1]}); use a larger input, a smaller kernel "
                             "or less padding")
        return N, (H, W), out_size

    def __repr__(self):
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                f"kernel_size={_short(self.kernel_size)}, stride={_short(self.stride)}, "
                f"padding={_short(self.padding)})")


def _short(pair_):
    return pair_[0] if pair_[0] == pair_[1] else pair_


class Conv2d(_Conv):
    """2-D cross-correlation: y[n, o, i, j] = b[o] + sum_{c,a,e} W[o, c, a, e] * xpad[n, c, i*sh + a, j*sw + e].

    Backward, with cols = im2col(pad(x)) and dy_mat = dy in channels-last rows (steps 2-3 of
    the module docstring): dW_mat += cols.T @ dy_mat,  db += sum_rows dy_mat,
    dx = crop(col2im(dy_mat @ W_mat.T)) (None when ``needs_dx`` is False).
    Shapes: x (N, C_in, H, W) -> y (N, C_out, Hout, Wout), Hout = (H + 2*ph - kh) // sh + 1;
    W (C_out, C_in, kh, kw), b (C_out,).
    Derivation: docs/derivations.md, "Conv2d". Definition: minigan.nn.reference.conv2d.
    Tests: tests/nn/test_conv.py.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride : int or (int, int)
    padding : int or (int, int)
        Zeros added on both sides of each spatial axis.
    init : {"dcgan", "he", "glorot", "torch"}
    rng : int, numpy.random.Generator or None
    dtype : str, optional
    """

    output_length = staticmethod(conv_output_size)

    def _weight_shape(self):
        return (self.out_channels, self.in_channels, *self.kernel_size)

    def forward(self, x):
        N, size, out_size = self._sizes(x)
        xpad = pad_hw(x.transpose(0, 2, 3, 1), self.padding)                   # (N, H+2ph, W+2pw, C_in)
        cols = im2col(xpad, self.kernel_size, self.stride, out_size)           # step 1: (N*Hout*Wout, kh*kw*C_in)
        y = matmul(cols, self._W_mat())                                        # (N*Hout*Wout, C_out)
        y += self.b.data
        y = y.reshape(N, *out_size, self.out_channels).transpose(0, 3, 1, 2)   # NCHW view, NHWC memory
        self._save(y.shape, (cols, xpad.shape, size), y.dtype)
        return y

    def _W_mat(self):
        return self.W.data.transpose(2, 3, 1, 0).reshape(-1, self.out_channels)  # (kh*kw*C_in, C_out)

    def _add_weight_grad(self, cols, dy_mat):
        """Step 2's dW_mat = cols.T @ dy_mat, added into W.grad in W's layout."""
        dW_mat = matmul(cols.T, dy_mat)                                        # (kh*kw*C_in, C_out)
        self.W.grad += dW_mat.reshape(*self.kernel_size, self.in_channels, self.out_channels).transpose(3, 2, 0, 1)

    def tangent(self, x, u, dy=None):
        """Forward tangent cols(u) @ W_mat, no bias (step 4); with dy, add cols(u).T @ dy_mat into W.grad.

        The second pass of ``gan.penalties``. Shapes: x, u (N, C_in, H, W) -> (N, C_out, Hout, Wout);
        dy like the result. Tests: tests/gan/test_penalties.py.
        """
        N, _, out_size = self._sizes(u)
        cols = im2col(pad_hw(u.transpose(0, 2, 3, 1), self.padding), self.kernel_size, self.stride, out_size)
        if dy is not None and not self.frozen:
            self._add_weight_grad(cols, dy.transpose(0, 2, 3, 1).reshape(cols.shape[0], self.out_channels))
        y = matmul(cols, self._W_mat())                                        # (N*Hout*Wout, C_out)
        return y.reshape(N, *out_size, self.out_channels).transpose(0, 3, 1, 2)

    def backward(self, dy):
        """Add dL/dW and dL/db into the gradients; return dx (steps 2-3 of the module docstring)."""
        cols, xpad_shape, size = self._pop_cache(dy)
        N, C_out, Hout, Wout = dy.shape
        dy_mat = dy.transpose(0, 2, 3, 1).reshape(N * Hout * Wout, C_out)
        if not self.frozen:                                                    # step 2
            self._add_weight_grad(cols, dy_mat)
            self.b.grad += sum_rows(dy_mat)
        if not self.needs_dx:                                                  # the input is data: no dx
            return None
        # step 3: dxpad = col2im(dy_mat @ W_mat.T), one kernel offset at a time
        dxpad = matmul_col2im(dy_mat, self.W.data, (N, Hout, Wout), xpad_shape, self.stride)
        return crop_hw(dxpad, self.padding, size).transpose(0, 3, 1, 2)        # (N, C_in, H, W)


class ConvTranspose2d(_Conv):
    """Transposed convolution, the adjoint of Conv2d's input map.

    y[n, o, p, q] = b[o] + sum of x[n, c, i, j] * W[c, o, a, e] over all c, i, j, a, e with
    i*sh + a - ph = p and j*sw + e - pw = q: each input pixel stamps its kernel, scaled by its
    value, onto the output at (i*sh - ph, j*sw - pw). As matrices (step 1 of the module
    docstring): y = crop(col2im(x_mat @ W_mat)) + b.
    Backward, with dcols = im2col(pad(dy)) (steps 2-3): dW_mat += x_mat.T @ dcols,
    db += sum_{n,i,j} dy,  dx_mat = dcols @ W_mat.T (None when ``needs_dx`` is False).
    Shapes: x (N, C_in, H, W) -> y (N, C_out, Hout, Wout), Hout = (H - 1)*sh - 2*ph + kh;
    W (C_in, C_out, kh, kw), b (C_out,).
    Derivation: docs/derivations.md, "ConvTranspose2d". Definition: minigan.nn.reference.conv_transpose2d.
    Tests: tests/nn/test_conv.py.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride : int or (int, int)
    padding : int or (int, int)
        Rows and columns cropped from each side of the full output.
    init : {"dcgan", "he", "glorot", "torch"}
    rng : int, numpy.random.Generator or None
    dtype : str, optional
    """

    output_length = staticmethod(conv_transpose_output_size)

    def _weight_shape(self):
        return (self.in_channels, self.out_channels, *self.kernel_size)

    def forward(self, x):
        x_mat, size, y = self._unbiased(x)                                     # step 1
        y = (y + self.b.data).transpose(0, 3, 1, 2)                            # NCHW view, NHWC memory
        self._save(y.shape, (x_mat, size), y.dtype)
        return y

    def _unbiased(self, x):
        """(x_mat, (H, W), crop(col2im(x_mat @ W_mat)) in (N, Hout, Wout, C_out)): step 1 without the bias."""
        N, size, out_size = self._sizes(x)
        x_mat = x.transpose(0, 2, 3, 1).reshape(-1, self.in_channels)          # (N*H*W, C_in)
        full_shape = (N, *(n + 2 * p for n, p in zip(out_size, self.padding)), self.out_channels)
        # full = col2im(x_mat @ W_mat), one kernel offset at a time
        full = matmul_col2im(x_mat, self.W.data, (N, *size), full_shape, self.stride)  # (N, Hout+2ph, Wout+2pw, C_out)
        return x_mat, size, crop_hw(full, self.padding, out_size)

    def _dcols(self, dy, size):
        """Step 2: dcols = im2col(pad(dy)), (N*H*W, kh*kw*C_out), and dy channels-last."""
        dy_nhwc = dy.transpose(0, 2, 3, 1)                                     # (N, Hout, Wout, C_out)
        return im2col(pad_hw(dy_nhwc, self.padding), self.kernel_size, self.stride, size), dy_nhwc

    def _add_weight_grad(self, x_mat, dcols):
        """Step 3's dW_mat = x_mat.T @ dcols, added into W.grad in W's layout."""
        dW_mat = matmul(x_mat.T, dcols)                                        # (C_in, kh*kw*C_out)
        self.W.grad += dW_mat.reshape(self.in_channels, *self.kernel_size, self.out_channels).transpose(0, 3, 1, 2)

    def tangent(self, x, u, dy=None):
        """Forward tangent crop(col2im(u_mat @ W_mat)), no bias (step 5); with dy, add u_mat.T @ im2col(pad(dy)).

        The second pass of ``gan.penalties``. Shapes: x, u (N, C_in, H, W) -> (N, C_out, Hout, Wout);
        dy like the result. Tests: tests/gan/test_penalties.py.
        """
        u_mat, size, y = self._unbiased(u)
        if dy is not None and not self.frozen:
            self._add_weight_grad(u_mat, self._dcols(dy, size)[0])
        return y.transpose(0, 3, 1, 2)

    def backward(self, dy):
        """Add dL/dW and dL/db into the gradients; return dx (steps 2-3 of the module docstring)."""
        x_mat, size = self._pop_cache(dy)
        N = dy.shape[0]
        dcols, dy_nhwc = self._dcols(dy, size)                                 # step 2: (N*H*W, kh*kw*C_out)
        if not self.frozen:                                                    # step 3
            self._add_weight_grad(x_mat, dcols)
            self.b.grad += sum_rows(dy_nhwc)
        if not self.needs_dx:
            return None
        W_mat = self.W.data.transpose(0, 2, 3, 1).reshape(self.in_channels, -1)  # (C_in, kh*kw*C_out)
        dx_mat = matmul(dcols, W_mat.T)                                        # (N*H*W, C_in)
        return dx_mat.reshape(N, *size, self.in_channels).transpose(0, 3, 1, 2)
