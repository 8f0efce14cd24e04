"""The habits people bring from PyTorch, NumPy and micrograd either work or fail with a clear error.

One section per part of the contract: in-place updates (A), the NumPy boundary (B),
``.data`` assignment (C), Python protocols (D), dtypes (F) and edge values (H). Where
PyTorch is the reference, the test compares with it and is skipped when it is absent.
"""
import inspect
import itertools
import operator
import warnings

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.testing import check_op


def failures(check, cases):
    """``check(case)`` for every case; the cases that fail, each with its error (so one run shows them all)."""
    failed = []
    for case in cases:
        try:
            check(case)
        except Exception as error:  # noqa: BLE001 - every failure is reported, none hidden
            failed.append((case, f"{type(error).__name__}: {str(error)[:300]}"))
    return failed


def test_the_issue_reproduction():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with tg.no_grad():
        for p in [w]:
            p -= 0.1 * p.grad
    np.testing.assert_allclose(w.data, [0.8, 1.6])

    t = tg.Tensor([1.0, 2.0], requires_grad=True)
    ((t * 2).sum() + np.dot(np.ones(2), t)).backward()
    np.testing.assert_array_equal(t.grad.data, [3.0, 3.0])

    assert tg.mean([t, t + 2]).requires_grad is True


# ---------------------------------------------------------------------------- A. in-place updates

AUGMENTED = ["-=", "+=", "*=", "/="]
NUMPY_OF = {"-=": np.subtract, "+=": np.add, "*=": np.multiply, "/=": np.divide}


def run(statement, **names):
    """Run ``statement`` (Python syntax, as a user writes it) with ``names``; returns the names afterwards."""
    exec(statement, {}, names)
    return names


@pytest.mark.parametrize("op", AUGMENTED)
def test_augmented_assignment_updates_a_parameter_in_place_under_no_grad(op):
    layer = nn.Linear(3, 2)
    weight, version, before = layer.weight, layer.weight._version, layer.weight.data.copy()
    step = tg.Tensor(np.full((3, 2), 0.5, np.float32))
    with tg.no_grad():
        run(f"layer.weight {op} step", layer=layer, step=step)
    assert layer.weight is weight and type(weight) is nn.Parameter and weight.requires_grad
    assert weight._version == version + 1
    np.testing.assert_allclose(weight.data, NUMPY_OF[op](before, 0.5))
    assert any(p is weight for p in layer.parameters())
    assert dict(layer.named_parameters())["weight"] is weight
    np.testing.assert_array_equal(np.asarray(layer.state_dict()["weight"]), weight.data)


@pytest.mark.parametrize("op", AUGMENTED)
def test_the_update_loop_over_parameters_changes_the_layer(op):
    layer = nn.Linear(2, 2)
    layer(np.ones((1, 2))).sum().backward()
    params = layer.parameters()
    expected = [NUMPY_OF[op](p.data, 0.1 * p.grad.data + 1) for p in params]
    with tg.no_grad():
        for p in layer.parameters():
            names = run(f"p {op} 0.1 * p.grad + 1", p=p)
            assert names["p"] is p
    for p, want in zip(layer.parameters(), expected):
        np.testing.assert_allclose(p.data, want, rtol=1e-6)
    assert [id(p) for p in layer.parameters()] == [id(p) for p in params]


@pytest.mark.parametrize("op", AUGMENTED)
@pytest.mark.parametrize("operand", [2.0, np.array([2.0, 4.0]), [2.0, 4.0], "tensor"])
def test_augmented_assignment_in_place_on_a_tensor_that_does_not_require_grad(op, operand):
    operand = tg.Tensor([2.0, 4.0]) if isinstance(operand, str) else operand
    t = tg.Tensor([1.0, 3.0])  # grad mode is on; t does not require grad
    version = t._version
    names = run(f"t {op} operand", t=t, operand=operand)
    assert names["t"] is t and t._version == version + 1 and t.dtype == np.float32
    np.testing.assert_allclose(t.data, NUMPY_OF[op](np.array([1.0, 3.0]), np.asarray(operand, dtype=np.float64)))


@pytest.mark.parametrize("op", AUGMENTED)
def test_augmented_assignment_on_a_leaf_requiring_grad_in_grad_mode_names_no_grad(op, request):
    layer = nn.Linear(2, 2)
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    for statement, names in ((f"w {op} 0.5", {"w": w}), (f"layer.weight {op} 0.5", {"layer": layer})):
        target = names.get("w", layer.weight)
        before, version = target.data.copy(), target._version
        with pytest.raises(RuntimeError, match=r"requires grad.*tg\.no_grad\(\)"):
            run(statement, **names)
        np.testing.assert_array_equal(target.data, before)
        assert target._version == version and target.requires_grad
    torch = request.getfixturevalue("torch")  # PyTorch refuses it too (the checks above need no PyTorch)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        run(f"w {op} 0.5", w=torch.ones(2, requires_grad=True))


def test_an_in_place_update_that_cannot_keep_the_dtype_is_refused_clearly():
    counts = tg.Tensor(np.array([1, 2]))
    with pytest.raises(TypeError, match=r"div_: .*int64.*tensor of shape \(2,\), dtype int64"):
        counts /= 2
    with pytest.raises(TypeError, match="int64"):
        counts *= 2.5
    counts += 1
    assert counts.dtype == np.int64 and counts.tolist() == [2, 3]


# ---------------------------------------------------------------------------- B. the NumPy boundary


