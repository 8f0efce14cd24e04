"""ONNX export: onnxruntime runs every exported model and agrees with tinygrad_edu to 1e-5 (float32),
at the example's batch size and others; parameters are named initializers; what cannot be exported
faithfully is refused with an error that names the op and where it was recorded."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import demo, nn
from tinygrad_edu.cli import main
from tinygrad_edu.engine import ops
from tinygrad_edu.engine.function import Function

onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install \"tinygrad_edu[onnx]\")")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install \"tinygrad_edu[onnx]\")")
from tinygrad_edu.onnx import CONVERTERS, ExportError, draw_onnx, export  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = dict(rtol=1e-5, atol=1e-5)


def rng():
    return np.random.default_rng(0)


def expected(model, x):
    """What tinygrad_edu computes for ``x`` in evaluation mode, without recording."""
    if isinstance(model, nn.Module):
        model.eval()
    with tg.no_grad():
        return model(tg.Tensor(x)).data


def assert_runs_like(model, path, *inputs):
    """onnxruntime runs the file on each input and agrees with tinygrad_edu."""
    session = ort.InferenceSession(str(path))
    name = session.get_inputs()[0].name
    for x in inputs:
        (got,) = session.run(None, {name: x})
        want = expected(model, x)
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, **TOLERANCE)
    return session


def export_and_check(model, x, *others, tmp_path, **options):
    path = export(model, x, tmp_path / "model.onnx", **options)
    assert path == tmp_path / "model.onnx" and path.is_file()
    assert_runs_like(model, path, x, *others)
    return onnx.load(str(path))


# ----------------------------------------------------------------------------- the models the issue names


@pytest.mark.parametrize("activation", sorted(name for name in nn.ACTIVATIONS if name is not None))
def test_the_tutorial_mlp_with_each_activation(tmp_path, activation):
    model = nn.MLP([4, 16, 8, 3], [activation, activation, "softmax"])
    x = rng().standard_normal((5, 4)).astype(np.float32)
    proto = export_and_check(model, x, x[:1], rng().standard_normal((33, 4)).astype(np.float32), tmp_path=tmp_path)
    initializers = {init.name: tuple(init.dims) for init in proto.graph.initializer}
    assert {name: p.shape for name, p in model.named_parameters()}.items() <= initializers.items()
    assert proto.opset_import[0].version >= 17


def test_the_digits_cnn(tmp_path):
    model = demo.digits_cnn()
    x = rng().random((3, 1, 8, 8), dtype=np.float32)
    proto = export_and_check(model, x, x[:1], rng().random((10, 1, 8, 8), dtype=np.float32), tmp_path=tmp_path)
    ops_used = {node.op_type for node in proto.graph.node}
    assert {"Pad", "Gather", "MatMul", "ReduceMax", "Relu"} <= ops_used  # the recorded ops, one for one


def test_batch_norm_in_evaluation_and_layer_norm(tmp_path):
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.LayerNorm(8),
                          nn.Linear(8, 3))
    for _ in range(5):  # running statistics away from their initial 0 and 1
        model(tg.randn(16, 4) * 3 + 1)
    model.train()
    x = rng().standard_normal((6, 4)).astype(np.float32)
    path = export(model, x, tmp_path / "model.onnx")
    assert all(m.training for m in model.modules())  # exported in evaluation mode, then put back in its own
    assert_runs_like(model, path, x, x[:2])
    proto = onnx.load(str(path))
    names = {init.name for init in proto.graph.initializer}
    assert {"1.running_mean", "4.weight", "4.bias"} <= names
    assert "Dropout" not in {node.op_type for node in proto.graph.node}  # identity in evaluation


def test_an_embedding_model_takes_integer_ids(tmp_path):
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(12, 2))
    ids = np.array([[1, 2, 3], [4, 5, 9]])
    proto = export_and_check(model, ids, np.array([[0, 0, 9]]), rng().integers(0, 10, (7, 3)), tmp_path=tmp_path)
    (graph_input,) = proto.graph.input
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.INT64


def test_the_batch_axis_is_named_and_can_be_fixed(tmp_path):
    model = nn.MLP([4, 8, 3])
    x = np.ones((2, 4), np.float32)
    dynamic = onnx.load(str(export(model, x, tmp_path / "dynamic.onnx")))
    dims = dynamic.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 4]
    assert dynamic.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    fixed = export(model, x, tmp_path / "fixed.onnx", dynamic_batch=False)
    assert [d.dim_value for d in onnx.load(str(fixed)).graph.input[0].type.tensor_type.shape.dim] == [2, 4]
    session = assert_runs_like(model, fixed, x)
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        session.run(None, {"input": np.ones((3, 4), np.float32)})


# ----------------------------------------------------------------------------- every exportable op


class EveryOp(nn.Module):
    """Indexing, concatenation, where, transposes, clip, pads, pools and the elementwise math, at once."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(6, 6)
        self.conv = nn.Conv2d(1, 2, 3, stride=2, padding=1)

    def forward(self, x):
        h = self.lin(x)
        picked = tg.concatenate([h[:, 1:5:2], h[:, ::-1][:, None, 2].reshape(-1, 1), h.T.T[..., -2:], h[:, [0, 3]]],
                                axis=1)  # (N, 7)
        mixed = tg.where(np.array([True, False, True, False, True, True, False]), picked, -picked).clip(-1.5, 1.5)
        mixed = mixed.clip(np.full(7, -1.0, np.float32)) + h.sum(axis=1, keepdims=True).leaky_relu(0.1)
        smooth = (mixed.abs() + 1).log() ** 1.5 + mixed.sin() * mixed.cos() - (-mixed).sigmoid() + mixed.tanh()
        smooth = smooth + tg.maximum(smooth, 0.2) - smooth.max(axis=-1, keepdims=True) + (smooth * 0.1).exp() / 4
        image = smooth[:, :6].reshape(-1, 1, 2, 3).pad(((0, 0), (0, 0), (2, 2), (1, 1)), value=0.5)  # (N, 1, 6, 5)
        pooled = nn.functional.avg_pool2d(self.conv(image), 2, stride=1, padding=1)  # (N, 2, 4, 4)
        pooled = nn.functional.max_pool2d(pooled, 2).flatten(1)  # (N, 8)
        return tg.concatenate([smooth.log_softmax(axis=1), pooled.softmax(axis=-1), smooth.transpose(1, 0)[0:1].T],
                              axis=1).astype(np.float64)


