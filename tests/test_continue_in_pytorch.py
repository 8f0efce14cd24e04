"""examples/continue_in_pytorch.py: a few epochs in tinygrad_edu, a few in PyTorch's DistributedDataParallel over
two processes, and back; the weights it brings back are those of the same SGD steps taken in one process."""
import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.interop import torch_state_dict

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "continue_in_pytorch.py"


def one_process_replay(torch, example, epochs, torch_epochs, seed):
    """What the two DDP processes compute, in one process: each step averages the losses of both halves."""
    X_train, _, y_train, _ = example.load_data(seed)
    network, _ = example.train_in_tinygrad(X_train, y_train, epochs, seed)
    model = example.torch_mlp()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in torch_state_dict(network).items()}, strict=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=example.LR)
    data = torch.utils.data.TensorDataset(torch.from_numpy(X_train), torch.from_numpy(y_train))
    samplers = [torch.utils.data.DistributedSampler(data, num_replicas=2, rank=rank, shuffle=True, seed=seed)
                for rank in range(2)]
    loaders = [torch.utils.data.DataLoader(data, batch_size=example.BATCH_SIZE // 2, sampler=s) for s in samplers]
    for epoch in range(torch_epochs):
        for sampler in samplers:
            sampler.set_epoch(epoch)
        for (x0, y0), (x1, y1) in zip(*loaders):
            optimizer.zero_grad()
            loss = (torch.nn.functional.cross_entropy(model(x0), y0) + torch.nn.functional.cross_entropy(model(x1), y1)) / 2
            loss.backward()
            optimizer.step()
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


@pytest.mark.slow  # about 15 s: the two processes import torch, and DDP imports its compiler
def test_continue_in_pytorch_runs_and_brings_back_the_ddp_weights(tmp_path, monkeypatch, capsys):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install \"tinygrad_edu[torch]\")")
    # imported by name, so that the spawned processes can import it too (they get this sys.path)
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    example = importlib.import_module(SCRIPT.stem)
    out = tmp_path / "out"
    result = example.main(epochs=5, torch_epochs=3, out=out)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("tinygrad_edu: 5 epochs, loss ")
    assert lines[1].startswith("PyTorch: DistributedDataParallel over 2 processes (gloo on 127.0.0.1), 3 epochs")
    assert lines[1].endswith("the processes ended with the same weights: True") and result["processes_agree"]
    assert lines[2].startswith("Back in tinygrad_edu: training accuracy")
    assert "layers.2.bias" in "\n".join(lines)  # the gradient report
    assert lines[-1] == f"Wrote to {out}: gradients.txt, weights.safetensors, loss_curve.png, training_step.svg"
    assert (out / "loss_curve.png").read_bytes().startswith(b"\x89PNG") and b"<svg" in (out / "training_step.svg").read_bytes()
    assert len(result["tinygrad_loss"]) == 5 and len(result["torch_loss"]) == 3

    back = tg.nn.MLP([4, 16, 8, 3], ["relu", "relu", "softmax"])
    back.load_state_dict(tg.load(out / "weights.safetensors")["model"])
    replay = one_process_replay(torch, example, epochs=5, torch_epochs=3, seed=2)
    for key, value in torch_state_dict(back).items():
        np.testing.assert_allclose(value, replay[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_without_torch_the_script_says_in_one_line_what_to_install(tmp_path):
    code = f"import runpy, sys; sys.modules['torch'] = None; sys.argv = ['x']; runpy.run_path({str(SCRIPT)!r}, run_name='__main__')"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                            timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == 'this example needs PyTorch: pip install "tinygrad_edu[torch]"\n'