@pytest.mark.parametrize("call", [np.asarray, np.array, lambda t: t.__array__()], ids=["asarray", "array", "__array__"])
def test_asarray_on_a_tensor_in_the_graph_raises_pointing_to_detach_numpy_and_the_tg_function(call):
    t = tg.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError) as error:
        call(t)
    message = str(error.value)
    assert ".detach()" in message and ".numpy()" in message and "tg.stack" in message and "tg.exp" in message
    with tg.no_grad():
        np.testing.assert_array_equal(call(t), [1.0, 2.0])
    np.testing.assert_array_equal(call(tg.Tensor([1.0, 2.0])), [1.0, 2.0])


A = np.array([[1.0, 2.0], [-0.5, 3.0]])
V = np.array([1.0, -2.0])
MASK = np.array([[True, False], [False, True]])
# (the NumPy call, the tinygrad_edu call it stands for); each is called as f(t, A)
DISPATCHED = {
    "np.exp": (lambda t, a: np.exp(t), lambda t, a: t.exp()),
    "np.add(t, A)": (lambda t, a: np.add(t, a), lambda t, a: t + a),
    "np.add(A, t)": (lambda t, a: np.add(a, t), lambda t, a: a + t),
    "A + t": (lambda t, a: a + t, lambda t, a: t + a),
    "A - t": (lambda t, a: a - t, lambda t, a: -t + a),
    "A * t": (lambda t, a: a * t, lambda t, a: t * a),
    "A / t": (lambda t, a: a / t, lambda t, a: a * t ** -1.0),
    "np.subtract(A, t)": (lambda t, a: np.subtract(a, t), lambda t, a: -t + a),
    "np.multiply(A, t)": (lambda t, a: np.multiply(a, t), lambda t, a: t * a),
    "np.divide(t, A)": (lambda t, a: np.divide(t, a), lambda t, a: t / a),
    "np.power(t, 3)": (lambda t, a: np.power(t, 3), lambda t, a: t * t * t),
    "np.negative": (lambda t, a: np.negative(t), lambda t, a: -t),
    "np.abs": (lambda t, a: np.abs(t), lambda t, a: t.abs()),
    "np.log(np.abs)": (lambda t, a: np.log(np.abs(t)), lambda t, a: t.abs().log()),
    "np.sqrt(np.abs)": (lambda t, a: np.sqrt(np.abs(t)), lambda t, a: t.abs() ** 0.5),
    "np.tanh": (lambda t, a: np.tanh(t), lambda t, a: t.tanh()),
    "np.sin": (lambda t, a: np.sin(t), lambda t, a: t.sin()),
    "np.cos": (lambda t, a: np.cos(t), lambda t, a: t.cos()),
    "np.dot(V, t)": (lambda t, a: np.dot(V, t), lambda t, a: tg.Tensor(V) @ t),
    "np.dot(t, V)": (lambda t, a: np.dot(t, V), lambda t, a: t @ V),
    "np.dot(A, t)": (lambda t, a: np.dot(a, t), lambda t, a: a @ t),
    "np.matmul(t, A)": (lambda t, a: np.matmul(t, a), lambda t, a: t @ a),
    "np.matmul(A, t)": (lambda t, a: np.matmul(a, t), lambda t, a: a @ t),
    "A @ t": (lambda t, a: a @ t, lambda t, a: a @ t),
    "np.sum": (lambda t, a: np.sum(t), lambda t, a: t.sum()),
    "np.sum(axis=0, keepdims)": (lambda t, a: np.sum(t, axis=0, keepdims=True), lambda t, a: t.sum(0, True)),
    "np.mean": (lambda t, a: np.mean(t), lambda t, a: t.sum() / 4),
    "np.mean(axis=1)": (lambda t, a: np.mean(t, axis=1), lambda t, a: t.sum(1) / 2),
    "np.max(axis=1)": (lambda t, a: np.max(t, axis=1), lambda t, a: t.max(1)),
    "np.min": (lambda t, a: np.min(t), lambda t, a: t.min()),
    "np.var(axis=0)": (lambda t, a: np.var(t, axis=0), lambda t, a: t.var(axis=0)),
    "np.std(ddof=1)": (lambda t, a: np.std(t, ddof=1), lambda t, a: t.std(ddof=1)),
    "np.maximum(t, 0)": (lambda t, a: np.maximum(t, 0.0), lambda t, a: t.relu()),
    "np.maximum(A, t)": (lambda t, a: np.maximum(a, t), lambda t, a: tg.maximum(t, a)),
    "np.minimum(t, A)": (lambda t, a: np.minimum(t, a), lambda t, a: tg.minimum(a, t)),
    "np.clip": (lambda t, a: np.clip(t, -1.0, 1.0), lambda t, a: t.clip(-1.0, 1.0)),
    "np.where(MASK, t, A)": (lambda t, a: np.where(MASK, t, a), lambda t, a: t * MASK + a * ~MASK),
    "np.where(MASK, A, t)": (lambda t, a: np.where(MASK, a, t), lambda t, a: a * MASK + t * ~MASK),
    "np.concatenate([t, A])": (lambda t, a: np.concatenate([t, a]), lambda t, a: tg.concatenate([t, a])),
    "np.concatenate([A, t], axis=1)": (lambda t, a: np.concatenate([a, t], axis=1),
                                       lambda t, a: tg.concatenate([a, t], axis=1)),
    "np.concatenate(axis=None)": (lambda t, a: np.concatenate((t, a), axis=None),
                                  lambda t, a: tg.concatenate([t.reshape(-1), a.reshape(-1)])),
    "np.stack([t, A])": (lambda t, a: np.stack([t, a]), lambda t, a: tg.stack([t, a])),
    "np.stack(axis=-1)": (lambda t, a: np.stack([a, t], axis=-1), lambda t, a: tg.stack([a, t], axis=2)),
    "np.reshape": (lambda t, a: np.reshape(t, (4,)), lambda t, a: t.reshape(4)),
    "np.transpose": (lambda t, a: np.transpose(t), lambda t, a: t.T),
    "np.transpose(t, axes)": (lambda t, a: np.transpose(t, (1, 0)), lambda t, a: t.T),
    "np.swapaxes": (lambda t, a: np.swapaxes(t, 0, 1), lambda t, a: t.T),
    "np.expand_dims": (lambda t, a: np.expand_dims(t, 0), lambda t, a: t.reshape(1, 2, 2)),
    "np.squeeze": (lambda t, a: np.squeeze(np.expand_dims(t, 0)), lambda t, a: t * 1),
    "np.broadcast_to": (lambda t, a: np.broadcast_to(t, (3, 2, 2)), lambda t, a: tg.stack([t, t, t])),
    "np.pad": (lambda t, a: np.pad(t, 1), lambda t, a: t.pad(1)),
    "np.round": (lambda t, a: np.round(t), lambda t, a: t.round()),
    "np.sign": (lambda t, a: np.sign(t), lambda t, a: t.sign()),
}


