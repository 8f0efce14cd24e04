"""tg.compile: a captured step replays exactly what eager mode computes, guards recapture, and what a replay
could not repeat is refused with a clear error."""
import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn, optim


def _float64_model():
    tg.manual_seed(3)
    tg.set_default_dtype(np.float64)
    try:
        model = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 4))
    finally:
        tg.set_default_dtype(np.float32)
    opt = optim.Adam(model.parameters(), lr=0.01)
    return model, opt, optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)


def _train(compiled, steps=100):
    """Dropout, batch norm, Adam, an L2 term and a step scheduler; an evaluation call halfway."""
    model, opt, scheduler = _float64_model()
    params = list(model.parameters())

    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y) + 1e-3 * sum((p * p).sum() for p in params)
        loss.backward()
        opt.step()
        return loss

    run = tg.compile(step) if compiled else step
    rng = np.random.default_rng(0)
    losses, evaluated = [], None
    for i in range(steps):
        x, y = rng.standard_normal((8, 6)), rng.integers(0, 4, 8)
        losses.append(run(x, y).item())
        if i % 5 == 4:
            scheduler.step()
        if i == steps // 2:
            model.eval()
            with tg.no_grad():
                evaluated = model(x).data.copy()
            model.train()
    return model, opt, losses, evaluated, run


def test_a_hundred_compiled_steps_equal_eager_ones_bit_for_bit():
    eager_model, eager_opt, eager_losses, eager_eval, _ = _train(compiled=False)
    model, opt, losses, evaluated, step = _train(compiled=True)
    assert losses == eager_losses
    np.testing.assert_array_equal(evaluated, eager_eval)
    for (name, a), (_, b) in zip(eager_model.state_dict().items(), model.state_dict().items()):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=name)  # weights and running statistics
    for p_eager, p in zip(eager_model.parameters(), model.parameters()):
        np.testing.assert_array_equal(p_eager.grad.data, p.grad.data)
        state_eager, state = eager_opt.state[p_eager], opt.state[p]
        assert state_eager.keys() == state.keys()
        for key in state:
            np.testing.assert_array_equal(np.asarray(state_eager[key]), np.asarray(state[key]), err_msg=key)
    assert opt.lr == eager_opt.lr < 0.01  # the scheduler ran between replays
    assert step.captures == 1