def test_every_forward_op_exports(tmp_path):
    model = EveryOp()
    x = rng().standard_normal((5, 6)).astype(np.float32)
    export_and_check(model, x, x[:1], rng().standard_normal((9, 6)).astype(np.float32), tmp_path=tmp_path)


INDICES = [np.s_[..., None], np.s_[None], np.s_[-1], np.s_[:, -3:-1], np.s_[::-2], np.s_[:, ::-1, 1],
           np.s_[:, np.array([2, 0, 2])], np.s_[1:, None, ..., 0], np.s_[:, 1:100], np.s_[:, -100:2],
           np.s_[..., ::-3], np.s_[:, :, np.array([[0, 1], [1, 0]])], np.s_[0, 1:3, -1], np.s_[:, 5:1:-1],
           np.s_[:, None, :, None, 2]]


@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_indexing_exports_as_numpy_indexes_at_any_batch_size(tmp_path, index):
    x = rng().standard_normal((4, 6, 3)).astype(np.float32)
    pick = lambda t: t[index] * 2  # noqa: E731
    path = export(pick, x, tmp_path / "index.onnx")
    session = ort.InferenceSession(str(path))
    for batch in (x, rng().standard_normal((7, 6, 3)).astype(np.float32)):
        (got,) = session.run(None, {"input": batch})
        np.testing.assert_array_equal(got, batch[index] * 2)


def test_a_boolean_mask_is_refused_by_name(tmp_path):
    with pytest.raises(ExportError, match=r"Index with \(slice\(None, None, None\), array\(3,\):bool\) \(Index, recorded outside any module\) has no ONNX mapping"):
        export(lambda t: t[:, np.array([True, False, True])], np.ones((2, 3), np.float32), tmp_path / "m.onnx")


