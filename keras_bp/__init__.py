"""keras-bp: the classic backpropagation family for Keras 3.

- `Rprop`: resilient backpropagation (Rprop+, Rprop-, iRprop+, iRprop-).
- `RecurrentBackprop`: gradient descent with a forgetting factor on the
  history of gradients (heavy-ball momentum in its default, scaled form).
- `Model`: a `keras.Model` whose `train_step` also hands the loss to the
  optimizer (iRprop+ needs it).
- `BPTTModel`: a recurrent model trained by explicit backpropagation
  through time, full or truncated BPTT(k2; k1).
- `GradientNormsThroughTime`: a callback recording those norms during `fit`.
- `plot_gradient_norms`: plot `BPTTModel.gradient_norms_through_time`.
"""

from keras_bp.callbacks import GradientNormsThroughTime
from keras_bp.models import BPTTModel, Model, plot_gradient_norms
from keras_bp.optimizers import RecurrentBackprop, Rprop

__version__ = "0.1.0"

__all__ = [
    "BPTTModel",
    "GradientNormsThroughTime",
    "Model",
    "RecurrentBackprop",
    "Rprop",
    "plot_gradient_norms",
]
