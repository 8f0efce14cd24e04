"""Clear errors: each names the op or argument and the shapes or values at fault."""
import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import nn, optim
from tinygrad_edu.nn import functional as F
from tinygrad_edu.optim import lr_scheduler

LOGITS = tg.Tensor(np.zeros((4, 3)), requires_grad=True)


# ----------------------------------------------------------------------------- cross-entropy targets


def test_cross_entropy_target_out_of_range():
    with pytest.raises(ValueError, match=r"cross_entropy: target class indices \[-1, 3\] are out of range for 3 "
                                         r"classes \(logits shape \(4, 3\)\); indices must lie in \[0, 2\]"):
        F.cross_entropy(LOGITS, np.array([0, 3, -1, 2]))


def test_cross_entropy_float_class_indices():
    with pytest.raises(TypeError, match=r"cross_entropy: a target of shape \(4,\) holds class indices and must have an "
                                        r"integer dtype, got float64; use target.astype\(int\)"):
        F.cross_entropy(LOGITS, np.array([0.0, 1.0, 2.0, 1.0]))


@pytest.mark.parametrize("target", [np.array([[1.0, 0, 0]] * 3 + [[np.nan, 0, 1]]),
                                    np.array([0.0, np.nan, 1.0, 2.0])])
def test_cross_entropy_target_with_nan(target):
    with pytest.raises(ValueError, match=r"cross_entropy: target contains NaN \(first positions \[\["):
        F.cross_entropy(LOGITS, target)


def test_cross_entropy_target_shape_mismatch():
    with pytest.raises(ValueError, match=r"cross_entropy: target of shape \(2,\) does not fit logits of shape \(4, 3\); "
                                         r"give class indices of shape \(4,\) or probabilities of shape \(4, 3\)"):
        F.cross_entropy(LOGITS, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"target of shape \(4, 2\) does not fit logits of shape \(4, 3\)"):
        F.cross_entropy(LOGITS, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"cross_entropy: target of shape \(1,\) does not fit logits of shape \(3,\); "
                                         r"give class indices of shape \(\)"):
        F.cross_entropy(tg.zeros(3), np.array([0]))
    with pytest.raises(ValueError, match=r"cross_entropy: expected scores of shape \(C,\), \(N, C\) or \(N, C, d1, "
                                         r"...\), got a 0-d tensor"):
        F.cross_entropy(tg.zeros(()), np.array(0))


@pytest.mark.parametrize("loss,args", [
    (F.cross_entropy, (tg.zeros(0, 3), np.zeros(0, dtype=int))),
    (F.nll_loss, (tg.zeros(0, 3), np.zeros(0, dtype=int))),
    (F.mse_loss, (tg.zeros(0, 2), np.zeros((0, 2)))),
    (F.binary_cross_entropy, (tg.zeros(0), np.zeros(0))),
    (F.binary_cross_entropy_with_logits, (tg.zeros(0), np.zeros(0))),
])
def test_empty_batch(loss, args):
    with pytest.raises(ValueError, match=rf"{loss.__name__}: empty batch \(input of shape \(0,"):
        loss(*args)


def test_unknown_reduction():
    with pytest.raises(ValueError, match=r"cross_entropy: unknown reduction 'avg'"):
        F.cross_entropy(LOGITS, np.zeros(4, dtype=int), reduction="avg")
    with pytest.raises(ValueError, match=r"mse_loss: unknown reduction 'avg'"):
        F.mse_loss(LOGITS, np.zeros((4, 3)), reduction="avg")
    with pytest.raises(ValueError, match=r"MSELoss: unknown reduction"):
        nn.MSELoss(reduction="avg")


