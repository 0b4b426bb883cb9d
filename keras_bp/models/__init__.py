"""Models whose training step does more than keras.Model's."""

from keras_bp.models.base import Model

__all__ = ["Model"]
