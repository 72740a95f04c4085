"""The alternating game of a GAN: one iteration, D's step then G's, with hand-written gradients.

One iteration on a real batch x and fresh noise z (``gan_step``):

1. D step, G fixed: fake = G(z); D backpropagates the real batch (``loss.d_loss_real``) and
   then the fake batch (``loss.d_loss_fake``), adding into the same gradients, then adds each
   gradient penalty's (``penalties``, on real, fake or interpolated images; ``gan.penalties``);
   opt_d steps. The fakes' gradient is never sent into G.
2. G step, every ``d_steps``-th iteration: D scores the same fakes again; G's loss gradient
   flows back through D into G (``G.backward(D.backward(d_fake))``) with D frozen, so D's
   parameter gradients are neither computed nor changed, and without the gradient of z; opt_g steps.

A conditional game (networks built with ``num_classes``, ``minigan.nn.conditional``) takes
``labels = (y_real, y_fake)``: the real batch's labels, and those the fakes are asked for. G makes
its fakes given y_fake; D scores the real batch given y_real and the fakes given y_fake, in both steps.
"""
from .. import backend
from ..backend import cuda


def gan_step(G, D, loss, opt_g, opt_d, real, z, update_g=True, layer_norms=False, penalties=(), rng=None,
             labels=None):
    """One iteration of the game (steps 1-2 of the module docstring).

    ``penalties``: ``gan.penalties.Penalty`` terms added to D's loss in step 1; ``rng`` (a numpy
    Generator) draws the interpolates of a WGAN-GP term. ``labels``: (y_real, y_fake) for a
    conditional game, int arrays (N,) on the images' device; None for an unconditional one.
    Returns a dict of scalars on the device (losses, D's mean outputs, gradient norms, each
    penalty's value and mean input-gradient norm), never read here: on a GPU, reading one is a
    synchronisation (the trainer's ``telemetry.to_host`` reads many at once).
    """
    y_real, y_fake = labels or (None, None)
    fake = G.given(y_fake)(z)                      # G keeps its cache for the G step below
    opt_d.zero_grad()
    loss_d, s_real, s_fake = d_gradients(D, loss, real, fake, labels)   # step 1
    record = {}
    for penalty in penalties:
        record.update(penalty.apply(D, real, fake, rng, labels))
    record.update({"loss_d": loss_d, "d_real": loss.mean_output(s_real),
                   "d_fake": loss.mean_output(s_fake), "grad_norm_d": grad_norm(D.parameters())})
    if layer_norms:
        record["layer_norms_d"] = layer_grad_norms(D)
    opt_d.step()
    if update_g:                                   # step 2
        opt_g.zero_grad()
        loss_g = g_gradients(G, D, loss, fake, y_fake)
        record.update(loss_g=loss_g, grad_norm_g=grad_norm(G.parameters()))
        if layer_norms:
            record["layer_norms_g"] = layer_grad_norms(G)
        opt_g.step()
    return record


def d_gradients(D, loss, real, fake, labels=None):
    """Step 1's gradients: add dL_D/dθ_D into D's ``.grad``, the real batch and then the fake batch.

    L_D = loss.d_loss_real(D(real)) + loss.d_loss_fake(D(fake)), with the fakes held fixed;
    conditional: D(real | y_real) and D(fake | y_fake) for ``labels`` = (y_real, y_fake).
    Returns (L_D, s_real, s_fake) on the device. ``minigan gradcheck`` checks this function
    against finite differences of L_D (rows "GAN <model> <loss>: D on real and fake").
    """
    y_real, y_fake = labels or (None, None)
    s_real = D.given(y_real)(real)
    loss_real, d_real = loss.d_loss_real(s_real)
    D.backward(d_real, need_dx=False)              # nothing uses the gradient of the images
    s_fake = D.given(y_fake)(fake)
    loss_fake, d_fake = loss.d_loss_fake(s_fake)
    D.backward(d_fake, need_dx=False)              # G stays fixed: no gradient for the fakes
    return loss_real + loss_fake, s_real, s_fake


def g_gradients(G, D, loss, fake, y_fake=None):
    """Step 2's gradients: add dL_G/dθ_G into G's ``.grad``, through D with D's weights fixed.

    L_G = loss.g_loss(D(fake)) with ``fake`` = G(z), G's last forward (its cache is used here);
    conditional: D(fake | y_fake), the labels G was given.
    D is frozen for the pass, so its parameter gradients are neither computed nor changed, and G's
    first layer skips the gradient of z, which nothing uses (its ``needs_dx`` flag, set for the pass).
    Returns L_G on the device. ``minigan gradcheck`` checks this function against finite
    differences of L_G (rows "GAN <model> <loss>: G through D").
    """
    loss_g, d_scores = loss.g_loss(D.given(y_fake)(fake))
    D.freeze()
    G.needs_dx, needed = False, G.needs_dx
    try:
        G.backward(D.backward(d_scores))
    finally:
        D.unfreeze()
        G.needs_dx = needed
    return loss_g


# -- the norms the record holds ------------------------------------------------------------
def grad_norm(params):
    """Global L2 norm of the gradients, sqrt(sum over parameters of sum(grad²)), as a scalar on their device.

    On CuPy, gradients that fill one flat buffer (an optimizer's, ``minigan.optim.flat``) take one reduction.
    """
    flat = params[0].grad.base
    if backend.is_cupy_array(flat) and sum(p.grad.size for p in params) == flat.size and all(
            p.grad.base is flat for p in params):
        return cuda.grad_norm(flat)
    total = sum((p.grad * p.grad).sum() for p in params)
    return backend.xp_of(params[0].grad).sqrt(total)


def layer_grad_norms(model):
    """{"<index> <layer>": L2 norm of that layer's gradients (a device scalar)} for each layer with parameters."""
    return {f"{i} {type(layer).__name__}": grad_norm(layer.parameters())
            for i, layer in enumerate(model) if layer.parameters()}
