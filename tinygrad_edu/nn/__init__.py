"""Neural-network building blocks on the Tensor graph."""
from .module import Module, Parameter
from .conv import AvgPool2d, Conv2d, Flatten, MaxPool2d
from .embedding import Embedding
from .normalization import LayerNorm