def test_other_loss_inputs():
    with pytest.raises(ValueError, match=r"mse_loss: input of shape \(4, 3\) and target of shape \(3,\) must match"):
        F.mse_loss(LOGITS, np.zeros(3))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: input must hold probabilities in \[0, 1\], "
                                         r"got values in \[-0.5, 2\]"):
        F.binary_cross_entropy(tg.Tensor([-0.5, 2.0]), np.ones(2))
    with pytest.raises(ValueError, match="l2_penalty: lam must be >= 0"):
        F.l2_penalty([LOGITS], -1.0)
    with pytest.raises(ValueError, match="l2_penalty: no tensors"):
        F.l2_penalty([], 0.1)


# ----------------------------------------------------------------------------- layers


def test_batch_norm_training_with_one_sample():
    layer = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3, eps=1e-05, momentum=0.1\): training needs more than one "
                                         r"value per channel .* got input of shape \(1, 3\)"):
        layer(tg.ones(1, 3))
    assert layer.running_mean.data.tolist() == [0.0, 0.0, 0.0]  # nothing half-updated
    layer.eval()
    assert layer(tg.ones(1, 3)).shape == (1, 3)  # evaluation is fine with one sample


def test_batch_norm_wrong_width_or_rank():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3.*expected input with 3 features \(channels\), "
                                         r"got shape \(4, 2\)"):
        nn.BatchNorm1d(3)(tg.ones(4, 2))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C\) or \(N, C, L\), got shape \(4,\)"):
        nn.BatchNorm1d(4)(tg.ones(4))


def test_linear_wrong_input_width():
    with pytest.raises(ValueError, match=r"^Linear\(4, 16\): expected input with 4 features, got shape \(8, 5\)$"):
        nn.Linear(4, 16)(tg.ones(8, 5))
    with pytest.raises(ValueError, match=r"Linear\(4, 16\): expected input with 4 features, got shape \(\)"):
        nn.Linear(4, 16)(np.float32(1.0))
    with pytest.raises(ValueError, match=r"Perceptron\(3\): expected input with 3 features, got shape \(2, 4\)"):
        nn.Perceptron(3)(np.ones((2, 4)))


def test_mlp_reports_which_layer_got_the_wrong_width():
    with pytest.raises(ValueError, match=r"Linear\(4, 16\): expected input with 4 features, got shape \(8, 5\)"):
        nn.MLP([4, 16, 8, 3])(np.ones((8, 5)))


@pytest.mark.parametrize("make,message", [
    (lambda: nn.Linear(0, 3), r"Linear: in_features must be a positive integer, got 0"),
    (lambda: nn.Linear(2, 3, init="kaiming"), r"init: unknown initialisation 'kaiming'; choose one of \["),
    (lambda: nn.Dropout(1.5), r"Dropout: probability p must be in \[0, 1\], got 1.5"),
    (lambda: nn.BatchNorm1d(3, momentum=2.0), r"BatchNorm1d: momentum must be in \[0, 1\], got 2.0"),
    (lambda: nn.MLP([4]), r"MLP: layer_sizes needs an input and an output size, got \[4\]"),
    (lambda: nn.MLP([4, 8, 3], ["relu"]), r"MLP: 2 layers \(\[4, 8, 3\]\) need 2 activations, got 1"),
    (lambda: nn.MLP([4, 3], ["swish"]), r"MLP: unknown activation\(s\) \['swish'\]; choose from \["),
    (lambda: nn.init.initialize((3, 2), "uniformish"), r"init: unknown initialisation 'uniformish'"),
    (lambda: F.dropout(tg.ones(2), p=-0.1), r"dropout: probability p must be in \[0, 1\], got -0.1"),
])
def test_bad_layer_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_linear_needs_a_floating_dtype():
    with pytest.raises(TypeError, match="floating dtype"):
        nn.Linear(2, 2, dtype=np.int32)


# ----------------------------------------------------------------------------- state dicts


