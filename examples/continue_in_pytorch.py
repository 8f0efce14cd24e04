"""Train the tutorial's network in tinygrad_edu, carry on in PyTorch on two processes, and come back.

1. tinygrad_edu trains the iris network ([4, 16, 8, 3], relu, relu, softmax; SGD lr 0.1, batches of 16).
2. Its weights move into the same network written in PyTorch (``interop.torch_state_dict``).
3. PyTorch trains on with ``DistributedDataParallel`` over two processes on this machine (the gloo
   backend on 127.0.0.1): a ``DistributedSampler`` gives each process half of the data, each
   process computes the gradient of its half of every batch of 16, and DDP averages the two, so
   both processes take the same steps and keep the same weights. Data parallelism is how the
   same training scales to more processes and machines; only ``world_size`` and the address change.
4. The weights come back (``interop.load_torch_state_dict``), and tinygrad_edu reports and draws
   what it always does: the accuracies, the loss curve of both parts, the graph of one training
   step and the gradient-flow report.

    python examples/continue_in_pytorch.py [--epochs N] [--torch-epochs N] [--seed N] [--out DIR]

It needs PyTorch (``pip install "tinygrad_edu[torch]"``); the pictures need matplotlib and Graphviz.
"""
import argparse
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import nn, optim, plots
from tinygrad_edu.data import StandardScaler, train_test_split
from tinygrad_edu.datasets import load_iris
from tinygrad_edu.interop import load_torch_state_dict, torch_state_dict
from tinygrad_edu.nn.functional import cross_entropy
from tinygrad_edu.train import evaluate, fit
from tinygrad_edu.utils import gradient_report

try:
    import torch
    import torch.distributed as dist
    import torch.multiprocessing as mp
except ImportError:
    torch = None

SIZES = [4, 16, 8, 3]
LR, BATCH_SIZE, PROCESSES = 0.1, 16, 2


def load_data(seed):
    """The iris split 80/20 and standardised with the training part's statistics, as float32."""
    X, y = load_iris()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=seed)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train).astype(np.float32), scaler.transform(X_test).astype(np.float32), y_train, y_test


def train_in_tinygrad(X_train, y_train, epochs, seed):
    """Part 1: the tutorial's network and training on tinygrad_edu; returns the network and its History."""
    tg.manual_seed(seed)
    network = nn.MLP(SIZES, ["relu", "relu", "softmax"])
    history = fit(network.logits, X_train, y_train, cross_entropy, optim.SGD(network.parameters(), lr=LR),
                  epochs, batch_size=BATCH_SIZE, seed=seed, verbose=False)
    return network, history


def torch_mlp():
    """The same network in PyTorch, under the tinygrad_edu MLP's names (``layers.0`` ... ``layers.2``).

    Its forward gives the scores before the softmax, which is what the loss takes (as
    ``MLP.logits`` does in tinygrad_edu); the softmax has no weights, so no key of its own.
    """

    class MLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(SIZES[:-1], SIZES[1:]))

        def forward(self, x):
            for layer in self.layers[:-1]:
                x = torch.relu(layer(x))
            return self.layers[-1](x)

    return MLP()


