"""The benchmark's worker process: ``python -m tinygrad_edu.bench.worker IMPLEMENTATION``.

``harness.Worker`` starts one per implementation and sends it one JSON request per
line on standard input; the worker answers each with one JSON line on the standard
output it had when it started (anything a step prints goes to standard error
instead). A failure is answered as ``{"error": traceback}``, and the worker goes on.

Requests (``op``):

* ``about``: NumPy's BLAS (threads, kernel) and PyTorch's version and threads here;
* ``load`` (``scenario``, ``case``, ``quick``, ``implementation``): build that
  implementation of the case (and nothing else) and keep its ``prepare``;
* ``calibrate`` (``min_repeat_s``): warm up, answer the calls per repeat;
* ``repeat`` (``number``): one timed repeat, answered in seconds per call;
* ``memory``: the peak bytes one step allocates;
* ``unload``: drop the case.
"""
from __future__ import annotations

import gc
import json
import os
import sys
import traceback

from . import harness
from .scenarios import SCENARIOS
from .steps import TORCH, import_torch


class _Session:
    """What the worker holds between requests: the loaded case's ``prepare``."""

    def __init__(self):
        self.prepare = None

    def about(self, request):
        about = harness.blas_about()
        about["pid"] = os.getpid()
        about["allocator"] = {name: os.environ.get(name) for name in harness.ALLOCATOR_VARIABLES}
        torch = sys.modules.get("torch")
        about["torch"] = torch.__version__ if torch is not None else None
        about["torch_threads"] = torch.get_num_threads() if torch is not None else None
        return about

    def load(self, request):
        case = SCENARIOS[request["scenario"]].build(request["quick"])[request["case"]]
        self.prepare = None
        gc.collect()
        self.prepare = case.implementations[request["implementation"]]()
        gc.collect()  # start clean; collection then runs as it would in real use
        return {}

    def calibrate(self, request):
        return {"number": harness.calls_per_repeat(self.prepare, request["min_repeat_s"])}

    def repeat(self, request):
        return {"seconds": harness.time_repeat(self.prepare, request["number"])}

    def memory(self, request):
        return {"peak_bytes": harness.peak_memory(self.prepare)}

    def unload(self, request):
        self.prepare = None
        gc.collect()
        return {}


# op -> the session's method that answers it
REQUESTS = {name: getattr(_Session, name) for name in ("about", "load", "calibrate", "repeat", "memory", "unload")}


def serve(implementation: str) -> None:
    """Answer requests until standard input ends."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a step's prints must not reach the replies
    if implementation == TORCH:
        import_torch()  # before the first request, so no timing includes the import
    session = _Session()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = REQUESTS[request["op"]](session, request)
        except Exception:
            reply = {"error": traceback.format_exc()}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


if __name__ == "__main__":
    serve(sys.argv[1])
