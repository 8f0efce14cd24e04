"""Neural-network building blocks on the Tensor graph: modules, layer functions, losses, initialisers.

>>> import tinygrad_edu as tg
>>> from tinygrad_edu import nn
>>> model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3, init="xavier"))
>>> [name for name, _ in model.named_parameters()]
['0.weight', '0.bias', '2.weight', '2.bias']
"""
from . import functional, init
from .containers import ModuleList, Sequential
from .layers import (
    BatchNorm1d, BatchNorm2d, Dropout, Identity, LeakyReLU, Linear, LogSoftmax, Perceptron, ReLU, Sigmoid,
    Softmax, Tanh,
)
from .losses import (
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, MSELoss, NLLLoss, SmoothL1Loss,
)
from .mlp import ACTIVATIONS, MLP
from .module import Module, Parameter
from .conv import AvgPool1d, AvgPool2d, Conv1d, Conv2d, Flatten, MaxPool1d, MaxPool2d
from .embedding import Embedding
from .normalization import GroupNorm, LayerNorm

__all__ = [
    "functional", "init", "Module", "Parameter", "ModuleList", "Sequential",
    "Linear", "Perceptron", "ReLU", "Sigmoid", "Tanh", "LeakyReLU", "Softmax", "LogSoftmax", "Identity",
    "Dropout", "BatchNorm1d", "BatchNorm2d", "GroupNorm", "MLP", "ACTIVATIONS",
    "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCELoss", "BCEWithLogitsLoss", "HuberLoss", "SmoothL1Loss",
    "KLDivLoss",
    "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "Flatten", "LayerNorm", "Embedding",
]
