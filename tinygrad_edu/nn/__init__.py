"""Neural-network building blocks on the Tensor graph."""
from .module import Module, Parameter
