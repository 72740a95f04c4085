"""minigan.backend.cpu: every compiled loop against the NumPy reference it replaces, bit for bit.

The fast path promises the reference's numbers to the last bit, so these tests compare with
``np.array_equal``, not a tolerance: the same layer, optimizer or step, run with the loops on and
off (``cpu.set_enabled``). They skip where numba is not installed; the fallback tests do not.
"""
import importlib.util

import numpy as np
import pytest

import minigan as mg
from minigan.backend import cpu
from minigan.nn import _im2col

needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="numba is not installed")
DTYPES = ["float32", "float64"]


class CountingLoops:
    """The compiled loops, each call counted by name: proof that the fast path ran."""

    def __init__(self, loops):
        self.loops, self.calls = loops, {}

    def __getattr__(self, name):
        def counted(*args):
            self.calls[name] = self.calls.get(name, 0) + 1
            return getattr(self.loops, name)(*args)
        return counted


def both_ways(run, monkeypatch, *expected):
    """run() with the compiled loops on, then off: (compiled result, reference result).

    The first run must have called each loop named in ``expected``, and the second none: with numba
    installed the loops must load (a broken cpu_kernels fails here rather than skipping).
    """
    cpu.set_enabled(True)
    assert cpu.enabled(), cpu.status()
    counting = CountingLoops(cpu._loops())
    monkeypatch.setattr(cpu, "_loops", lambda: counting)
    compiled = run()
    assert all(counting.calls.get(name) for name in expected), f"the fast path did not run: {counting.calls}"
    cpu.set_enabled(False)
    counting.calls.clear()
    reference = run()
    assert not counting.calls, f"the reference called the loops: {counting.calls}"
    return compiled, reference


def assert_identical(compiled, reference):
    for a, b in zip(compiled, reference, strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.strides == b.strides, "the fast path lays out its output as the reference does"
        np.testing.assert_array_equal(bits(a), bits(b), strict=True)


def bits(a):
    """a's bit patterns: equal only where every value is the same to the last bit, signed zeros and NaNs included."""
    return np.ascontiguousarray(a).view(f"uint{8 * a.itemsize}")


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["C order", "NCHW view of NHWC memory", "strided slice"])
def test_leaky_relu_is_the_reference_bit_for_bit(rng, dtype, layout, monkeypatch):
    x = rng.standard_normal((4, 6, 5, 3)).astype(dtype)
    x.flat[:3] = [0.0, -0.0, np.nan]
    if layout == "NCHW view of NHWC memory":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    expected = ("leaky_relu",)
    if layout == "strided slice":                  # not dense: the reference runs either way
        x, expected = x[:, ::2], ()
    for slope in (0.2, 0.01, 0.0):
        assert_identical(*both_ways(lambda: mg.nn.activations.leaky_relu(x, slope), monkeypatch, *expected))


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layer", ["BatchNorm1d", "BatchNorm2d"])
def test_batchnorm_training_forward_and_backward_are_the_reference_bit_for_bit(rng, dtype, layer, monkeypatch):
    shape = (16, 7) if layer == "BatchNorm1d" else (6, 5, 4, 3)
    x = (3.0 * rng.standard_normal(shape) + 1.0).astype(dtype)
    if layer == "BatchNorm2d":                     # as a convolution hands it over: NHWC memory
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    dy = rng.standard_normal(x.shape).astype(dtype)

    def run():
        bn = getattr(mg.nn, layer)(shape[1], dtype=dtype)
        bn.gamma.data[:] = np.linspace(0.5, 2.0, shape[1])
        bn.beta.data[:] = np.linspace(-1.0, 1.0, shape[1])
        y = bn(x)
        dx = bn.backward(dy)
        return y, dx, bn.gamma.grad, bn.beta.grad, bn.running_mean, bn.running_var
    assert_identical(*both_ways(run, monkeypatch, "center", "normalize", "multiply", "batchnorm_dx"))


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("lr", [1e-2, np.float64(1e-2), np.float32(1e-2)])
def test_adam_is_the_reference_bit_for_bit_over_several_steps(rng, dtype, weight_decay, lr, monkeypatch):
    shapes = [(5, 3), (3,), (2, 2, 2)]
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(4)]

    def run():
        params = [mg.nn.Parameter(a.copy()) for a in start]
        opt = mg.optim.Adam(params, lr=1e-2, weight_decay=weight_decay)
        opt.lr = lr                                # as a schedule written in NumPy would set it
        for step in grads:
            for p, g in zip(params, step):
                p.grad[...] = g
            opt.step()
        return [p.data for p in params] + [opt.flat_state["m"], opt.flat_state["v"]]
    assert_identical(*both_ways(run, monkeypatch, "adam"))


