"""minigan.backend.cuda: every GPU fast path against the NumPy reference it replaces (skips without a GPU)."""
import numpy as np
import pytest

import minigan as mg
from minigan.backend import cuda
from minigan.nn import _im2col

def _host(a):
    return mg.to_numpy(a)


def _read_by_cublas(a, op, ld):
    """What cuBLAS reads from a's memory with (op, ld): a column-major matrix, ld items apart, then op."""
    shape = a.shape[::-1] if op == cuda._CUBLAS_OP_N else a.shape
    stored = np.lib.stride_tricks.as_strided(a, shape=shape, strides=(a.itemsize, ld * a.itemsize))
    return stored if op == cuda._CUBLAS_OP_N else stored.T


@pytest.mark.parametrize("make", [
    lambda m: m, lambda m: m.T.copy().T, lambda m: np.hstack([m, m])[:, :5], lambda m: m[:1], lambda m: m[:, :1],
    lambda m: np.vstack([m, m]).T.copy().T[:3], lambda m: m[:1].T.copy().T])
def test_operand_tells_cublas_how_to_read_each_layout(make, rng):
    a = make(rng.standard_normal((3, 5)).astype(np.float32))
    op, ld = cuda._operand(a)
    assert ld >= 1
    np.testing.assert_array_equal(_read_by_cublas(a, op, ld), a.T)


@pytest.mark.parametrize("make", [lambda m: m[:, ::2], lambda m: m[::-1], lambda m: np.broadcast_to(m[:1], m.shape)])
def test_operand_declines_layouts_cublas_cannot_read(make, rng):
    assert cuda._operand(make(rng.standard_normal((3, 5)).astype(np.float32))) is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["rows", "a transposed", "b transposed", "both transposed", "row slice",
                                    "one row", "one column"])
@pytest.mark.gpu
def test_gemm_is_the_matrix_product_for_every_layout_cublas_can_read(cupy, rng, dtype, layout):
    m, k, n = 37, 23, 11
    A, B = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    if layout == "one row":
        A = A[:1]
    if layout == "one column":
        B = B[:, :1]
    a, b = cupy.asarray(A, dtype), cupy.asarray(B, dtype)
    if layout in ("a transposed", "both transposed"):
        a = cupy.asarray(A.T, dtype).T
    if layout in ("b transposed", "both transposed"):
        b = cupy.asarray(B.T, dtype).T
    if layout == "row slice":                      # a leading dimension larger than the row
        a = cupy.asarray(np.hstack([A, A]), dtype)[:, :k]
    out = cuda.gemm(a, b)
    assert out is not None and out.flags.c_contiguous and out.dtype == dtype
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(_host(out), _host(a).astype(np.float64) @ _host(b), rtol=tol, atol=tol)


