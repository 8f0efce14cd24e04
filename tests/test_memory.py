"""Memory and scale: graphs are freed by reference counting alone, long runs stay flat,
deep and wide graphs take linear time, and grad mode and the RNG are safe across threads."""
import gc
import threading
import time
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.guards import inplace as function
from tinygrad_edu.nn import Module, Parameter


@pytest.fixture
def no_cycle_collector():
    """Whatever is freed inside must be freed by reference counting: no cycles allowed."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def leaf(values):
    return tg.Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# ---------------------------------------------------------------------------- freeing graphs


def test_graph_is_freed_without_the_cycle_collector_after_backward(no_cycle_collector):
    x = leaf(np.ones(3))
    h = x.exp()
    y = (h * h).sum()
    y.backward()
    refs = [weakref.ref(t) for t in (h, y)] + [weakref.ref(h.grad_fn), weakref.ref(y.grad_fn)]
    del h, y
    assert [r() for r in refs] == [None] * 4
    assert function._holders == {}


def test_graph_is_freed_without_backward(no_cycle_collector):
    x = leaf(np.ones(3))
    h = x.tanh()
    y = (h * x).sum()
    refs = [weakref.ref(h), weakref.ref(y), weakref.ref(h.grad_fn)]
    del h, y
    assert [r() for r in refs] == [None] * 3
    assert function._holders == {}  # and its arrays are unlocked
    x.data[0] = 2.0


def test_retained_graph_is_freed_when_dropped(no_cycle_collector):
    x = leaf(np.ones(3))
    y = (x.sigmoid() * x).sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    ref = weakref.ref(y.grad_fn)
    del y
    assert ref() is None and function._holders == {}


def test_create_graph_gradients_do_not_keep_cycles(no_cycle_collector):
    x = leaf([1.0, 2.0])
    (g,) = tg.grad((x**3).sum(), x, create_graph=True)
    (gg,) = tg.grad(g.sum(), x)
    np.testing.assert_allclose(gg.data, [6.0, 12.0])
    ref = weakref.ref(g.grad_fn)
    del g
    assert ref() is None and function._holders == {}


def test_saved_arrays_are_released_by_backward():
    x = leaf(np.ones(4))
    h = x.exp()
    y = (h.reshape(2, 2) @ h.reshape(2, 2)).sum()
    nodes = [y.grad_fn]
    while nodes[-1].inputs[0].grad_fn is not None:
        nodes.append(nodes[-1].inputs[0].grad_fn)
    assert all(n.saved is not None for n in nodes)
    y.backward()
    assert all(n.saved is None and not getattr(n, "held", None) for n in nodes)
    assert function._holders == {}  # nothing is kept read-only or alive by the lock table
    assert h.data.flags.writeable


def test_intermediate_dropped_by_user_is_freed_once_graph_is_done(no_cycle_collector):
    x = leaf(np.ones((10, 10)))
    refs = []
    for _ in range(5):
        h = (x @ x).tanh()
        loss = h.sum()
        refs.append(weakref.ref(h))
        loss.backward()
        del h, loss
    assert all(r() is None for r in refs)


# ---------------------------------------------------------------------------- long runs


class MLP(Module):
    def __init__(self, rng):
        super().__init__()
        self.w1 = Parameter((rng.standard_normal((4, 16)) * 0.5).astype(np.float32))
        self.b1 = Parameter(np.zeros(16, np.float32))
        self.w2 = Parameter((rng.standard_normal((16, 3)) * 0.5).astype(np.float32))
        self.b2 = Parameter(np.zeros(3, np.float32))

    def forward(self, x):
        return (x @ self.w1 + self.b1).relu() @ self.w2 + self.b2


def make_problem(seed=0, n=32):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)
    return MLP(rng), tg.Tensor(x), labels


def train_step(model, x, labels, lr=0.1):
    logits = model(x)
    loss = -logits.log_softmax(axis=1)[np.arange(len(labels)), labels].mean()
    loss.backward()
    with tg.no_grad():
        for p in model.parameters():
            p.sub_(p.grad, alpha=lr)
    model.zero_grad()
    return loss.item()


def test_two_thousand_training_steps_keep_memory_flat():
    model, x, labels = make_problem()
    for _ in range(50):  # warm-up: caches, allocator pools
        train_step(model, x, labels)
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(50):
            train_step(model, x, labels)
        gc.collect()
        start, _ = tracemalloc.get_traced_memory()
        losses = [train_step(model, x, labels) for _ in range(2000)]
        gc.collect()
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"memory growth over 2,000 steps: {end - start} bytes")
    assert end - start < 1_000_000, f"memory grew by {end - start} bytes over 2,000 steps"
    assert losses[-1] < losses[0] * 0.5  # and it trained
    assert function._holders == {}


# ---------------------------------------------------------------------------- scale


def fastest_backward(root, repeats=3):
    """The quickest of ``repeats`` backward passes over the same graph (the last one frees it)."""
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        root.backward(retain_graph=i < repeats - 1)
        times.append(time.perf_counter() - start)
    return min(times)


def chain(n):
    x = leaf(1.0)
    y = x
    for _ in range(n):
        y = y * 1.0
    return x, y


def test_backward_through_a_long_chain_is_linear():
    # test_engine runs the 100,000-op chain; here 12,500 and 50,000 ops give the growth rate.
    x_small, y_small = chain(12_500)
    small = fastest_backward(y_small)
    x, y = chain(50_000)
    large = fastest_backward(y)
    assert x.grad.item() == 3.0 and x_small.grad.item() == 3.0
    # Linear would be 4x (cache effects push it up a little); quadratic would be 16x.
    assert large / small < 10, f"12,500 ops: {small:.3f} s, 50,000 ops: {large:.3f} s"


def fan_in(n):
    x = leaf(np.ones(3))
    return x, tg.stack([x * float(i) for i in range(n)]).sum()


def test_backward_through_10000_wide_fan_in_is_linear():
    x_small, small_root = fan_in(2_500)
    small = fastest_backward(small_root)
    x, root = fan_in(10_000)
    large = fastest_backward(root)
    np.testing.assert_allclose(x.grad.data, np.full(3, 3 * sum(range(10_000))))
    assert large / small < 10, f"2,500 inputs: {small:.3f} s, 10,000 inputs: {large:.3f} s"


def test_one_tensor_used_10000_times():
    x = leaf([2.0])
    total = x * 0.0
    for i in range(10_000):
        total = total + x * x
    total.backward()
    assert x.grad.item() == pytest.approx(10_000 * 4.0)


# ---------------------------------------------------------------------------- threads


def reference_weights(steps):
    model, x, labels = make_problem(seed=1)
    for _ in range(steps):
        train_step(model, x, labels)
    return [p.data.copy() for p in model.parameters()]


def test_training_and_no_grad_inference_in_two_threads():
    steps = 600
    expected = reference_weights(steps)
    trained, x_train, labels = make_problem(seed=1)
    frozen, x_eval, _ = make_problem(seed=2)
    with tg.no_grad():
        expected_eval = frozen(x_eval).data.copy()
    errors, evals = [], []
    training_done = threading.Event()

    def train():
        try:
            for _ in range(steps):
                assert tg.is_grad_enabled()  # the other thread's no_grad must not leak here
                train_step(trained, x_train, labels)
        except BaseException as e:  # reported below, in the main thread
            errors.append(e)
        finally:
            training_done.set()

    def infer():
        try:
            with tg.no_grad():
                while not training_done.is_set() or len(evals) < 50:
                    out = frozen(x_eval)
                    assert not out.requires_grad and out.grad_fn is None
                    evals.append(np.array_equal(out.data, expected_eval))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=train), threading.Thread(target=infer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert all(evals) and len(evals) >= 50
    for got, want in zip(trained.parameters(), expected):
        np.testing.assert_array_equal(got.data, want)
    assert tg.is_grad_enabled()


def test_random_draws_from_several_threads_are_the_sequential_draws():
    tg.manual_seed(5)
    draws, per_thread, n_threads = [], 50, 4
    lock = threading.Lock()

    def draw():
        mine = [tg.randn(64, dtype=np.float64).data for _ in range(per_thread)]
        with lock:
            draws.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tg.manual_seed(5)
    sequential = [tg.randn(64, dtype=np.float64).data for _ in range(per_thread * n_threads)]
    # Each draw is atomic, so the threads' draws are the sequential ones in some order.
    assert sorted(d.tobytes() for d in draws) == sorted(d.tobytes() for d in sequential)


def test_a_node_keeps_what_it_saved_until_backward_frees_it():
    """What a node holds is what its forward passed to ``save``: dropped by a backward without retain_graph."""
    class Masked(tg.Function):
        "out = x * m;  dx = g * m   (m, a mask made in forward, is all backward keeps)"

        def forward(self, x):
            mask = (x > 0).astype(x.dtype)
            self.save(mask)
            return x * mask

        def backward(self, g, mask):
            return (g * mask,)

    x = leaf(np.array([-1.0, 2.0, 3.0]))
    loss = Masked.apply(x).sum()
    node = loss.grad_fn.inputs[0].grad_fn
    (mask,) = node.saved
    mask_ref = weakref.ref(mask)
    del mask
    loss.backward(retain_graph=True)
    assert mask_ref() is not None  # retained for a second backward
    loss.backward()
    assert node.saved is None and mask_ref() is None  # freed, although the graph and the loss live on
    np.testing.assert_allclose(x.grad.data, [0.0, 2.0, 2.0])


def test_relu_saves_its_output_and_nothing_else():
    x = leaf(np.array([[1.0, -2.0]]))
    h = x * 2.0
    r = h.relu()
    (saved,) = r.grad_fn.saved
    assert saved is r.data  # the output, which the next layer's matmul saves anyway
    assert not any(value is h.data for value in r.grad_fn.saved)
