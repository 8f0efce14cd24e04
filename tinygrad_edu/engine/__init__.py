"""The engine, in reading order: the Tensor (tensor.py), the graph node and grad mode
(function.py), the backward sweep (autograd.py), the events guards watch (events.py),
creation functions (creation.py); then the op definitions: the primitives (ops.py) and
everything composed from them (composed.py)."""
from . import composed, creation, events, ops
from .autograd import run_backward
from .composed import *  # noqa: F401,F403
from .creation import *  # noqa: F401,F403
from .function import Function, ShapeError, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .random import manual_seed
from .tensor import Tensor, dtype_or_default, get_default_dtype, set_default_dtype

__all__ = (["Tensor", "Function", "ShapeError", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
            "manual_seed", "set_default_dtype", "get_default_dtype"] + composed.__all__ + creation.__all__)
