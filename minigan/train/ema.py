"""An exponential moving average of the generator's weights, used for sampling and scoring.

GAN training does not converge to a point: G's weights keep circling around a good solution
as D and G chase each other. Averaging the weights over the last several hundred steps (about
1/(1 - d) of them; Yazıcı et al. 2019, "The Unusual Effectiveness of Averaging in GAN Training")
lands nearer the centre and gives cleaner, more varied samples at no cost to training, since
the average is never trained, only read. After each G step, with n the number of updates so far:

    d = min(decay, (1 + n) / (10 + n))            (a short warm-up, so early weights fade fast)
    theta_avg = d * theta_avg + (1 - d) * theta    for every weight and BatchNorm statistic

Buffers a layer lists in ``_copied_buffers`` are copied, not averaged: SpectralNorm's power-iteration
vectors u and v must stay unit vectors (an average of unit vectors is shorter, and would scale σ).
"""
import copy


class WeightAverage:
    """The averaged copy of a network (``model``, in eval mode) and its update rule (module docstring)."""

    def __init__(self, network, decay):
        if not (isinstance(decay, float) and 0.0 < decay < 1.0):
            raise ValueError(f"WeightAverage: decay must be a float in (0, 1), got {decay!r}")
        self.model = copy.deepcopy(network).eval()
        self.decay, self.updates = decay, 0

    def update(self, network):
        """Move the average towards ``network``'s current weights and statistics."""
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        for (_, avg), (_, p) in zip(self.model.named_parameters(), network.named_parameters()):
            avg.data *= d
            avg.data += (1.0 - d) * p.data
        for (_, mine), (_, theirs) in zip(self.model.named_layers(), network.named_layers()):
            for name in mine._buffer_names:
                avg, b = getattr(mine, name), getattr(theirs, name)
                if name in getattr(mine, "_copied_buffers", ()):
                    setattr(mine, name, b.copy())
                else:
                    avg *= d
                    avg += (1.0 - d) * b
        self.updates += 1

    def state_dict(self):
        return self.model.state_dict()

    def load_state_dict(self, state, updates):
        self.model.load_state_dict(state)
        self.updates = int(updates)

