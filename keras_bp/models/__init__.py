"""Models whose training step does more than keras.Model's."""

from keras_bp.models.base import Model
from keras_bp.models.bptt import BPTTModel
from keras_bp.models.plots import plot_gradient_norms

__all__ = ["BPTTModel", "Model", "plot_gradient_norms"]
