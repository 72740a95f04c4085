"""Reference implementations written the slow, obvious way, to test the fast ones against."""
import numpy as np


def away_from_zero(rng, shape, margin=0.05):
    u = rng.standard_normal(shape)
    return np.sign(u) * (margin + np.abs(u))


def conv2d_reference(x, W, b, stride, padding):
    """y[n, o, i, j] = b[o] + sum_{c, a, e} W[o, c, a, e] * xpad[n, c, i*sh + a, j*sw + e], by loops."""
    (sh, sw), (ph, pw) = stride, padding
    N, C, H, Wd = x.shape
    O, _, kh, kw = W.shape
    xpad = np.zeros((N, C, H + 2 * ph, Wd + 2 * pw), dtype=x.dtype)
    xpad[:, :, ph:ph + H, pw:pw + Wd] = x
    Hout, Wout = (H + 2 * ph - kh) // sh + 1, (Wd + 2 * pw - kw) // sw + 1
    y = np.zeros((N, O, Hout, Wout), dtype=x.dtype)
    for i in range(Hout):
        for j in range(Wout):
            window = xpad[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]          # (N, C, kh, kw)
            y[:, :, i, j] = np.einsum("ncae,ocae->no", window, W) + b
    return y


def conv_transpose2d_reference(x, W, b, stride, padding):
    """Scatter definition: y[n, o, i*sh + a - ph, j*sw + e - pw] += x[n, c, i, j] * W[c, o, a, e], by loops."""
    (sh, sw), (ph, pw) = stride, padding
    N, C, H, Wd = x.shape
    _, O, kh, kw = W.shape
    full = np.zeros((N, O, (H - 1) * sh + kh, (Wd - 1) * sw + kw), dtype=x.dtype)
    for i in range(H):
        for j in range(Wd):
            full[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += np.einsum("nc,coae->noae", x[:, :, i, j], W)
    Hout, Wout = full.shape[2] - 2 * ph, full.shape[3] - 2 * pw
    return full[:, :, ph:ph + Hout, pw:pw + Wout] + b.reshape(1, -1, 1, 1)