@needs_numba
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels", [1, 16])
@pytest.mark.parametrize("shape", ["square, stride 2", "rectangular, strides (2, 1)"])
@pytest.mark.parametrize("chunk_bytes", [None, 4096])
def test_col2im_adds_are_the_reference_bit_for_bit(rng, dtype, channels, shape, chunk_bytes, monkeypatch):
    N, K = 5, 12
    (Hg, Wg), (kh, kw), stride = ((7, 7), (4, 4), (2, 2)) if shape.startswith("square") else ((6, 4), (3, 2), (2, 1))
    padded = (N, stride[0] * (Hg - 1) + kh, stride[1] * (Wg - 1) + kw, channels)
    if chunk_bytes:                                # several chunks of images per call
        monkeypatch.setattr(_im2col, "CHUNK_BYTES", chunk_bytes)
    A = rng.standard_normal((N * Hg * Wg, K)).astype(dtype)
    W = rng.standard_normal((K, channels, kh, kw)).astype(dtype)
    run = lambda: [_im2col.matmul_col2im(A, W, (N, Hg, Wg), padded, stride)]   # noqa: E731
    expected = ("add_offset",) if channels >= _im2col.MIN_COMPILED_CHANNELS else ()
    assert_identical(*both_ways(run, monkeypatch, *expected))


@needs_numba
@pytest.mark.parametrize("model", ["dcgan", "mlp"])
def test_a_whole_gan_step_is_the_reference_bit_for_bit(rng, model, monkeypatch):
    real = rng.random((8, 1, 28, 28)).astype("float32")
    z = rng.standard_normal((8, 100)).astype("float32")

    def run():
        G, D = mg.models.build(model, rng=0)
        loss = mg.losses.get("nonsaturating")
        opt_g, opt_d = mg.optim.Adam(G.parameters()), mg.optim.Adam(D.parameters())
        for _ in range(2):
            mg.game.gan_step(G, D, loss, opt_g, opt_d, real, z)
        buffers = [getattr(layer, name) for net in (G, D) for _, layer in net.named_layers()
                   for name in layer._buffer_names]
        return [p.data for p in G.parameters() + D.parameters()] + buffers
    loops = ("leaky_relu", "adam") + (("center", "normalize", "multiply", "batchnorm_dx", "add_offset")
                                      if model == "dcgan" else ())
    assert_identical(*both_ways(run, monkeypatch, *loops))


@needs_numba
def test_add_offset_refuses_a_target_outside_out():
    part, out = np.ones((2, 3, 3, 8), "float32"), np.zeros((2, 6, 6, 8), "float32")
    cpu.add_offset(part, out, (1, 1), (2, 2))      # rows and columns 1, 3, 5: inside
    with pytest.raises(ValueError, match=r"add_offset: offset \(2, 0\) with stride \(2, 2\) takes part"):
        cpu.add_offset(part, out, (2, 0), (2, 2))
    with pytest.raises(ValueError, match="add_offset"):
        cpu.add_offset(part, out, (0, 0), (0, 2))


@needs_numba
def test_handles_only_dense_numpy_floats_of_one_dtype():
    a = np.zeros((4, 3), "float32")
    assert cpu.handles(a, a)
    assert not cpu.handles(a, a.astype("float64")), "mixed dtypes"
    assert not cpu.handles(a.astype("float16")) and not cpu.handles(a.astype("int32"))
    assert not cpu.handles(a[:, :2]), "not contiguous"
    assert not cpu.handles(a.T) and cpu.handles(a.T, any_order=True)
    cpu.set_enabled(False)
    assert not cpu.handles(a) and "set_enabled(False)" in cpu.status()