def test_numpy_ufuncs_and_functions_on_tensors_dispatch_to_the_tg_op():
    assert not failures(_check_dispatched, DISPATCHED)


def _check_dispatched(name):
    """The NumPy call on a tensor gives NumPy's values and the gradient of the tinygrad_edu call it stands for."""
    numpy_call, tg_call = DISPATCHED[name]
    values = np.array([[0.5, -1.5], [2.0, 0.25]])
    t = tg.Tensor(values, requires_grad=True)
    out = numpy_call(t, A)
    assert isinstance(out, tg.Tensor) and out.requires_grad, f"{name} left the graph"
    np.testing.assert_allclose(out.data, numpy_call(values, A), rtol=1e-12)
    upstream = np.random.default_rng(0).standard_normal(out.shape)
    (out * upstream).sum().backward()
    reference = tg.Tensor(values, requires_grad=True)
    (tg_call(reference, A) * upstream).sum().backward()
    np.testing.assert_allclose(t.grad.data, reference.grad.data, rtol=1e-12)


def test_every_numpy_ufunc_named_like_a_tg_function_dispatches_to_it():
    from tinygrad_edu.engine import composed

    ufuncs = [name for name in composed.__all__ if isinstance(getattr(np, name, None), np.ufunc)]
    assert len(ufuncs) >= 15, ufuncs
    values = np.array([0.5, 1.5, 2.0])
    for name in ufuncs:
        t = tg.Tensor(values, requires_grad=True)
        ufunc = getattr(np, name)
        args = (t,) + (np.array([2.0, 0.5, 1.0]),) * (ufunc.nin - 1)
        out = ufunc(*args)
        expected = getattr(tg, name)(*args)
        assert isinstance(out, tg.Tensor) and out.requires_grad == expected.requires_grad, name
        np.testing.assert_array_equal(out.data, expected.data)


@pytest.mark.parametrize("call, named", [
    (lambda t: np.sort(t), r"np\.sort .*no counterpart"),
    (lambda t: np.median(t), r"np\.median .*no counterpart"),
    (lambda t: np.diff(t), r"np\.diff .*no counterpart"),
    (lambda t: np.add.reduce(t), r"np\.add\.reduce "),
    (lambda t: np.exp(t, out=np.empty(2)), r"np\.exp .*call tg\.exp\(\.\.\.\) without out="),
    (lambda t: np.add(t, 1.0, dtype=np.float64), r"np\.add .*call tg\.add\(\.\.\.\) without dtype="),
    (lambda t: np.sum([t, t]), r"np\.asarray\(\).*tg\.stack"),
])
def test_numpy_calls_that_would_leave_the_graph_raise_naming_the_call(call, named):
    t = tg.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=named) as error:
        call(t)
    assert ".detach().numpy()" in str(error.value)
    with tg.no_grad():
        call(t)  # outside grad mode nothing can be dropped: NumPy computes on the values


def test_numpy_functions_whose_results_have_no_gradient_work_on_tensors_in_the_graph():
    t = tg.Tensor([3.0, 1.0, 2.0], requires_grad=True)
    assert np.allclose(t, [3.0, 1.0, 2.0]) and np.array_equal(t, t) and np.shape(t) == (3,)
    assert int(np.argmax(t)) == 0 and np.argsort(t).tolist() == [1, 2, 0]
    assert bool((t > 0).all()) and not bool((t > 2).all()) and bool(np.any(t > 2))


# A value for each parameter a tg function may need besides the list under test (by parameter name),
# and the few that need another value for one function.
ARGUMENTS = {"x": np.full(2, 1.5), "y": 2.0, "condition": np.array([True, False]), "dtype": np.float64,
             "shape": (3, 2, 2), "axes": (1, 0), "axis": -1, "axis1": 0, "axis2": 1, "pad_width": 1, "lo": 0.0,
             "decimals": 1, "alpha": 0.1, "start_axis": 0, "fill_value": 1.0, "indices_or_sections": 2,
             "subscripts": "i,i", "operands": np.full(2, 0.5), "other": np.full(2, 2.0), "index": np.array([0, 1]),
             "source": np.ones(2), "destination": -1, "repeats": 2, "shift": 1, "src": np.ones(2),
             "indices": np.array([0, 1]), "reps": 2}
OVERRIDES = {"dot": {"y": np.ones(2)}, "matmul": {"y": np.ones(2)}, "squeeze": {"axis": None},
             "reshape": {"shape": (4,)}, "moveaxis": {"source": 0}, "index_add": {"axis": 0},
             "scatter_add": {"axis": 0, "index": np.array([[0, 1], [1, 0]]), "src": np.ones((2, 2))},
             "take_along_axis": {"axis": 0, "indices": np.array([[0, 1], [1, 0]])}, "tensordot": {"y": np.ones(2), "axes": 1},
             "index_add": {"axis": 0, "source": np.ones((2, 2))}}


