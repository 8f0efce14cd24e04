"""tinygrad_edu: a small, readable autodiff framework on NumPy.

>>> import tinygrad_edu as tg
>>> x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = (x * x).sum()
>>> y.backward()
>>> x.grad
Tensor([2., 4., 6.], dtype=float32)
"""
from .engine import *  # noqa: F401,F403
from .engine import Function, ShapeError, composed, ops
from .guards import AnomalyError, detect_anomaly, grad, is_anomaly_enabled
from .tools.checkpoint import CheckpointError, load, save
from .tools.explorer import explore, render_explorer
from .tools.gradcheck import GradcheckError, gradcheck, gradgradcheck
from .tools.trace import render_trace, trace_backward
from .tools.viz import draw_graph, render_graph
from . import data, datasets, func, interop, nn, onnx, optim, reference, train, utils  # noqa: E402
from .compile import CompileError, compile  # noqa: E402

__version__ = "0.1.0"