@pytest.mark.gpu
def test_gemm_declines_what_cublas_cannot_read_and_matmul_falls_back(cupy, rng):
    A = cupy.asarray(rng.standard_normal((6, 8)), "float32")
    strided = A[:, ::2]                                         # neither row- nor column-major
    assert cuda.gemm(strided, A[:4].T) is None
    assert cuda.gemm(A.astype("int32"), A.T.astype("int32")) is None
    assert cuda.gemm(A, A.T.astype("float64")) is None
    B = cupy.asarray(rng.standard_normal((4, 5)), "float32")
    np.testing.assert_allclose(_host(cuda.matmul(strided, B)), _host(strided) @ _host(B), rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("shape", [(1, 3), (700, 5), (4, 6, 6, 3)])
def test_sum_rows_is_the_sum_over_all_axes_but_the_last(cupy, rng, shape):
    X = rng.standard_normal(shape).astype(np.float32)
    got = mg.backend.sum_rows(cupy.asarray(X))
    assert got.shape == (shape[-1],)
    np.testing.assert_allclose(_host(got), X.reshape(-1, shape[-1]).astype(np.float64).sum(axis=0), rtol=1e-5, atol=1e-5)


GEOMETRIES = [((2, 3, 5, 5), 4, (4, 4), (2, 2), (12, 12)), ((3, 4, 7, 6), 2, (3, 3), (1, 1), (9, 8)),
              ((1, 8, 4, 4), 3, (5, 3), (3, 2), (16, 11)), ((2, 5, 3, 3), 6, (4, 4), (2, 2), (8, 8))]


@pytest.mark.gpu
@pytest.mark.parametrize("grid, C, kernel, stride, padded", GEOMETRIES)
def test_matmul_col2im_is_the_reference(cupy, rng, grid, C, kernel, stride, padded):
    N, K, Hg, Wg = grid
    A = rng.standard_normal((N * Hg * Wg, K)).astype(np.float32)
    W = rng.standard_normal((K, C, *kernel)).astype(np.float32)
    shape = (N, *padded, C)
    mg.set_backend("numpy")
    expected = _im2col.matmul_col2im(A, W, (N, Hg, Wg), shape, stride)
    got = _im2col.matmul_col2im(cupy.asarray(A), cupy.asarray(W), (N, Hg, Wg), shape, stride)
    assert isinstance(got, cupy.ndarray) and got.shape == shape
    np.testing.assert_allclose(_host(got), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
def test_leaky_relu_kernel_is_bit_for_bit_the_reference(cupy, rng):
    x = rng.standard_normal((7, 33)).astype(np.float32)
    x[0, :4] = [0.0, -0.0, np.nan, -np.inf]
    y, scale = mg.nn.activations.leaky_relu(x, 0.2)
    y_gpu, scale_gpu = cuda.leaky_relu(cupy.asarray(x), 0.2)
    np.testing.assert_array_equal(_host(scale_gpu), scale)
    np.testing.assert_array_equal(_host(y_gpu), y)


def _batchnorm_pass(layer, x, dy):
    y = layer(x)
    dx = layer.backward(dy)
    return [_host(a) for a in (y, dx, layer.gamma.grad, layer.beta.grad, layer.running_mean, layer.running_var)]


@pytest.mark.gpu
@pytest.mark.parametrize("frozen", [False, True])
def test_batchnorm_kernels_match_the_reference(cupy, rng, frozen):
    x = (3.0 + 2.0 * rng.standard_normal((16, 6, 5, 5))).astype(np.float32)
    x[:, 2] = np.nan                                            # a channel whose statistics are not finite
    dy = rng.standard_normal(x.shape).astype(np.float32)
    gamma = rng.standard_normal(6).astype(np.float32)
    results = []
    for name, module in (("numpy", np), ("cupy", cupy)):
        mg.set_backend(name)
        layer = mg.nn.BatchNorm2d(6)
        layer.gamma.data[...] = module.asarray(gamma)
        layer.freeze(frozen)
        results.append(_batchnorm_pass(layer, module.asarray(x), module.asarray(dy)))
    for ours, reference in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, reference, rtol=1e-4, atol=1e-5)


@pytest.mark.gpu
def test_adam_kernel_follows_the_reference_step_for_step(cupy, rng):
    w = rng.standard_normal(50).astype(np.float32)
    grads = [rng.standard_normal(50).astype(np.float32) for _ in range(5)]
    weights = {}
    for name in ("numpy", "cupy"):
        mg.set_backend(name)
        p = mg.Parameter(mg.backend.asarray(w))
        opt = mg.optim.Adam([p], lr=1e-2, betas=(0.5, 0.999))
        for i, g in enumerate(grads):
            p.grad[...] = mg.backend.asarray(g)
            opt.step()
            if i == 2:                                          # a restored state restarts the device counter
                opt.load_state_dict(opt.state_dict())
        weights[name] = _host(p.data)
    np.testing.assert_allclose(weights["cupy"], weights["numpy"], rtol=1e-6, atol=1e-7)


@pytest.mark.gpu
def test_grad_norm_of_a_flat_buffer_is_one_reduction_with_the_same_value(cupy, rng):
    G, _ = mg.models.build("mlp", rng=0)
    opt = mg.optim.Adam(G.parameters(), lr=1e-3)
    for p in G.parameters():
        p.grad[...] = cupy.asarray(rng.standard_normal(p.grad.shape), "float32")
    expected = np.sqrt(sum(float((_host(p.grad).astype(np.float64) ** 2).sum()) for p in G.parameters()))
    assert opt.flat is not None
    assert float(mg.game.grad_norm(G.parameters())) == pytest.approx(expected, rel=1e-5)


@pytest.mark.gpu
def test_elementwise_kernels_keep_a_convolutions_memory_layout(cupy, rng):
    x_nhwc = rng.standard_normal((2, 5, 5, 3)).astype(np.float32)
    x = cupy.asarray(x_nhwc).transpose(0, 3, 1, 2)          # NCHW view of NHWC memory, as a conv returns
    y, scale = cuda.leaky_relu(x, 0.2)
    dx = cuda.multiply(y, scale)
    for a in (y, scale, dx):
        assert a.shape == x.shape and a.transpose(0, 2, 3, 1).flags.c_contiguous
    y_ref, scale_ref = mg.nn.activations.leaky_relu(x_nhwc.transpose(0, 3, 1, 2), 0.2)
    np.testing.assert_array_equal(_host(y), y_ref)
    np.testing.assert_array_equal(_host(dx), y_ref * scale_ref)
