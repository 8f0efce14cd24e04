"""Backward passes in several threads at once: gradients accumulated into one shared parameter are all kept.

PyTorch's engine guarantees this (its gradient accumulation holds a lock per
parameter); a data-parallel loop written the obvious way relies on it.
"""
import threading

import numpy as np

import tinygrad_edu as tg

# Large arrays: NumPy lets go of the GIL while it adds them, so additions overlap. One round
# showed lost updates 19 times in 20 while accumulation was unsafe; three make a miss rare.
THREADS, PASSES, SIZE, ROUNDS = 16, 10, 200_000, 3


def accumulate_in_threads():
    """Each thread runs PASSES backward passes into one shared ``w``; returns w.grad and what it must be."""
    w = tg.Tensor(np.zeros(SIZE), requires_grad=True)
    start = threading.Barrier(THREADS)
    errors = []

    def work(k):
        try:
            x = tg.Tensor(np.full(SIZE, float(k + 1)))
            start.wait()  # all threads accumulate at the same time
            for _ in range(PASSES):
                (x * w).sum().backward()  # d/dw = x: each pass adds k + 1 to every element
        except BaseException as error:  # a thread's failure must fail the test, not vanish
            errors.append(error)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return w.grad.data, np.full(SIZE, float(PASSES * sum(range(1, THREADS + 1))))


def test_backward_passes_in_several_threads_lose_no_gradient():
    for _ in range(ROUNDS):
        got, expected = accumulate_in_threads()
        np.testing.assert_array_equal(got, expected)
