"""The training step recorded once as a CUDA graph and replayed for every batch (CuPy only).

A GAN step launches a few hundred small kernels; on a GPU launching them from Python costs more
than running them. ``CapturedStep`` runs ``game.gan_step`` once as usual, then records the same
step on a private stream (CUDA stream capture) into a graph, which one call replays: the
kernels, their order and their arguments are fixed, only the data in the buffers changes.

What makes the recorded step right on every replay:

- inputs: each call copies ``real`` and ``z`` into fixed buffers the graph reads;
- memory: everything a graph's step allocates comes from a memory pool of that graph's own,
  warmed by the first (eager) step, so its temporaries are never handed to anything else (another
  graph, or state made once and kept, like Adam's device step counter);
- state on the host: nothing. Adam's bias corrections use a step counter on the device
  (``optim.Adam._fused_update``); the optimizers' host counters are advanced here per replay;
- outputs: the step's record (losses, mean outputs, gradient norms) is packed into one vector
  by the graph and copied out after each replay, so records of earlier steps stay valid;
- anything rebinding an array the graph uses (``load_state_dict``, ``astype``), a switch between
  ``train()`` and ``eval()`` or a new optimizer setting (a learning rate, recorded as a kernel
  argument) changes the step's fingerprint, and the step is recorded again.

The eager ``game.gan_step`` stays the reference: tests/gan/test_graph.py checks that replays give the
same weights and records as eager steps (on a GPU; it skips without one).
"""
import sys

from .. import backend
from .game import gan_step


class CaptureError(RuntimeError):
    """The step could not be recorded as a CUDA graph (the message says why); use the eager step."""


class CapturedStep:
    """``gan_step(G, D, loss, opt_g, opt_d, real, z, update_g)`` replayed from a CUDA graph.

    ``step(real, z, update_g=True)`` returns the same record as ``gan_step`` (device scalars).
    One graph is recorded per input shape and ``update_g``; the first call for each runs eagerly.
    Where recording fails (a CuPy without the cuBLAS entry point minigan calls, say), the reason
    goes to ``log`` once, ``unavailable`` holds it, and every step runs eagerly.
    """

    def __init__(self, G, D, loss, opt_g, opt_d, log=None):
        self.G, self.D, self.loss, self.opt_g, self.opt_d = G, D, loss, opt_g, opt_d
        self.cupy = sys.modules.get("cupy")
        if self.cupy is None or backend.get_backend() != "cupy":
            raise CaptureError("CapturedStep: CUDA graphs need the cupy backend (minigan.set_backend('cupy'))")
        self.stream = self.cupy.cuda.Stream(non_blocking=True)
        self.graphs, self.log, self.unavailable = {}, log, None

    def __call__(self, real, z, update_g=True):
        if self.unavailable is not None:
            return gan_step(self.G, self.D, self.loss, self.opt_g, self.opt_d, real, z, update_g)
        key = (tuple(real.shape), tuple(z.shape), real.dtype.name, z.dtype.name, bool(update_g))
        entry = self.graphs.get(key)
        if entry is None or entry["fingerprint"] != self._fingerprint():
            return self._record(key, real, z, update_g)
        entry["real"][...] = real
        entry["z"][...] = z
        entry["graph"].launch()
        self._advance(update_g)
        values = entry["record"].copy()
        return {name: values[i] for i, name in enumerate(entry["names"])}

    def _record(self, key, real, z, update_g):
        """Run this step eagerly on the private stream and pool, then record it as a graph for the next ones."""
        cupy = self.cupy
        old = self.graphs.pop(key, None)
        if old is not None:
            old["pool"].free_all_blocks()
        inputs = {"real": cupy.array(real, copy=True), "z": cupy.array(z, copy=True)}
        pool = cupy.cuda.MemoryPool()                   # this graph's alone: see the module docstring
        self.stream.wait_event(cupy.cuda.get_current_stream().record())
        with cupy.cuda.using_allocator(pool.malloc), self.stream:
            record = gan_step(self.G, self.D, self.loss, self.opt_g, self.opt_d, inputs["real"], inputs["z"], update_g)
            self.stream.synchronize()
            fingerprint = self._fingerprint()
            try:
                graph, names, packed = self._capture(inputs, update_g)
            except Exception as error:                  # the same step just ran eagerly: only recording failed
                self._give_up(error)
        cupy.cuda.get_current_stream().wait_event(self.stream.record())
        if self.unavailable is None:
            self.graphs[key] = dict(inputs, graph=graph, pool=pool, record=packed, names=names,
                                    fingerprint=fingerprint)
        return record

    def _capture(self, inputs, update_g):
        """The step recorded on the private stream, not run: (graph, record names, packed record)."""
        counters = (self.opt_g.t, self.opt_d.t)
        self.stream.begin_capture()
        try:
            try:
                captured = gan_step(self.G, self.D, self.loss, self.opt_g, self.opt_d, inputs["real"], inputs["z"],
                                    update_g)
                names = sorted(captured)
                packed = self.cupy.stack([self.cupy.asarray(captured[name], dtype="float64") for name in names])
            finally:
                graph = self.stream.end_capture()      # raises if the capture was invalidated
        finally:
            self.opt_g.t, self.opt_d.t = counters      # the recording did not step
        return graph, names, packed

    def _give_up(self, error):
        """Run every later step eagerly, and say why once (through ``log``, when given)."""
        self.unavailable = f"{type(error).__name__}: {error}"
        self.graphs.clear()
        if self.log is not None:
            self.log(f"minigan: the step cannot be recorded as a CUDA graph ({self.unavailable}); "
                     "every step runs eagerly (slower, the same results)")

    def _advance(self, update_g):
        self.opt_d.t += 1
        if update_g:
            self.opt_g.t += 1

    def _fingerprint(self):
        """Where every array the step reads or writes lives, and each layer's mode."""
        arrays = [a for net in (self.G, self.D) for _, a in net.named_buffers()]
        arrays += [a for opt in (self.opt_g, self.opt_d) for p in opt.params for a in (p.data, p.grad)]
        arrays += [a for opt in (self.opt_g, self.opt_d) for state in opt.state for a in state.values()]
        arrays += [opt._t_device for opt in (self.opt_g, self.opt_d) if getattr(opt, "_t_device", None) is not None]
        modes = [layer.training for net in (self.G, self.D) for _, layer in net.named_layers()]
        settings = [repr(sorted(opt._hyperparameters().items())) for opt in (self.opt_g, self.opt_d)]
        return tuple(a.data.ptr for a in arrays) + tuple(modes) + tuple(settings)
