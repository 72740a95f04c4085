"""Conv2d and ConvTranspose2d, as one matrix product each way on im2col windows.

Derivation (docs/derivations.md, sections "Conv2d" and "ConvTranspose2d"):

1. Conv2d is a matrix product on windows. With cols = im2col(pad(x)) of shape
   (N*Hout*Wout, kh*kw*C_in) and W_mat = W laid out as (kh*kw*C_in, C_out),
   y_mat = cols @ W_mat + b, and y_mat is y in channels-last layout.
2. Its gradients are those of a Dense layer on the windows: dW_mat = cols.T @ dy_mat,
   db = sum over rows of dy_mat, dcols = dy_mat @ W_mat.T.
3. Each input pixel appears in every window that covers it, so dx adds up the dcols
   entries of all those windows: dx = unpad(col2im(dcols)), col2im being im2col's adjoint.
4. ConvTranspose2d is defined as the adjoint of Conv2d's input map: its forward is
   step 3 (y = unpad(col2im(x_mat @ W_mat)) + b) and its backward is step 1 and 2
   read in reverse (dcols = im2col(pad(dy)), dx_mat = dcols @ W_mat.T, dW_mat = x_mat.T @ dcols).

Weights use PyTorch's layouts: Conv2d W (C_out, C_in, kh, kw), ConvTranspose2d W (C_in, C_out, kh, kw).
"""
from ._im2col import conv_output_size, im2col, matmul_col2im, pad_hw
from .dense import check_size
from .init import make_weight_and_bias
from .module import Layer, Parameter


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class _Conv(Layer):
    """Shared constructor: kernel, stride and padding as pairs, and the initial weights."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, init, rng, dtype, W_shape):
        super().__init__()
        name = type(self).__name__
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), _pair(padding)
        check_size(name, in_channels=in_channels, out_channels=out_channels,
                   kernel_size=self.kernel_size, stride=self.stride)
        if not all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in self.padding):
            raise ValueError(f"{name}: padding must be a non-negative int, got {padding!r}")
        kh, kw = self.kernel_size
        W, b = make_weight_and_bias(name, W_shape(kh, kw), out_channels, W_shape(kh, kw)[1] * kh * kw,
                                    W_shape(kh, kw)[0] * kh * kw, init, rng, dtype)
        self.W, self.b = Parameter(W), Parameter(b)

    def _sizes(self, x):
        """Check x and return N, H, W and the output's Hout, Wout (ValueError if the output would be empty)."""
        self._check_input(x, ("N", self.in_channels, "H", "W"))
        N, _, H, W = x.shape
        Hout, Wout = self._output_size(H, W)
        if Hout < 1 or Wout < 1:
            raise ValueError(f"{self!r}: the output for x of shape {tuple(x.shape)} would be empty "
                             f"({Hout} x {Wout}); use a larger input, a smaller kernel or less padding")
        return N, H, W, Hout, Wout

    def __repr__(self):
        return (f"{type(self).__name__}({self.in_channels}, {self.out_channels}, "
                f"kernel_size={_short(self.kernel_size)}, stride={_short(self.stride)}, "
                f"padding={_short(self.padding)})")


def _short(pair):
    return pair[0] if pair[0] == pair[1] else pair


