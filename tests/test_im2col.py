import numpy as np
import pytest

from minigan.nn._im2col import col2im, conv_output_size, im2col, matmul_col2im, pad_hw, window_view


@pytest.mark.parametrize("N, H, W, C, k, s, p", [
    (2, 5, 5, 3, 3, 1, 1), (1, 7, 6, 1, 4, 2, 1), (3, 5, 4, 2, 2, 3, 2), (2, 4, 4, 2, 1, 1, 0),
    (1, 6, 9, 2, (2, 3), (1, 2), (0, 1)),
])
def test_col2im_is_the_adjoint_of_im2col(rng, N, H, W, C, k, s, p):
    (kh, kw), (sh, sw), (ph, pw) = [v if isinstance(v, tuple) else (v, v) for v in (k, s, p)]
    Hout, Wout = conv_output_size(H, kh, sh, ph), conv_output_size(W, kw, sw, pw)
    xpad = pad_hw(rng.standard_normal((N, H, W, C)), ph, pw)
    c = rng.standard_normal((N * Hout * Wout, kh * kw * C))
    lhs = float((im2col(xpad, kh, kw, sh, sw, Hout, Wout) * c).sum())
    rhs = float((xpad * col2im(c.reshape(N, Hout, Wout, kh, kw, C), xpad.shape, sh, sw)).sum())
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_im2col_rows_are_the_kernel_windows(rng):
    x = rng.standard_normal((2, 6, 5, 3))
    cols = im2col(x, 3, 2, 2, 1, 2, 4).reshape(2, 2, 4, 3, 2, 3)
    for i in range(2):
        for j in range(4):
            np.testing.assert_array_equal(cols[:, i, j], x[:, 2 * i:2 * i + 3, j:j + 2, :])


def test_window_view_does_not_copy(rng):
    x = rng.standard_normal((1, 4, 4, 1))
    assert np.shares_memory(window_view(x, 2, 2, 1, 1, 3, 3), x)


def test_pad_hw():
    x = np.ones((1, 2, 3, 1))
    assert pad_hw(x, 0, 0) is x
    y = pad_hw(x, 1, 2)
    assert y.shape == (1, 4, 7, 1) and y.sum() == 6 and y[0, 1:3, 2:5, 0].all()


@pytest.mark.parametrize("k, s", [((4, 4), (2, 2)), ((3, 2), (1, 3)), ((1, 1), (1, 1))])
def test_matmul_col2im_equals_col2im_of_the_product(rng, k, s):
    (kh, kw), (sh, sw) = k, s
    N, Hg, Wg, K, C = 2, 3, 4, 5, 3
    A = rng.standard_normal((N * Hg * Wg, K))
    W = rng.standard_normal((K, C, kh, kw))
    W_mat = W.transpose(0, 2, 3, 1).reshape(K, kh * kw * C)          # columns ordered (a, b, c)
    shape = (N, sh * (Hg - 1) + kh, sw * (Wg - 1) + kw, C)
    expected = col2im((A @ W_mat).reshape(N, Hg, Wg, kh, kw, C), shape, sh, sw)
    np.testing.assert_allclose(matmul_col2im(A, W, (N, Hg, Wg), shape, sh, sw), expected, rtol=1e-12, atol=1e-12)