def test_a_loop_that_fails_when_it_loads_sends_everything_to_numpy_with_the_reason(monkeypatch):
    from minigan.backend import cpu_kernels

    def broken(*args):
        raise OSError("cannot write the cache")
    monkeypatch.setattr(cpu_kernels, "adam", broken)
    cpu._loops.cache_clear()
    try:
        cpu.set_enabled(True)
        assert not cpu.enabled() and not cpu.handles(np.zeros(3, "float32"))
        assert "could not compile or load its loops (OSError: cannot write the cache)" in cpu.status()
    finally:
        monkeypatch.undo()
        cpu._loops.cache_clear()
    assert cpu.enabled()


@needs_numba
def test_a_dtype_whose_loops_fail_stays_with_numpy_and_status_says_so(monkeypatch):
    def fails_for_float64(loops, dtype):
        if dtype == np.float64:
            raise RuntimeError("no float64 today")
    cpu.set_enabled(True)
    assert cpu.handles(np.zeros(3, "float32"))
    monkeypatch.setattr(cpu, "_try_each", fails_for_float64)
    cpu._ready.cache_clear()
    try:
        assert not cpu.handles(np.zeros(3, "float64")) and cpu.handles(np.zeros(3, "float32"))
        assert "float64 arrays stay with NumPy (RuntimeError: no float64 today)" in cpu.status()
    finally:
        monkeypatch.undo()
        cpu._ready.cache_clear()
        cpu._state["failed"].clear()


def test_a_numba_that_refuses_this_numpy_is_not_told_to_install_numba(monkeypatch):
    monkeypatch.setattr(cpu, "_loops", lambda: ImportError("Numba needs NumPy 2.5 or less. Got NumPy 2.6."))
    cpu.set_enabled(True)
    assert "numba is installed but refused to load" in cpu.status() and "pip install numba" not in cpu.status()


def test_loops_numba_cannot_compile_or_cache_fall_back_with_their_reason(monkeypatch):
    monkeypatch.setattr(cpu, "_loops", lambda: RuntimeError("cannot cache function 'adam': no locator available"))
    cpu.set_enabled(True)
    assert not cpu.enabled()
    assert "could not compile or load" in cpu.status() and "no locator" in cpu.status()
    assert "pip install" not in cpu.status()


def test_without_numba_everything_runs_on_the_reference_and_status_says_how_to_get_it(monkeypatch, rng):
    monkeypatch.setattr(cpu, "_loops", lambda: ModuleNotFoundError("No module named 'numba'", name="numba"))
    cpu.set_enabled(True)
    assert not cpu.enabled() and not cpu.handles(np.zeros(3, "float32"))
    assert "pip install numba" in cpu.status() and "No module named 'numba'" in cpu.status()
    bn = mg.nn.BatchNorm2d(3)
    y = bn(rng.standard_normal((4, 3, 2, 2)).astype("float32"))
    assert bn.backward(np.ones_like(y)).shape == y.shape


def test_a_training_run_says_once_when_the_fast_path_is_off(monkeypatch):
    from minigan.train import parts
    monkeypatch.setattr(cpu, "_loops", lambda: ModuleNotFoundError("No module named 'numba'", name="numba"))
    lines = []
    parts.use_backend("numpy", lines.append, verbose=False)
    assert len(lines) == 1 and "pip install numba" in lines[0]


def test_the_environment_chooses_and_a_bad_value_is_named(monkeypatch):
    cpu._state["choice"] = None
    monkeypatch.setenv(cpu.ENV_VAR, "numpy")
    assert not cpu.enabled() and f"{cpu.ENV_VAR}=numpy" in cpu.status()
    cpu._state["choice"] = None
    monkeypatch.setenv(cpu.ENV_VAR, "fast")
    with pytest.raises(cpu.UnknownChoice, match=f"{cpu.ENV_VAR} must be numba or numpy, got 'fast'"):
        cpu.enabled()