def _train_one_process(rank, port, state, X_train, y_train, epochs, seed, folder):
    """Part 3, in each of the processes: join the group, train the DDP-wrapped twin, save what it ended with."""
    torch.set_num_threads(1)  # the processes share the machine's cores
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=PROCESSES)
    try:
        model = torch_mlp()
        model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        optimizer = torch.optim.SGD(ddp.parameters(), lr=LR)
        data = torch.utils.data.TensorDataset(torch.from_numpy(X_train), torch.from_numpy(y_train))
        sampler = torch.utils.data.DistributedSampler(data, num_replicas=PROCESSES, rank=rank, shuffle=True, seed=seed)
        loader = torch.utils.data.DataLoader(data, batch_size=BATCH_SIZE // PROCESSES, sampler=sampler)
        losses = []
        for epoch in range(epochs):
            sampler.set_epoch(epoch)  # a new shuffle each epoch, the same in every process
            total = torch.zeros(2)  # loss sum and sample count over this process's half
            for x, y in loader:
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(ddp(x), y)
                loss.backward()  # DDP averages the gradients of all processes here
                optimizer.step()
                total += torch.tensor([loss.item() * len(y), len(y)])
            dist.all_reduce(total)  # both halves: the epoch's mean loss over the whole training set
            losses.append((total[0] / total[1]).item())
        torch.save({"state": model.state_dict(), "losses": losses}, Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def continue_in_pytorch(network, X_train, y_train, epochs, seed):
    """Parts 2 and 3: the weights into PyTorch, DDP training over two processes; returns each process's
    final state dict and the loss per epoch."""
    state = dict(torch_state_dict(network))
    with tempfile.TemporaryDirectory() as folder:
        mp.spawn(_train_one_process, args=(_free_port(), state, X_train, y_train, epochs, seed, folder),
                 nprocs=PROCESSES, join=True)
        results = [torch.load(Path(folder) / f"rank{rank}.pt", weights_only=True) for rank in range(PROCESSES)]
    return [result["state"] for result in results], results[0]["losses"]


def write_results(network, X_train, y_train, losses, tinygrad_epochs, out):
    """Part 4: the pictures and the report of the network back in tinygrad_edu; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    network.zero_grad()
    cross_entropy(network.logits(tg.Tensor(X_train)), y_train).backward()  # one pass over the training set
    report = str(gradient_report(network))
    network.zero_grad()
    print(report)
    (out / "gradients.txt").write_text(report + "\n", encoding="utf-8")
    written.append(out / "gradients.txt")
    tg.save({"model": network.state_dict(), "dataset": "iris", "network": "MLP [4, 16, 8, 3], relu, relu, softmax"},
            out / "weights.safetensors")  # tinygrad-edu export reads it, like a demo run's
    written.append(out / "weights.safetensors")
    if plots.have_matplotlib():
        title = f"epochs 1-{tinygrad_epochs}: tinygrad_edu; then PyTorch DDP over {PROCESSES} processes"
        written.append(plots.plot_loss_curve(losses, out / "loss_curve.png", title=title))
    if shutil.which("dot"):
        from tinygrad_edu.tools.trace import step_graph
        from tinygrad_edu.tools.viz import write_picture

        digraph = step_graph(network.logits, tg.Tensor(X_train[:4], name="x"), y_train[:4], params=network)
        network.zero_grad()
        written.append(write_picture(digraph, out / "training_step.svg"))
    return written


def main(epochs=500, torch_epochs=500, seed=2, out="continue_in_pytorch_out"):
    """All four parts; returns a dict of what happened (losses, accuracies, whether the processes agreed)."""
    if torch is None:
        sys.exit('this example needs PyTorch: pip install "tinygrad_edu[torch]"')
    X_train, X_test, y_train, y_test = load_data(seed)
    network, history = train_in_tinygrad(X_train, y_train, epochs, seed)
    accuracy = 100 * evaluate(network.logits, X_test, y_test).accuracy
    print(f"tinygrad_edu: {epochs} epochs, loss {history.loss[-1]:.4f}, test accuracy {accuracy:.2f}%")

    states, torch_losses = continue_in_pytorch(network, X_train, y_train, torch_epochs, seed)
    agree = all(torch.equal(states[0][key], other[key]) for other in states[1:] for key in states[0])
    print(f"PyTorch: DistributedDataParallel over {PROCESSES} processes (gloo on 127.0.0.1), {torch_epochs} epochs, "
          f"loss {torch_losses[-1]:.4f}; the processes ended with the same weights: {agree}")

    load_torch_state_dict(network, states[0])
    train_accuracy = 100 * evaluate(network.logits, X_train, y_train).accuracy
    test_accuracy = 100 * evaluate(network.logits, X_test, y_test).accuracy
    print(f"Back in tinygrad_edu: training accuracy {train_accuracy:.2f}%, test accuracy {test_accuracy:.2f}%\n")
    out = Path(out)
    written = write_results(network, X_train, y_train, list(history.loss) + torch_losses, epochs, out)
    print(f"\nWrote to {out}: " + ", ".join(path.name for path in written))
    return {"tinygrad_loss": list(history.loss), "torch_loss": torch_losses, "processes_agree": agree,
            "train_accuracy": train_accuracy, "test_accuracy": test_accuracy}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=500, help="epochs in tinygrad_edu (default: 500)")
    parser.add_argument("--torch-epochs", type=int, default=500, help="epochs in PyTorch after them (default: 500)")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--out", default="continue_in_pytorch_out", help="folder for the pictures and the report")
    main(**vars(parser.parse_args()))
