"""Build a small graph, run backward, and check the gradient against finite differences."""
import numpy as np

import tinygrad_edu as tg

tg.manual_seed(0)
x = tg.Tensor(np.array([[1.0, -2.0, 0.5]]), requires_grad=True, name="x")
w = tg.Tensor(np.array([[0.3], [0.1], [-0.4]]), requires_grad=True, name="w")

y = (x @ w).tanh().sum()
y.backward()

print("y      =", y.item())
print("dy/dx  =", x.grad.data)
print("dy/dw  =", w.grad.data.ravel())
print("gradcheck passes:", tg.gradcheck(lambda a, b: (a @ b).tanh(), [x, w]))
