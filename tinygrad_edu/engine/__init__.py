"""The engine: Tensor (tensor.py), the graph node (function.py), the primitives (ops.py),
the backward sweep (autograd.py) and NumPy-style functions (functional.py)."""
from . import functional, ops
from .function import Function, ShapeError, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .functional import *  # noqa: F401,F403
from .random import manual_seed
from .tensor import *  # noqa: F401,F403