def _parameters(name):
    """The parameters of ``tg.<name>``; one that is a Tensor method's alias takes the tensor as ``x``."""
    from tinygrad_edu.engine import composed

    if name not in composed.ALIASES:
        return list(inspect.signature(getattr(tg, name)).parameters.values())
    method = list(inspect.signature(getattr(composed.TensorOps, name)).parameters.values())
    return [inspect.Parameter("x", inspect.Parameter.POSITIONAL_OR_KEYWORD)] + method[1:]


def _call(name, parameters, position, value):
    args, kwargs = [], {}
    for i, p in enumerate(parameters):
        given = value if i == position else OVERRIDES.get(name, {}).get(p.name, ARGUMENTS.get(p.name, p.default))
        assert given is not inspect.Parameter.empty, f"tg.{name}: add a test value for parameter {p.name!r}"
        if p.kind is p.VAR_POSITIONAL:
            args.append(given)
        elif p.kind is p.KEYWORD_ONLY or (i > position and p.default is not inspect.Parameter.empty):
            kwargs[p.name] = given
        elif p.kind is not p.VAR_KEYWORD:
            args.append(given)
    return getattr(tg, name)(*args, **kwargs)


@pytest.mark.parametrize("container", [list, tuple])
def test_every_tg_function_given_a_list_holding_tensors_keeps_them_on_the_graph_or_raises(container):
    from tinygrad_edu.engine import composed, creation

    functions = [(name, True) for name in composed.__all__] + [(name, False) for name in creation.__all__]
    assert len(functions) > 50
    for name, from_the_engine in functions:
        _check_a_list_holding_tensors(name, from_the_engine, container)


def _check_a_list_holding_tensors(name, from_the_engine, container):
    """The list goes where data goes: each data argument of an op, the first argument of a creation function.

    The result must equal the function of the stacked tensors, gradient included; or the call raises."""
    parameters = _parameters(name)
    positions = [i for i, p in enumerate(parameters) if p.name in ("x", "y", "tensors", "condition")]
    for position in positions if from_the_engine else [0]:
        t = tg.Tensor([0.5, 1.5], requires_grad=True)
        held = container([t, t * 2])
        try:
            out = _call(name, parameters, position, held)
        except (TypeError, ValueError) as error:
            assert not from_the_engine or parameters[position].name == "condition", f"tg.{name}: {error}"
            assert str(error), f"tg.{name} raised without a message"
            continue
        stacked = tg.Tensor([0.5, 1.5], requires_grad=True)
        expected = _call(name, parameters, position, tg.stack([stacked, stacked * 2]))
        pieces, expected_pieces = _pieces(out), _pieces(expected)  # split and friends return several tensors
        assert len(pieces) == len(expected_pieces), name
        for piece, want in zip(pieces, expected_pieces):
            assert isinstance(piece, tg.Tensor) and piece.shape == want.shape, name
            np.testing.assert_allclose(piece.data, want.data, rtol=1e-6)
        if expected_pieces[0].dtype.kind != "f":  # an index or a truth value: no gradient to keep
            assert not any(piece.requires_grad for piece in pieces)
            continue
        assert all(piece.requires_grad for piece in pieces), f"tg.{name} dropped the list's tensors from the graph"
        rng = np.random.default_rng(0)
        upstreams = [rng.standard_normal(piece.shape) for piece in pieces]
        sum((piece * u).sum() for piece, u in zip(pieces, upstreams)).backward()
        sum((want * u).sum() for want, u in zip(expected_pieces, upstreams)).backward()
        np.testing.assert_allclose(t.grad.data, stacked.grad.data, rtol=1e-6)


def _pieces(result):
    return list(result) if isinstance(result, (list, tuple)) else [result]


def test_nested_lists_of_tensors_are_stacked_in_turn():
    t = tg.Tensor([1.0, 2.0], requires_grad=True)
    out = tg.sum([[t, t * 2], [t * 3, [5.0, 6.0]]])
    assert out.requires_grad and out.item() == pytest.approx(3 + 6 + 9 + 11)
    out.backward()
    np.testing.assert_array_equal(t.grad.data, [6.0, 6.0])


# ---------------------------------------------------------------------------- C. .data assignment


def test_data_assignment_keeps_the_dtype_and_stores_an_ndarray():
    t = tg.Tensor([1.0, 2.0], requires_grad=True)
    t.data = np.array([3.0, 4.0])  # float64 values into a float32 tensor
    assert type(t.data) is np.ndarray and t.dtype == np.float32 and t.tolist() == [3.0, 4.0] and t.requires_grad
    source = tg.Tensor([5.0, 6.0])
    t.data = source  # a Tensor gives its array
    assert type(t.data) is np.ndarray and np.shares_memory(t.data, source.data)
    t.data = tg.Tensor(np.array([7.0, 8.0]))  # a float64 tensor's values, converted
    assert t.dtype == np.float32 and t.tolist() == [7.0, 8.0]
    t.data = [1, 2, 3]  # a list: converted to the tensor's dtype (the shape may change, as in PyTorch)
    assert t.dtype == np.float32 and t.shape == (3,) and t.tolist() == [1.0, 2.0, 3.0]
    counts = tg.Tensor(np.array([1, 2]))
    counts.data = [3.0, 4.0]  # whole numbers fit an integer tensor
    assert counts.dtype == np.int64 and counts.tolist() == [3, 4]
    mask = tg.Tensor(np.array([True, False]))
    mask.data = [0, 1]
    assert mask.dtype == bool and mask.tolist() == [False, True]


