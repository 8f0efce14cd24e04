import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import tinygrad_edu as tg

# Sized for CI (2 cores, the whole suite well under 15 minutes). `HYPOTHESIS_PROFILE=thorough` digs deeper.
settings.register_profile("ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _fresh_state():
    """Each test starts with the default dtype, grad mode on and a seeded generator."""
    tg.set_default_dtype(np.float32)
    tg.manual_seed(0)
    with tg.enable_grad():
        yield
    tg.set_default_dtype(np.float32)


@pytest.fixture(scope="session")
def torch():
    """PyTorch, for the tests that compare with it; they skip where it is not installed."""
    return pytest.importorskip("torch", reason="PyTorch is not installed (the comparisons with it are optional)")
