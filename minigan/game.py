"""The alternating game of a GAN: one iteration, D's step then G's, with hand-written gradients.

One iteration on a real batch x and fresh noise z (``gan_step``):

1. D step, G fixed: fake = G(z); D backpropagates the real batch (``loss.d_loss_real``) and
   then the fake batch (``loss.d_loss_fake``), adding into the same gradients; opt_d steps.
   The fakes' gradient is never sent into G.
2. G step, every ``d_steps``-th iteration: D scores the same fakes again; G's loss gradient
   flows back through D into G (``G.backward(D.backward(d_fake))``) with D frozen, so D's
   parameter gradients are neither computed nor changed; opt_g steps.
"""
from . import telemetry


def gan_step(G, D, loss, opt_g, opt_d, real, z, update_g=True, layer_norms=False):
    """One iteration of the game (steps 1-2 of the module docstring).

    Returns a dict of scalars on the device (losses, D's mean outputs, gradient norms), never
    read here: on a GPU, reading one is a synchronisation (``telemetry.to_host`` reads many at once).
    """
    fake = G(z)                                    # G keeps its cache for the G step below
    opt_d.zero_grad()
    s_real = D(real)                               # step 1: the real batch, then the fake batch
    loss_real, d_real = loss.d_loss_real(s_real)
    D.backward(d_real, need_dx=False)              # nothing uses the gradient of the images
    s_fake = D(fake)
    loss_fake, d_fake = loss.d_loss_fake(s_fake)
    D.backward(d_fake, need_dx=False)              # G stays fixed: no gradient for the fakes
    record = {"loss_d": loss_real + loss_fake, "d_real": loss.mean_output(s_real),
              "d_fake": loss.mean_output(s_fake), "grad_norm_d": telemetry.grad_norm(D.parameters())}
    if layer_norms:
        record["layer_norms_d"] = telemetry.layer_grad_norms(D)
    opt_d.step()
    if update_g:                                   # step 2
        opt_g.zero_grad()
        loss_g, d_scores = loss.g_loss(D(fake))
        D.freeze()                                 # G's pass computes no gradients for D's parameters
        try:
            G.backward(D.backward(d_scores))
        finally:
            D.unfreeze()
        record.update(loss_g=loss_g, grad_norm_g=telemetry.grad_norm(G.parameters()))
        if layer_norms:
            record["layer_norms_g"] = telemetry.layer_grad_norms(G)
        opt_g.step()
    return record