@pytest.mark.parametrize("value", ["abc", None, object(), {"a": 1}, [1.0, [2.0, 3.0]], [1.0, "x"], 1 + 2j,
                                   np.array(["a"])],
                         ids=["str", "None", "object", "dict", "ragged", "list-with-str", "complex", "str-array"])
def test_data_assignment_refuses_what_is_not_numbers(value):
    t = tg.Tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"\.data: cannot store .* as float32"):
        t.data = value
    assert t.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("dtype, values", [(np.int64, [1.5, 2.0]), (np.int64, [np.nan]), (np.int8, [300]),
                                           (bool, [2]), (np.uint8, np.array([-1]))])
def test_data_assignment_refuses_values_an_integer_tensor_would_change(dtype, values):
    t = tg.Tensor(np.zeros(1, dtype=dtype))
    with pytest.raises(ValueError, match=rf"\.data: .*change when stored as {np.dtype(dtype)} "):
        t.data = values
    assert t.tolist() == np.zeros(1, dtype=dtype).tolist()


# ---------------------------------------------------------------------------- D. Python protocols

ONE_ELEMENT = [((), np.float32), ((1,), np.float32), ((1, 1), np.float64), ((), np.int64), ((1,), np.int64),
               ((), bool), ((1,), bool)]


def test_format_spec_works_for_a_one_element_loss():
    x = tg.Tensor([[0.3, -1.2]], requires_grad=True)
    loss = (x * x).mean()
    assert f"{loss:.4f}" == f"{loss.item():.4f}" == "0.7650"
    assert f"{loss.reshape(1):>8.2f}" == f"{loss.item():>8.2f}" and f"{loss.reshape(1, 1):.1e}" == "7.7e-01"
    assert f"{tg.Tensor(np.array([7])):d}" == "7"
    with pytest.raises(TypeError, match=r"'\.4f' needs a tensor with one element, got shape \(1, 2\)"):
        f"{x:.4f}"


def test_abs_matches_numpy_and_pytorch(request):
    values = np.array([-2.0, 0.0, 3.5])
    t = tg.Tensor(values, requires_grad=True)
    out = abs(t)
    assert isinstance(out, tg.Tensor) and out.grad_fn is not None
    out.sum().backward()
    np.testing.assert_array_equal(out.data, np.abs(values))
    torch = request.getfixturevalue("torch")  # the checks above need no PyTorch
    reference = torch.tensor(values, requires_grad=True)
    abs(reference).sum().backward()
    np.testing.assert_array_equal(t.grad.data, reference.grad.numpy())


def test_round_float_int_bool_of_one_element_give_python_numbers_as_pytorch(request):
    arrays = [np.full(shape, value).astype(dtype) for shape, dtype in ONE_ELEMENT for value in (-2.7, 0.0, 2.5, 3.2)]
    for array in arrays:
        t, value = tg.Tensor(array), array.item()
        assert round(t) == round(value) and type(round(t)) is int, array  # round(): Python's, half to even
        assert round(t, 1) == round(value, 1) and type(round(t, 1)) is type(round(value, 1)), array
        for convert in (float, int, bool):
            assert convert(t) == convert(value) and type(convert(t)) is convert, (convert, array)
    loss = tg.Tensor(2.5678, requires_grad=True) * 1
    assert round(loss) == 3 and round(loss, 2) == 2.57 and type(round(loss, 2)) is float
    with pytest.raises(ValueError, match=r"round\(\): .* use t\.round\(decimals\) to round each element"):
        round(tg.Tensor([1.25, 2.5]))
    np.testing.assert_array_equal(tg.Tensor([1.25, 2.5]).round(1).data, np.round(np.float32([1.25, 2.5]), 1))
    # PyTorch has no round() for tensors (a TypeError); float, int and bool agree with it
    torch = request.getfixturevalue("torch")
    for array in arrays:
        for convert in (float, int, bool):
            assert convert(tg.Tensor(array)) == convert(torch.from_numpy(array)), (convert, array)


@pytest.mark.parametrize("shape", [(2,), (0,), (2, 1)])
@pytest.mark.parametrize("convert", [float, int, bool, round])
def test_python_conversions_of_several_or_no_elements_raise_clearly(shape, convert):
    t = tg.Tensor(np.ones(shape))
    with pytest.raises(ValueError, match=rf"{convert.__name__}\(\): .* {int(np.prod(shape))} elements"):
        convert(t)


def test_the_ambiguity_message_names_reductions_that_exist():
    t = tg.Tensor([0.0, 1.0])
    with pytest.raises(ValueError, match=r"\.any\(\), \.all\(\), \.sum\(\)"):
        bool(t)
    assert bool(t.any()) and not bool(t.all()) and bool(t.sum())
    np.testing.assert_array_equal(tg.Tensor([[1, 0], [1, 1]]).all(axis=1).data, [False, True])


# ---------------------------------------------------------------------------- F. dtypes as in PyTorch

DTYPES = [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64]
OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "**": operator.pow,
             "@": operator.matmul}
# tg function -> PyTorch's name for it
FUNCTIONS = {"add": "add", "subtract": "subtract", "multiply": "multiply", "divide": "divide", "power": "pow",
             "maximum": "maximum", "minimum": "minimum", "matmul": "matmul", "dot": "dot", "where": "where"}


def _binary_ops(torch):
    """label -> (the op on two tinygrad_edu operands, the same op in PyTorch)."""
    pairs = {label: (fn, fn) for label, fn in OPERATORS.items()}
    pairs.update({f"tg.{name}": (getattr(tg, name), getattr(torch, theirs)) for name, theirs in FUNCTIONS.items()})
    pairs["tg.where"] = (lambda x, y: tg.where(np.array([True, False]), x, y),
                         lambda x, y: torch.where(torch.tensor([True, False]), x, y))
    return pairs