def _tiny_step():
    w = tg.Tensor([[0.5, -0.25], [0.1, 0.3]], requires_grad=True, name="w")
    opt = optim.SGD([w], lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = ((x @ w).relu() ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    return w, opt, step


def test_guards_capture_again_for_new_shapes_and_modes_and_keep_every_program():
    w, _, fn = _tiny_step()
    step = tg.compile(fn)
    x4, x3 = np.ones((4, 2), np.float32), np.ones((3, 2), np.float32)
    step(x4)
    step(x4)
    assert step.captures == 1
    step(x3)  # a smaller last batch
    step(x4)
    assert step.captures == 2
    with pytest.raises(tg.CompileError, match=r"argument arg0 \(float64\) converted to the model's float32: pass "
                                              "it as float32"):
        step(x4.astype(np.float64))  # eager mode would convert it with plain NumPy, which no replay repeats
    assert step.captures == 2
    with tg.no_grad():
        with pytest.raises(RuntimeError, match="does not require grad"):
            step(x4)  # eager mode raises the same: the capture runs fn eagerly
    assert step.captures == 2


def test_a_modules_training_flag_is_a_guard():
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Dropout(0.5))
    forward = tg.compile(lambda x: model(x))
    x = np.ones((2, 3), np.float32)
    forward(x)
    model.eval()
    out = forward(x)
    assert forward.captures == 2
    with tg.no_grad():
        np.testing.assert_array_equal(out.data, model(x).data)  # no dropout in evaluation


def test_replays_read_new_arguments_and_live_parameters():
    w, opt, fn = _tiny_step()
    step = tg.compile(fn)
    rng = np.random.default_rng(1)
    eager_w, eager_opt, eager_fn = _tiny_step()
    for _ in range(5):
        x = rng.standard_normal((4, 2)).astype(np.float32)
        assert step(x).item() == eager_fn(x).item()
    np.testing.assert_array_equal(w.data, eager_w.data)
    with tg.no_grad():
        w.copy_(np.zeros((2, 2), np.float32))  # changed between calls: the replay reads it afresh
        eager_w.copy_(np.zeros((2, 2), np.float32))
    assert step(x).item() == eager_fn(x).item() == 0.0


def test_print_lists_the_program_one_instruction_per_line():
    _, _, fn = _tiny_step()
    step = tg.compile(fn)
    assert "not called yet" in repr(step)
    step(np.ones((4, 2), np.float32))
    text = str(step)
    lines = text.splitlines()
    assert lines[0].startswith("step(arg0: (4, 2) float32), grad mode on")
    assert "call Optimizer.zero_grad(SGD)" in lines[1]
    assert any("= MatMul(arg0, w)  -> (4, 2) float32" in line for line in lines)
    assert any("MatMul.backward(" in line for line in lines)
    assert any("w.grad +=" in line for line in lines)
    assert "call Optimizer.step(SGD)" in lines[-2] and lines[-1].startswith("  return %")


@pytest.mark.parametrize("body,message", [
    (lambda w, x: (w * np.exp(x)).sum(), "computed without tinygrad_edu ops"),
    (lambda w, x: (w * tg.Tensor(x + 1)).sum(), "made inside the compiled function"),
    (lambda w, x: (w * x).sum().item(), "return the Tensor instead"),
])
def test_what_a_replay_could_not_repeat_is_refused(body, message):
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    step = tg.compile(lambda x: body(w, x))
    with pytest.raises(tg.CompileError, match=message):
        step(np.array([1.0, 2.0], dtype=np.float32))


def test_an_update_outside_an_optimizer_is_refused():
    w = tg.Tensor([1.0, 2.0], requires_grad=True, name="w")

    def step(x):
        loss = (w * x).sum()
        loss.backward()
        with tg.no_grad():
            w.sub_(0.1 * w.grad)  # a hand-written update: a replay would not repeat it
        return loss

    with pytest.raises(tg.CompileError, match="w .* was changed in place"):
        tg.compile(step)(np.ones(2, np.float32))


def test_draw_graph_draws_the_captured_program():
    _, _, fn = _tiny_step()
    step = tg.compile(fn)
    step(np.ones((4, 2), np.float32))
    source = tg.draw_graph(step).source
    program = next(iter(step.programs.values()))[0]
    assert source.count("shape=box") == len(program.instructions)  # one box per instruction
    assert "MatMul.backward" in source and "call Optimizer.step(SGD)" in source and "-> " in source
    assert "label=w" in source  # the parameter, read live


def test_fit_with_compile_trains_exactly_as_eager_fit():
    from tinygrad_edu.train import fit

    def run(compiled):
        tg.manual_seed(0)
        model = nn.MLP([4, 8, 3])
        opt = optim.Adam(model.parameters(), lr=0.05)
        rng = np.random.default_rng(0)
        X, y = rng.standard_normal((50, 4)).astype(np.float32), rng.integers(0, 3, 50)
        history = fit(model.logits, X, y, nn.functional.cross_entropy, opt, epochs=3, batch_size=16, seed=1,
                      verbose=False, progress=False, compile=compiled)
        return history, model

    (eager, eager_model), (compiled, model) = run(False), run(True)
    assert compiled.loss == eager.loss and compiled.accuracy == eager.accuracy
    for a, b in zip(eager_model.parameters(), model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("dataset", ["iris", "digits"])  # an MLP, and a convolutional network
def test_the_demo_trains_the_same_compiled(dataset):
    from tinygrad_edu import demo

    eager = demo.train(dataset, epochs=2, verbose=False)
    compiled = demo.train(dataset, epochs=2, verbose=False, compile=True)
    assert compiled.history.loss == eager.history.loss
    assert compiled.test_accuracy == eager.test_accuracy


def test_pythons_own_compile_habit_gets_a_clear_error():
    with pytest.raises(TypeError, match="builtins.compile"):
        tg.compile("x = 1", "<string>", "exec")  # a star import of tinygrad_edu shadows the built-in
    with pytest.raises(TypeError, match="one function to capture, got int"):
        tg.compile(3)


def test_an_in_place_change_of_an_op_result_is_refused():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)

    def step(x):
        h = w * x
        with tg.no_grad():
            h.add_(1.0)  # not an op: a replay would skip it
        return h.sum()

    with pytest.raises(tg.CompileError, match="result of shape \\(2,\\) was changed in place"):
        tg.compile(step)(np.ones(2, np.float32))