def test_loading_a_state_dict_into_the_wrong_architecture():
    source = nn.MLP([4, 16, 8, 3]).state_dict()
    with pytest.raises(ValueError) as info:
        nn.MLP([4, 10, 3]).load_state_dict(source)
    message = str(info.value)
    assert message.startswith("load_state_dict into MLP: ")
    assert "unexpected keys ['layers.2.weight', 'layers.2.bias']" in message
    assert "layers.0.weight: shape (4, 16) in the state dict, (4, 10) in the model" in message
    assert "layers.1.weight: shape (16, 8) in the state dict, (10, 3) in the model" in message
    with pytest.raises(ValueError, match=r"missing keys \['layers.2.weight', 'layers.2.bias'\]"):
        nn.MLP([4, 16, 8, 3]).load_state_dict(nn.MLP([4, 16, 8]).state_dict())


def test_loading_a_state_dict_of_another_dtype():
    with pytest.raises(ValueError, match=r"weight: dtype float64 in the state dict, float32 in the model"):
        nn.Linear(2, 2).load_state_dict(nn.Linear(2, 2, dtype=np.float64).state_dict())


# ----------------------------------------------------------------------------- optimizers


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop])
def test_optimizer_without_parameters(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: got an empty parameter list"):
        cls([], lr=0.1)
    with pytest.raises(ValueError, match=rf"{cls.__name__}: got an empty parameter list"):
        cls(nn.ReLU().parameters(), lr=0.1)


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop])
def test_optimizer_with_a_negative_learning_rate(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: invalid learning rate -0.1; "
                                         r"it must be a finite number >= 0"):
        cls(nn.Linear(2, 2).parameters(), lr=-0.1)
    opt = cls(nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="invalid learning rate nan"):
        opt.lr = float("nan")


@pytest.mark.parametrize("make,error,message", [
    (lambda p: optim.Adam(p, betas=(0.9, 1.0)), ValueError,
     r"Adam: invalid betas \(0.9, 1.0\); they must be two numbers in \[0, 1\)"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-1), ValueError, r"SGD: invalid momentum -1"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), ValueError, r"SGD: nesterov=True needs momentum > 0"),
    (lambda p: optim.RMSprop(p, weight_decay=-0.1), ValueError, r"RMSprop: invalid weight_decay -0.1"),
    (lambda p: optim.Adam(p, eps=-1e-8), ValueError, r"Adam: invalid eps -1e-08"),
    (lambda p: optim.SGD([1.0], lr=0.1), TypeError, r"SGD: parameter 0 is a float, not a Tensor"),
    (lambda p: optim.SGD([tg.ones(2)], lr=0.1), ValueError, r"SGD: parameter 0 \(shape \(2,\)\) must be a leaf tensor "
                                                            r"with requires_grad=True"),
    (lambda p: optim.SGD(p + p, lr=0.1), ValueError, r"SGD: parameter 2 \(shape \(2, 2\)\) appears more than once"),
])
def test_bad_optimizer_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make(nn.Linear(2, 2).parameters())


def test_optimizer_state_dict_for_another_model():
    opt = optim.Adam(nn.Linear(2, 2).parameters())
    with pytest.raises(ValueError, match=r"Adam.load_state_dict: parameter group 0 has 2 parameters, "
                                         r"the saved group has 6"):
        opt.load_state_dict(optim.Adam(nn.MLP([2, 3, 3, 2]).parameters()).state_dict())
    other = nn.Linear(3, 2)
    source = optim.Adam(other.parameters())
    for p in other.parameters():
        p.grad = tg.ones_like(p, dtype=p.dtype)
    source.step()
    with pytest.raises(ValueError, match=r"buffer 'exp_avg' of parameter 0 has shape \(3, 2\), "
                                         r"the parameter has shape \(2, 2\)"):
        opt.load_state_dict(source.state_dict())


@pytest.mark.parametrize("make,message", [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), r"StepLR: step_size must be a positive integer, got 0"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=-0.5), r"ExponentialLR: gamma must be a finite number > 0"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=2.5), r"CosineAnnealingLR: T_max must be a positive integer"),
])
def test_bad_scheduler_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make(optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1))
    with pytest.raises(TypeError, match="StepLR: expected an Optimizer, got list"):
        lr_scheduler.StepLR([], step_size=1)