def _result_dtype(fn, x, y):
    try:
        return str(fn(x, y).dtype).replace("torch.", "")
    except (TypeError, ValueError, RuntimeError):  # PyTorch has no kernel for some pairs (bool - bool, ...)
        return None


def test_every_binary_op_promotes_dtypes_as_pytorch_in_both_orders(torch):
    mismatches = []
    for label, (fn, torch_fn) in _binary_ops(torch).items():
        for da, db in itertools.product(DTYPES, DTYPES):
            a, b = np.array([1, 2]).astype(da), np.array([1, 3]).astype(db)
            expected = _result_dtype(torch_fn, torch.from_numpy(a), torch.from_numpy(b))
            got = _result_dtype(fn, tg.Tensor(a), tg.Tensor(b))
            if expected is not None and got != expected:
                mismatches.append((label, a.dtype.name, b.dtype.name, got, expected))
        if label in ("@", "tg.matmul", "tg.dot"):
            continue
        for dtype, number in itertools.product(DTYPES, (True, 2, 2.5)):
            a = np.array([1, 2]).astype(dtype)
            for order, (x, y, tx, ty) in enumerate(((tg.Tensor(a), number, torch.from_numpy(a), number),
                                                    (number, tg.Tensor(a), number, torch.from_numpy(a)))):
                expected, got = _result_dtype(torch_fn, tx, ty), _result_dtype(fn, x, y)
                if expected is not None and got != expected:
                    mismatches.append((label, a.dtype.name, repr(number), ("tensor first", "number first")[order],
                                       got, expected))
    assert not mismatches, mismatches[:20]


def test_the_dtype_rules():
    f32, f64, i32, i64 = (tg.Tensor(np.ones(2, d)) for d in (np.float32, np.float64, np.int32, np.int64))
    flags = tg.Tensor(np.array([True, False]))
    assert (i64 * f32).dtype == (f32 * i64).dtype == np.float32  # the issue's example: not float64
    assert (flags + f32).dtype == np.float32 and (i32 - f64).dtype == np.float64
    assert (f32 + f64).dtype == (f64 * f32).dtype == np.float64
    assert (i64 / i64).dtype == (i32 / 2).dtype == (3 / i32).dtype == np.float32
    assert (i64 + 2.5).dtype == np.float32 and (f32 * 2.5).dtype == np.float32 and (2 * i32).dtype == np.int32
    assert (flags + True).dtype == bool and (flags + 2).dtype == np.int64 and (flags ** True).dtype == bool
    assert (f32 + np.float64(1.5)).dtype == np.float32  # a NumPy scalar is weak, as a Python one
    assert (i64 + [0.5, 1.5]).dtype == np.float32 and (f32 + np.ones(2)).dtype == np.float32
    tg.set_default_dtype(np.float64)
    assert (i64 / i64).dtype == (i64 * 0.5).dtype == (i64 + [0.5, 1.5]).dtype == np.float64
    assert (i64 * f32).dtype == np.float32


def _layers(dtype=None):
    """Every layer with parameters (and models built of them), with an input shape it takes."""
    tg.manual_seed(0)
    return {
        "Linear": (nn.Linear(3, 2, dtype=dtype), (4, 3)),
        "Perceptron": (nn.Perceptron(3, dtype=dtype), (4, 3)),
        "Conv2d": (nn.Conv2d(1, 2, 2, dtype=dtype), (2, 1, 4, 4)),
        "Conv1d": (nn.Conv1d(2, 2, 3, groups=2, dtype=dtype), (2, 2, 5)),
        "LayerNorm": (nn.LayerNorm(3, dtype=dtype), (4, 3)),
        "BatchNorm1d": (nn.BatchNorm1d(3, dtype=dtype), (4, 3)),
        "BatchNorm2d": (nn.BatchNorm2d(2, dtype=dtype), (2, 2, 3, 3)),
        "GroupNorm": (nn.GroupNorm(2, 4, dtype=dtype), (2, 4, 3)),
        "MLP": (nn.MLP([3, 4, 2], dtype=dtype), (4, 3)),
        "MLP.logits": (nn.MLP([3, 4, 2], dtype=dtype).logits, (4, 3)),
        "Sequential": (nn.Sequential(nn.Linear(3, 4, dtype=dtype), nn.ReLU(), nn.BatchNorm1d(4, dtype=dtype)), (4, 3)),
    }


def test_a_float32_layer_casts_plain_data_and_refuses_a_float64_tensor():
    def check(item):
        name, (layer, shape) = item
        values = np.random.default_rng(0).standard_normal(shape)
        for data in (values, values.tolist(), np.round(values * 3).astype(np.int64),
                     tg.Tensor(values.astype(np.float32)), tg.Tensor(np.round(values).astype(np.int64))):
            assert layer(data).dtype == np.float32, type(data)
        with pytest.raises(TypeError, match=r"float64 but the layer's parameters are float32"):
            layer(tg.Tensor(values, requires_grad=True))

    assert not failures(check, _layers().items())
    table = nn.Embedding(5, 3)  # an embedding returns rows of its table, in the table's dtype
    for ids in (np.array([1, 4]), [1, 4], tg.Tensor(np.array([1, 4])), np.array([1, 4], dtype=np.int32)):
        assert table(ids).dtype == np.float32


def test_a_float64_layer_casts_float32_data_and_refuses_a_float32_tensor():
    def check(item):
        name, (layer, shape) = item
        values = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        assert layer(values).dtype == np.float64
        with pytest.raises(TypeError, match="float32 but the layer's parameters are float64"):
            layer(tg.Tensor(values))

    assert not failures(check, _layers(np.float64).items())
    tg.set_default_dtype(np.float64)
    assert nn.Embedding(5, 3)(np.array([0])).dtype == np.float64


