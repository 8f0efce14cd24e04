"""Embedding: lookups, gradients that accumulate over repeated ids (gradcheck, gradgradcheck), errors."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.nn.embedding import embedding
from tinygrad_edu.testing import arrays, check_op


@given(arrays((5, 3)), hnp.arrays(np.int64, st.sampled_from([(4,), (2, 3), ()]), elements=st.integers(0, 4)))
def test_embedding_gradients(table, ids):
    """Repeated ids are drawn often (5 rows), so the scatter-add of the backward is exercised."""
    check_op(lambda w: embedding(ids, w) * embedding(ids, w), table, np_fn=lambda w: w[ids] * w[ids])


def test_repeated_ids_accumulate():
    emb = nn.Embedding(3, 2)
    out = emb(np.array([[0, 2], [2, 2]]))
    assert out.shape == (2, 2, 2)
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.data, [[1, 1], [0, 0], [3, 3]])


def test_embedding_module():
    tg.manual_seed(3)
    emb = nn.Embedding(1000, 8)
    assert repr(emb) == "Embedding(1000, 8)"
    assert emb.weight.shape == (1000, 8) and emb.weight.dtype == np.float32
    assert abs(emb.weight.data.std() - 1) < 0.05  # N(0, 1) initialisation
    tg.manual_seed(3)
    np.testing.assert_array_equal(nn.Embedding(1000, 8).weight.data, emb.weight.data)
    ids = tg.Tensor(np.array([4, 999]))
    np.testing.assert_array_equal(emb(ids).data, emb.weight.data[[4, 999]])


def test_embedding_errors():
    emb = nn.Embedding(3, 2)
    with pytest.raises(IndexError, match=r"Embedding\(3, 2\): id 3 is out of range; ids must lie in \[0, 3\)"):
        emb(np.array([0, 3]))
    with pytest.raises(IndexError, match="id -1 is out of range"):
        emb(np.array([-1]))
    with pytest.raises(TypeError, match="ids must be integers, got dtype float"):
        emb(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="num_embeddings must be a positive int"):
        nn.Embedding(0, 2)