def test_float64_models_and_several_inputs_and_outputs(tmp_path):
    tg.set_default_dtype(np.float64)
    model = nn.MLP([3, 5, 2], ["leaky_relu", "softmax"])  # float64: alpha exactly, not as a 32-bit attribute

    def two_heads(x, extra):
        out = model(x) * extra.sum(axis=1, keepdims=True)
        return out, x

    x, extra = rng().standard_normal((4, 3)), rng().standard_normal((4, 2))
    path = export(two_heads, (x, extra), tmp_path / "two.onnx", input_names=["x", "extra"],
                  output_names=["scores", "echo"])
    session = ort.InferenceSession(str(path))
    x2, extra2 = rng().standard_normal((6, 3)), rng().standard_normal((6, 2))
    scores, echo = session.run(None, {"x": x2, "extra": extra2})
    with tg.no_grad():
        want = two_heads(tg.Tensor(x2), tg.Tensor(extra2))[0].data
    np.testing.assert_allclose(scores, want, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(echo, x2)
    assert scores.dtype == np.float64


def test_a_bound_method_exports_in_its_modules_names(tmp_path):
    model = nn.MLP([4, 8, 3])
    x = rng().standard_normal((2, 4)).astype(np.float32)
    path = export(model.logits, x, tmp_path / "logits.onnx")
    session = ort.InferenceSession(str(path))
    with tg.no_grad():
        np.testing.assert_allclose(session.run(None, {"input": x})[0], model.logits(tg.Tensor(x)).data, **TOLERANCE)
    assert "Softmax" not in {node.op_type for node in onnx.load(str(path)).graph.node}
    assert "layers.0.weight" in {init.name for init in onnx.load(str(path)).graph.initializer}


def test_frozen_parameters_are_still_named_initializers(tmp_path):
    model = nn.Sequential(nn.Embedding(5, 3), nn.Linear(3, 2))
    for p in model.parameters():
        p.requires_grad_(False)  # an integer input and no trainable weights: nothing would be recorded
    ids = np.array([[0, 4], [1, 2]])
    path = export(model, ids, tmp_path / "frozen.onnx")
    assert not any(p.requires_grad for p in model.parameters())
    assert {"0.weight", "1.weight", "1.bias"} <= {init.name for init in onnx.load(str(path)).graph.initializer}
    assert_runs_like(model, path, ids, np.array([[3, 3]]))


def test_every_primitive_has_a_converter_or_a_reason_not_to():
    primitives = {name for name, obj in vars(ops).items()
                  if isinstance(obj, type) and issubclass(obj, Function) and obj is not Function}
    not_exported = {"IndexAdd", "Col2Im",  # recorded only by a backward pass (create_graph)
                    "SoftmaxCrossEntropy"}  # a loss: the export covers the forward of a model
    missing = primitives - set(CONVERTERS) - not_exported
    assert not missing, f"add a row for each of {sorted(missing)} to tinygrad_edu.onnx.CONVERTERS"
    assert set(CONVERTERS) <= primitives, f"rows for ops that do not exist: {sorted(set(CONVERTERS) - primitives)}"


# ----------------------------------------------------------------------------- refusing what would be wrong


class Square(Function):
    """out = x * x;  dx = 2 * g * x"""

    def forward(self, x):
        return x * x

    def backward(self, g, out, x):
        return (2 * g * x,)


class Squares(nn.Module):
    def forward(self, x):
        return Square.apply(x)


def test_an_op_without_a_converter_is_named_with_its_module(tmp_path):
    model = nn.Sequential(nn.Linear(3, 3), Squares())
    with pytest.raises(ExportError, match=r"no ONNX mapping for the op Square \(recorded in Sequential > 1 "
                                          r"\(Squares\)\).*CONVERTERS"):
        export(model, np.ones((2, 3), np.float32), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("forward, fragment", [
    (lambda model, x: model(x) - model(x).mean(axis=0), "batch size"),  # 1/N would be frozen
    (lambda model, x: model(tg.Tensor(x.data * 2)), "computed outside the recorded graph"),
    (lambda model, x: model(x) * float(x.data.sum()), "computed outside the recorded graph"),
    (lambda model, x: model(x) + tg.zeros(x.shape[0], 3), "batch size"),
])
def test_values_that_would_be_frozen_into_the_file_are_refused(tmp_path, forward, fragment):
    model = nn.MLP([4, 8, 3])
    with pytest.raises(ExportError, match=fragment):
        export(lambda x: forward(model, x), rng().standard_normal((3, 4)).astype(np.float32), tmp_path / "m.onnx")


def test_without_a_dynamic_batch_a_mean_over_the_batch_exports(tmp_path):
    model = nn.MLP([4, 8, 3])
    centred = lambda x: model(x) - model(x).mean(axis=0)  # noqa: E731
    x = rng().standard_normal((3, 4)).astype(np.float32)
    assert_runs_like(centred, export(centred, x, tmp_path / "m.onnx", dynamic_batch=False), x)
    with pytest.raises(ExportError, match="input's values"):  # but not a value read from the input's data
        export(lambda x: model(x) * float(x.data.sum()), x, tmp_path / "m.onnx", dynamic_batch=False)


def test_an_input_the_graph_does_not_use_is_refused(tmp_path):
    model = nn.MLP([4, 8, 3])
    with pytest.raises(ExportError, match="does not depend on input 1"):
        export(lambda x, y: model(x), (np.ones((2, 4), np.float32), np.ones((2, 4), np.float32)), tmp_path / "m.onnx")


def test_a_failed_export_leaves_the_previous_file_alone(tmp_path):
    path = tmp_path / "model.onnx"
    export(nn.MLP([4, 8, 3]), np.ones((2, 4), np.float32), path)
    before = path.read_bytes()
    with pytest.raises(ExportError):
        export(nn.Sequential(nn.Linear(4, 3), Squares()), np.ones((2, 4), np.float32), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_bad_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match="input_names must be 1"):
        export(nn.MLP([4, 3]), np.ones((2, 4), np.float32), tmp_path / "m.onnx", input_names=["a", "b"])


def test_without_onnx_one_line_names_the_extra(tmp_path):
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import numpy as np, tinygrad_edu as tg\nfrom tinygrad_edu.onnx import export\n"
            "try:\n    export(tg.nn.MLP([4, 3]), np.ones((1, 4), np.float32), 'm.onnx')\n"
            "except ImportError as e:\n    print(e)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                            timeout=120)
    assert result.stdout == 'ONNX export needs the onnx package: pip install "tinygrad_edu[onnx]"\n', result.stderr


# ----------------------------------------------------------------------------- the picture and the commands


def test_draw_onnx_shows_the_operators_and_the_named_parameters(tmp_path):
    path = export(nn.MLP([4, 8, 3]), np.ones((2, 4), np.float32), tmp_path / "m.onnx")
    source = draw_onnx(path).source
    for text in ("MatMul", "Relu", "Softmax", "layers.0.weight", "(batch, 4)", "cluster_layers.1"):
        assert text in source
    svg = tg.render_graph(draw_onnx(path), tmp_path / "m.svg")
    assert b"<svg" in svg.read_bytes()


def test_the_export_command_writes_a_demo_run_as_onnx(tmp_path, capsys):
    demo.run_demo("iris", tmp_path / "run", epochs=2, verbose=False)
    assert (tmp_path / "run" / "model.onnx").is_file()
    capsys.readouterr()
    target = tmp_path / "out" / "iris.onnx"
    assert main(["export", str(tmp_path / "run" / "weights.safetensors"), "--onnx", str(target)]) == 0
    assert capsys.readouterr().out == f"Wrote {target}\n"
    model = demo.DATASETS["iris"].build_model()
    model.load_state_dict(tg.load(tmp_path / "run" / "weights.safetensors")["model"])
    assert_runs_like(model, target, rng().standard_normal((7, 4)).astype(np.float32))
    assert (tmp_path / "run" / "model.onnx").read_bytes() == target.read_bytes()


def test_the_export_command_refuses_bad_input_in_one_line(tmp_path, capsys):
    demo.run_demo("moons", tmp_path, epochs=1, verbose=False)
    weights = str(tmp_path / "weights.safetensors")
    capsys.readouterr()
    assert main(["export", weights, "--model", "digits", "--onnx", str(tmp_path / "m.onnx")]) == 2
    assert "do not fit the digits network" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "none.safetensors"), "--onnx", str(tmp_path / "m.onnx")]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("tinygrad-edu: error: cannot read the weights")