class Conv2d(_Conv):
    """2-D cross-correlation: y[n, o, i, j] = b[o] + sum_{c,a,b'} W[o, c, a, b'] * xpad[n, c, i*sh + a, j*sw + b'].

    Backward (steps 1-3 of the module docstring), with cols = im2col(pad(x)):
    dW_mat += cols.T @ dy_mat,  db += sum_rows dy_mat,  dx = unpad(col2im(dy_mat @ W_mat.T)).
    Shapes: x (N, C_in, H, W) -> y (N, C_out, Hout, Wout), Hout = (H + 2*ph - kh) // sh + 1;
    W (C_out, C_in, kh, kw), b (C_out,).

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

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 init="dcgan", rng=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, init, rng, dtype,
                         lambda kh, kw: (out_channels, in_channels, kh, kw))

    def _output_size(self, H, W):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return conv_output_size(H, kh, sh, ph), conv_output_size(W, kw, sw, pw)

    def forward(self, x):
        N, H, W, Hout, Wout = self._sizes(x)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        C_in = self.in_channels
        xpad = pad_hw(x.transpose(0, 2, 3, 1), ph, pw)                   # (N, H+2ph, W+2pw, C_in)
        cols = im2col(xpad, kh, kw, sh, sw, Hout, Wout)                  # (N*Hout*Wout, kh*kw*C_in)
        W_mat = self.W.data.transpose(2, 3, 1, 0).reshape(kh * kw * C_in, self.out_channels)
        y = cols @ W_mat                                                 # (N*Hout*Wout, C_out)
        y += self.b.data
        y = y.reshape(N, Hout, Wout, self.out_channels).transpose(0, 3, 1, 2)  # NCHW view, NHWC memory
        self._save(y.shape, (cols, xpad.shape, H, W), y.dtype)
        return y

    def backward(self, dy):
        cols, xpad_shape, H, W = self._pop_cache(dy)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        N, C_out, Hout, Wout = dy.shape
        dy_mat = dy.transpose(0, 2, 3, 1).reshape(N * Hout * Wout, C_out)
        if not self.frozen:
            dW_mat = cols.T @ dy_mat                                     # (kh*kw*C_in, C_out)
            self.W.grad += dW_mat.reshape(kh, kw, self.in_channels, C_out).transpose(3, 2, 0, 1)
            self.b.grad += dy_mat.sum(axis=0)
        if not self.needs_dx:                                            # the input is data: no dx
            return None
        # step 3: dxpad = col2im(dy_mat @ W_mat.T), one kernel offset at a time
        dxpad = matmul_col2im(dy_mat, self.W.data, (N, Hout, Wout), xpad_shape, sh, sw)  # (N, H+2ph, W+2pw, C_in)
        return dxpad[:, ph:ph + H, pw:pw + W, :].transpose(0, 3, 1, 2)


class ConvTranspose2d(_Conv):
    """Transposed convolution, the adjoint of Conv2d's input map (step 4 of the module docstring).

    y = unpad(col2im(x_mat @ W_mat)) + b, i.e. each input pixel stamps W[c] scaled by x[n, c, i, j]
    onto the output at (i*sh, j*sw), the stamps overlapping where the kernel exceeds the stride.
    Backward, with dcols = im2col(pad(dy)): dW_mat += x_mat.T @ dcols,  db += sum_{n,i,j} dy,
    dx_mat = dcols @ W_mat.T.
    Shapes: x (N, C_in, H, W) -> y (N, C_out, Hout, Wout), Hout = (H - 1)*sh - 2*ph + kh;
    W (C_in, C_out, kh, kw), b (C_out,).

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

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 init="dcgan", rng=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, init, rng, dtype,
                         lambda kh, kw: (in_channels, out_channels, kh, kw))

    def _output_size(self, H, W):
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        return (H - 1) * sh - 2 * ph + kh, (W - 1) * sw - 2 * pw + kw

    def forward(self, x):
        N, H, W, Hout, Wout = self._sizes(x)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        x_mat = x.transpose(0, 2, 3, 1).reshape(N * H * W, self.in_channels)
        # step 4: full = col2im(x_mat @ W_mat), one kernel offset at a time
        full = matmul_col2im(x_mat, self.W.data, (N, H, W), (N, Hout + 2 * ph, Wout + 2 * pw, self.out_channels),
                             sh, sw)
        y = full[:, ph:ph + Hout, pw:pw + Wout, :] + self.b.data       # (N, Hout, Wout, C_out)
        y = y.transpose(0, 3, 1, 2)                                      # NCHW view, NHWC memory
        self._save(y.shape, (x_mat, H, W), y.dtype)
        return y

    def backward(self, dy):
        x_mat, H, W = self._pop_cache(dy)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        N = dy.shape[0]
        dy_nhwc = dy.transpose(0, 2, 3, 1)                               # (N, Hout, Wout, C_out)
        dcols = im2col(pad_hw(dy_nhwc, ph, pw), kh, kw, sh, sw, H, W)    # (N*H*W, kh*kw*C_out)
        if not self.frozen:
            dW_mat = x_mat.T @ dcols                                     # (C_in, kh*kw*C_out)
            self.W.grad += dW_mat.reshape(self.in_channels, kh, kw, self.out_channels).transpose(0, 3, 1, 2)
            self.b.grad += dy_nhwc.sum(axis=(0, 1, 2))
        if not self.needs_dx:
            return None
        W_mat = self.W.data.transpose(0, 2, 3, 1).reshape(self.in_channels, kh * kw * self.out_channels)
        dx_mat = dcols @ W_mat.T                                         # (N*H*W, C_in)
        return dx_mat.reshape(N, H, W, self.in_channels).transpose(0, 3, 1, 2)
