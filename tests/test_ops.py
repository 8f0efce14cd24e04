"""Every public differentiable op: forward against NumPy, gradcheck and gradgradcheck in float64,
over hypothesis-drawn shapes (0-d, size-1 dims, broadcasting, batched matmul)."""
import inspect

import numpy as np
import pytest
from hypothesis import given

import tinygrad_edu as tg
from tinygrad_edu.engine import composed
from tinygrad_edu.testing import check_spec, spec_inputs
from tinygrad_edu.tools.opspec import NOT_DIFFERENTIABLE, REGISTRY

SPECS = {spec.name: spec for spec in REGISTRY}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_op_gradients(name):
    spec = SPECS[name]

    @given(spec_inputs(spec))
    def run(drawn):
        arrays, extra = drawn
        check_spec(spec, arrays, extra)

    run()


def _public_ops():
    """Names of the public Tensor methods/operators and tg functions that compute something."""
    skip_methods = {
        "numpy", "item", "tolist", "detach", "requires_grad_", "retain_grad", "register_hook", "backward",
        "copy_", "zero_", "fill_", "add_", "sub_", "mul_", "div_", "__setitem__",
        "__iadd__", "__isub__", "__imul__", "__itruediv__", "data",
    }
    protocol = {"__init__", "__repr__", "__len__", "__iter__", "__array__", "__bool__", "__float__", "__int__",
                "__index__", "__hash__", "__getattribute__", "__setattr__", "__delattr__", "__init_subclass__",
                "__new__", "__reduce__", "__reduce_ex__", "__sizeof__", "__format__", "__dir__", "__str__",
                "__subclasshook__", "__class__", "__getstate__", "__array_function__", "__round__"}
    names = set()
    for attr, value in {**vars(composed.TensorOps), **vars(tg.Tensor)}.items():
        if attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__")):
            continue
        if attr in protocol or attr in skip_methods or attr in ("__slots__", "__array_ufunc__", "__doc__", "__module__",
                                                                "tensor_type", "xp"):
            continue
        if callable(value) or attr == "T":
            names.add(f"Tensor.{attr}")
    for attr in composed.__all__:
        names.add(f"tg.{attr}")
    return names


def test_every_public_op_is_in_the_registry():
    covered = {name for spec in REGISTRY for name in spec.covers}
    missing = sorted(_public_ops() - covered - NOT_DIFFERENTIABLE)
    assert not missing, f"public ops with no row in tools/opspec.py REGISTRY: {missing}"


def test_registry_names_exist():
    for spec in REGISTRY:
        for name in spec.covers:
            owner, attr = name.split(".", 1)
            assert hasattr(tg.Tensor if owner == "Tensor" else tg, attr), name


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_dtype_is_preserved(name, dtype):
    """No op silently upcasts: float32 in, float32 out (and gradients), float64 likewise."""
    spec = SPECS[name]
    from tinygrad_edu.tools.opspec import sample_inputs

    arrays, extra = sample_inputs(spec, np.random.default_rng(0), dtype)
    inputs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    out = spec.fn(*inputs, **extra)
    expected = np.float64 if name == "astype" else dtype
    assert out.dtype == expected
    out.sum().backward()
    for t in inputs:
        assert t.grad is not None and t.grad.dtype == dtype and t.grad.shape == t.shape