# ---------------------------------------------------------------------------- H. edge values as PyTorch gives them

POW_POINTS = [0.0, 1.0, -1.0, 2.0, 0.5, -0.5, 3.0]


def _pow_gradients(x, y, variable=(True, True)):
    xt = tg.Tensor(np.float64(x), requires_grad=True) if variable[0] else x
    yt = tg.Tensor(np.float64(y), requires_grad=True) if variable[1] else y
    out = xt ** yt
    out.backward()
    return [out.item()] + [v.grad.item() for v in (xt, yt) if isinstance(v, tg.Tensor)]


def test_pow_gradients_at_zero_as_pytorch_chooses():
    with np.errstate(all="ignore"):
        assert _pow_gradients(0.0, 0.0) == [1.0, 0.0, 0.0]  # x ** 0 at 0: dx = 0, dy = 0
        assert _pow_gradients(0.0, 2.0) == [0.0, 0.0, 0.0]  # 0 ** y: dy = 0
        assert _pow_gradients(0.0, 1.0) == [0.0, 1.0, 0.0]
        assert _pow_gradients(0.0, 0.5) == [0.0, np.inf, 0.0]
        assert _pow_gradients(0.0, -1.0) == [np.inf, -np.inf, -np.inf]
        assert _pow_gradients(0.0, 0.0, (True, False)) == [1.0, 0.0]  # x ** 0 with a constant exponent
        assert _pow_gradients(0.0, 3.0, (False, True)) == [0.0, 0.0]  # 0 ** y with a constant base


def test_pow_gradients_match_pytorch_on_a_grid_through_zero(torch):
    mismatches = []
    for x, y, variable in itertools.product(POW_POINTS, POW_POINTS, [(True, True), (True, False), (False, True)]):
        xt = torch.tensor(x, dtype=torch.float64, requires_grad=True) if variable[0] else x
        yt = torch.tensor(y, dtype=torch.float64, requires_grad=True) if variable[1] else y
        out = xt ** yt
        out.backward()
        expected = [out.item()] + [v.grad.item() for v in (xt, yt) if isinstance(v, torch.Tensor)]
        with np.errstate(all="ignore"):
            got = _pow_gradients(x, y, variable)
        if not np.allclose(got, expected, equal_nan=True, rtol=1e-12):
            mismatches.append((x, y, variable, got, expected))
    assert not mismatches, mismatches


LENGTH_ONE = [((3, 1), 1), ((1, 3), 0), ((1,), 0), ((1,), None), ((2, 1, 3), (1,)), ((1, 1), (0, 1)), ((1, 2), -2)]
SPREAD = [(name, ddof, keepdims, shape, axis) for name in ("std", "var") for ddof in (0, 1) for keepdims in (False, True)
          for shape, axis in LENGTH_ONE]


def _spread(name, ddof, keepdims, shape, axis):
    """``name`` (std or var) of 1, 2, ... in ``shape`` over ``axis``, summed and swept back: (value, gradient)."""
    t = tg.Tensor(np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape), requires_grad=True)
    with np.errstate(all="ignore"):
        out = getattr(t, name)(axis=axis, ddof=ddof, keepdims=keepdims)
        out.sum().backward()
    return out.data, t.grad.data


def test_std_and_var_over_an_axis_of_length_one_give_pytorchs_values_and_gradients():
    def check(case):
        name, ddof, keepdims, shape, axis = case
        value, grad = _spread(*case)
        # PyTorch's: the value is 0 for ddof=0 and nan for ddof=1; the gradient 0 (sqrt's at 0 taken as 0), resp. nan
        expected = np.full(np.sum(np.ones(shape), axis=axis, keepdims=keepdims).shape, 0.0 if ddof == 0 else np.nan)
        np.testing.assert_array_equal(value, expected)
        np.testing.assert_array_equal(grad, np.full(shape, 0.0 if ddof == 0 else np.nan))

    assert not failures(check, SPREAD)


def test_std_and_var_over_an_axis_of_length_one_as_pytorch_computes_them(torch):
    def check(case):
        name, ddof, keepdims, shape, axis = case
        reference = torch.tensor(np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape), requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyTorch warns that ddof=1 leaves no degrees of freedom
            result = getattr(reference, name)(dim=tuple(range(len(shape))) if axis is None else axis,
                                              correction=ddof, keepdim=keepdims)
        result.sum().backward()
        value, grad = _spread(*case)
        np.testing.assert_array_equal(value, result.detach().numpy())
        np.testing.assert_array_equal(grad, reference.grad.numpy())

    assert not failures(check, SPREAD)


def test_std_gradient_is_zero_where_all_values_are_equal_and_exact_elsewhere(request):
    t = tg.Tensor(np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]]), requires_grad=True)
    t.std(axis=1).sum().backward()
    assert np.all(t.grad.data[0] == 0.0) and np.all(np.isfinite(t.grad.data))
    check_op(lambda x: x.std(axis=1, ddof=1), np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]]),
             np_fn=lambda a: np.std(a, axis=1, ddof=1))
    torch = request.getfixturevalue("torch")  # the checks above need no PyTorch
    reference = torch.tensor(t.data, requires_grad=True)
    reference.std(dim=1, correction=0).sum().backward()
    np.testing.assert_allclose(t.grad.data, reference.grad.numpy(), rtol=1e-12)


