"""Optimizers of the backpropagation family."""

from keras_bp.optimizers.recurrent import RecurrentBackprop
from keras_bp.optimizers.rprop import Rprop

__all__ = ["RecurrentBackprop", "Rprop"]