INT64 = np.iinfo(np.int64)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.uint64, bool])
def test_min_max_minimum_maximum_are_exact_on_integers_and_bools(dtype):
    info = np.iinfo(dtype) if dtype is not bool else None
    low, high = (info.min, info.max) if info else (False, True)
    a = np.array([[low, high, 1], [high, low + 1 if info else low, 0]], dtype=dtype)
    b = np.array([[high, low, 0], [low, high, 1]], dtype=dtype)
    ta, tb = tg.Tensor(a), tg.Tensor(b)
    for axis in (None, 0, 1, (0, 1), -1):
        for method in ("min", "max"):
            out = getattr(ta, method)(axis=axis)
            expected = getattr(np, method)(a, axis=axis)
            assert out.dtype == a.dtype and np.array_equal(out.data, expected), (method, axis)
    for function in ("minimum", "maximum"):
        out = getattr(tg, function)(ta, tb)
        assert out.dtype == a.dtype and np.array_equal(out.data, getattr(np, function)(a, b)), function
        assert np.array_equal(getattr(np, function)(ta, tb).data, getattr(np, function)(a, b))


def test_the_int64_extremes_survive_min_and_minimum():
    t = tg.Tensor(np.array([INT64.min, 0, INT64.max]))
    assert t.min().item() == INT64.min and t.max().item() == INT64.max
    assert tg.minimum(t, 0).tolist() == [INT64.min, 0, 0] and tg.maximum(t, 0).tolist() == [0, 0, INT64.max]


def _logsumexp(x, axis):
    peak = np.max(x, axis=axis, keepdims=True, initial=-np.inf)  # -inf over an empty axis
    peak = np.where(np.isfinite(peak), peak, 0.0)
    return np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak


SOFTMAX_FAMILY = {
    "softmax": lambda x, axis: np.exp(x - _logsumexp(x, axis)),
    "log_softmax": lambda x, axis: x - _logsumexp(x, axis),
    "logsumexp": lambda x, axis: np.squeeze(_logsumexp(x, axis), axis=axis),
}
AXES = [None, (0, 2), (2, 0), (1,), (-1, 0), (0, 1, 2), -2]


VALUES = np.random.default_rng(1).standard_normal((2, 3, 2)) * 3


def _as_tuple(axis):
    return axis if axis is None or isinstance(axis, tuple) else (axis,)


def test_softmax_family_over_all_axes_and_tuples_of_axes():
    """Values against NumPy, gradients (and second derivatives) against finite differences."""
    def check(case):
        name, axis = case
        check_op(lambda x: getattr(x, name)(axis=axis), VALUES,
                 np_fn=lambda a: SOFTMAX_FAMILY[name](a, _as_tuple(axis)))

    assert not failures(check, itertools.product(SOFTMAX_FAMILY, AXES))


def test_softmax_family_over_all_axes_and_tuples_of_axes_as_pytorch(torch):
    def check(case):
        name, axis = case
        dims = tuple(range(3)) if axis is None else _as_tuple(axis)
        reference = torch.tensor(VALUES, requires_grad=True)
        shifted = reference - torch.logsumexp(reference, dim=dims, keepdim=True)
        result = {"softmax": shifted.exp(), "log_softmax": shifted,
                  "logsumexp": torch.logsumexp(reference, dim=dims)}[name]
        upstream = np.random.default_rng(2).standard_normal(tuple(result.shape))
        (result * torch.tensor(upstream)).sum().backward()
        t = tg.Tensor(VALUES, requires_grad=True)
        out = getattr(t, name)(axis=axis)
        (out * upstream).sum().backward()
        np.testing.assert_allclose(out.data, result.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(t.grad.data, reference.grad.numpy(), rtol=1e-10, atol=1e-12)

    assert not failures(check, itertools.product(SOFTMAX_FAMILY, AXES))


def test_softmax_family_of_an_empty_array():
    def check(case):
        name, axis, shape = case
        t = tg.Tensor(np.zeros(shape), requires_grad=True)
        with np.errstate(divide="ignore"):
            expected = SOFTMAX_FAMILY[name](np.zeros(shape), _as_tuple(axis))
            out = getattr(t, name)(axis=axis)
            out.sum().backward()  # logsumexp over an empty axis: log(0) = -inf, whose backward divides by 0
        assert out.shape == expected.shape and np.array_equal(out.data, expected)
        assert t.grad.shape == shape and np.all(t.grad.data == 0)

    assert not failures(check, itertools.product(SOFTMAX_FAMILY, [-1, None, 0], [(0,), (0, 3), (3, 0), (2, 0, 3)]))


def _transposed_by_loops(x, axes):
    """out[i_0, ..., i_n] = x[j] with j[axes[k]] = i_k, element by element."""
    axes = [a % x.ndim for a in axes]
    out = np.empty([x.shape[a] for a in axes])
    for index in itertools.product(*map(range, out.shape)):
        source = [0] * x.ndim
        for k, a in enumerate(axes):
            source[a] = index[k]
        out[index] = x[tuple(source)]
    return out


def test_transpose_with_negative_axes_matches_a_loop_reference():
    x = np.arange(24.0).reshape(2, 3, 4)
    upstream = np.random.default_rng(0).standard_normal((4, 3, 2))
    for permutation in itertools.permutations(range(3)):
        for negative in itertools.product([False, True], repeat=3):
            axes = tuple(a - 3 if n else a for a, n in zip(permutation, negative))
            t = tg.Tensor(x, requires_grad=True)
            out = t.transpose(axes)
            np.testing.assert_array_equal(out.data, _transposed_by_loops(x, axes))
            g = upstream.reshape(out.shape)
            (out * g).sum().backward()
            inverse = tuple(int(i) for i in np.argsort([a % 3 for a in axes]))
            np.testing.assert_array_equal(t.grad.data, _transposed_by_loops(g, inverse))
