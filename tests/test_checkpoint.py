"""Checkpoints: round trips, interop with safetensors readers, atomic writes, hostile and damaged files."""
import errno
import json
import os
import pickle
import struct
import tracemalloc

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import nn
from tinygrad_edu.tools import atomic, checkpoint


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = [Dense(3, 4), Dense(4, 2)]

    def forward(self, x):
        return self.layers[1](self.layers[0](x).tanh())


class Dense(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(tg.randn(n_in, n_out).data)
        self.bias = nn.Parameter(np.zeros(n_out, np.float32))

    def forward(self, x):
        return x @ self.weight + self.bias


def full_state():
    """A model and an optimizer-style state with every kind of value a checkpoint holds."""
    return {
        "model": TwoLayer().state_dict(),
        "optimizer": {
            "state": {0: {"momentum": np.arange(6.0).reshape(2, 3), "step": 7}, 1: {"momentum": np.ones(4, np.float32)}},
            "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "params": [0, 1], "nesterov": False, "name": None}],
        },
        "epoch": 3,
        "best_loss": float("nan"),
        "note": "ünïcode ✓",
        "mask": np.array([[True, False]]),
        "labels": np.array([3, 1, 2], dtype=np.int64),
        "scalar": np.float64(2.5),
        "half": np.array([1.5, -2.0], dtype=np.float16),
        "empty": np.zeros((0, 3), np.float32),
        "tensor": tg.Tensor([1.0, 2.0], requires_grad=True),
        "transposed": np.arange(6, dtype=np.float32).reshape(2, 3).T,
    }


def assert_same(a, b, where="state"):
    """Deep equality that also checks types and dtypes (and treats NaN as equal to NaN)."""
    if isinstance(a, dict):  # an OrderedDict comes back as a plain dict, in the same order
        assert type(b) is dict, f"{where}: {type(b).__name__} is not a dict"
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
        return
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, tg.Tensor):
        assert a.requires_grad == b.requires_grad, where
        assert_same(a.data, b.data, where)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b), where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


# ---------------------------------------------------------------------------- round trips


def test_round_trip_of_everything(tmp_path):
    state = full_state()
    path = tmp_path / "ckpt.safetensors"
    tg.save(state, path)
    loaded = tg.load(path)
    assert_same(state, loaded)
    assert all(a.flags.writeable for a in loaded["model"].values())


def test_model_reloads_into_a_fresh_model(tmp_path):
    tg.manual_seed(1)
    model = TwoLayer()
    x = tg.randn(5, 3)
    expected = model(x).data
    tg.save(model.state_dict(), str(tmp_path / "m.safetensors"))
    tg.manual_seed(2)
    fresh = TwoLayer()
    assert not np.allclose(fresh(x).data, expected)
    fresh.load_state_dict(tg.load(tmp_path / "m.safetensors"))
    np.testing.assert_array_equal(fresh(x).data, expected)


def test_other_safetensors_readers_see_the_weights_by_name(tmp_path):
    model = TwoLayer()
    path = str(tmp_path / "m.safetensors")
    tg.save({"model": model.state_dict(), "step": 10}, path)
    plain = safetensors.numpy.load_file(path)
    assert set(plain) == {"model.layers.0.weight", "model.layers.0.bias", "model.layers.1.weight", "model.layers.1.bias"}
    np.testing.assert_array_equal(plain["model.layers.1.weight"], model.layers[1].weight.data)
    with safetensors.safe_open(path, framework="np") as f:
        assert json.loads(f.metadata()[checkpoint.STRUCTURE_KEY])["version"] == 1


def test_colliding_names_stay_distinct(tmp_path):
    state = {"a.b": np.ones(1), "a": {"b": np.zeros(1)}, "__metadata__": np.full(1, 2.0), "": np.full(1, 3.0)}
    tg.save(state, tmp_path / "c.safetensors")
    assert_same(state, tg.load(tmp_path / "c.safetensors"))


def test_state_without_arrays(tmp_path):
    state = {"epoch": 1, "history": [0.5, 0.25], "nested": {"deep": {"deeper": (1, "x", None, True)}}}
    tg.save(state, tmp_path / "s.safetensors")
    assert_same(state, tg.load(tmp_path / "s.safetensors"))


@pytest.mark.parametrize("value, match", [
    ({1, 2}, r"state\['bad'\] is a set"),
    (lambda: 0, r"state\['bad'\] is a function"),
    (np.array(["a"]), r"state\['bad'\] has dtype <U1"),
    (np.array([1 + 2j]), r"dtype complex128"),
    ({(1, 2): 0}, r"state\['bad'\] has a key \(1, 2\)"),
    ([object()], r"state\['bad'\]\[0\] is a object"),
])
def test_unsupported_values_are_refused_naming_where(tmp_path, value, match):
    with pytest.raises(TypeError, match=match):
        tg.save({"bad": value}, tmp_path / "x.safetensors")
    assert not os.listdir(tmp_path)


def test_save_needs_a_dict(tmp_path):
    with pytest.raises(TypeError, match="expected a dict"):
        tg.save([np.ones(2)], tmp_path / "x.safetensors")


# ---------------------------------------------------------------------------- atomic writes


def folder_listing(path):
    return sorted(os.listdir(path))


@pytest.fixture
def previous(tmp_path):
    path = tmp_path / "model.safetensors"
    tg.save({"w": np.arange(1000.0), "epoch": 1}, path)
    return path, path.read_bytes()


def fail_halfway(file, payload):
    file.write(payload[: len(payload) // 2])
    file.flush()
    raise OSError(errno.ENOSPC, "No space left on device")


def interrupt_halfway(file, payload):
    file.write(payload[: len(payload) // 2])
    raise KeyboardInterrupt


@pytest.mark.parametrize("target, replacement, error", [
    ("atomic._write_all", fail_halfway, OSError),
    ("atomic._write_all", interrupt_halfway, KeyboardInterrupt),
    ("os.fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")), OSError),
    ("os.replace", lambda a, b: (_ for _ in ()).throw(OSError(errno.EXDEV, "cross-device")), OSError),
], ids=["disk-full-midway", "interrupted-midway", "fsync-fails", "rename-fails"])
def test_failed_save_leaves_previous_checkpoint_intact(monkeypatch, previous, target, replacement, error):
    path, old_bytes = previous
    before = folder_listing(path.parent)
    module, _, name = target.rpartition(".")
    monkeypatch.setattr({"atomic": atomic, "os": os}[module], name, replacement)
    with pytest.raises(error):
        tg.save({"w": np.zeros(5000), "epoch": 2}, path)
    monkeypatch.undo()
    assert path.read_bytes() == old_bytes
    assert tg.load(path)["epoch"] == 1
    assert folder_listing(path.parent) == before  # no temporary file left behind


def test_failed_first_save_leaves_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(atomic, "_write_all", fail_halfway)
    with pytest.raises(OSError, match="No space"):
        tg.save({"w": np.ones(100)}, tmp_path / "new.safetensors")
    assert os.listdir(tmp_path) == []


def test_overwrite_replaces_and_uses_normal_permissions(previous):
    path, _ = previous
    tg.save({"w": np.ones(3), "epoch": 2}, path)
    assert tg.load(path)["epoch"] == 2
    umask = os.umask(0)
    os.umask(umask)
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert folder_listing(path.parent) == ["model.safetensors"]


posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits, links and process ids")


@posix_only
def test_overwriting_keeps_the_files_permission_bits(previous):
    path, _ = previous
    path.chmod(0o600)
    tg.save({"epoch": 2}, path)
    assert path.stat().st_mode & 0o777 == 0o600 and tg.load(path)["epoch"] == 2
    path.chmod(0o644)
    tg.save({"epoch": 3}, path)
    assert path.stat().st_mode & 0o777 == 0o644


@posix_only
def test_saving_to_a_symlink_rewrites_its_target_and_keeps_the_link(tmp_path):
    target = tmp_path / "runs" / "best.safetensors"
    target.parent.mkdir()
    tg.save({"epoch": 1}, target)
    link = tmp_path / "latest.safetensors"
    link.symlink_to(target)
    tg.save({"epoch": 2}, link)
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert tg.load(target)["epoch"] == 2
    assert sorted(os.listdir(tmp_path)) == ["latest.safetensors", "runs"]


def test_errors_name_the_users_path_never_the_temporary_file(monkeypatch, tmp_path):
    path = tmp_path / "model.safetensors"
    monkeypatch.setattr(atomic, "_write_all", fail_halfway)
    with pytest.raises(OSError) as info:
        tg.save({"w": np.ones(3)}, path)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert atomic.TEMP_MARK not in str(info.value) and info.value.__cause__ is None
    monkeypatch.undo()
    with pytest.raises(IsADirectoryError) as info:  # the rename onto a folder fails
        tg.save({"w": np.ones(3)}, tmp_path)
    assert info.value.filename == str(tmp_path) and atomic.TEMP_MARK not in str(info.value)
    with pytest.raises(FileNotFoundError) as info:
        tg.save({"w": np.ones(3)}, tmp_path / "no-such-folder" / "m.safetensors")
    assert "no-such-folder" in str(info.value) and atomic.TEMP_MARK not in str(info.value)


def test_a_long_file_name_the_file_system_accepts_can_be_saved(tmp_path):
    path = tmp_path / ("m" * 238 + ".safetensors")  # 250 characters; most file systems allow 255
    path.write_bytes(b"probe")  # the file system takes the name itself
    tg.save({"epoch": 1}, path)
    assert tg.load(path)["epoch"] == 1 and os.listdir(tmp_path) == [path.name]


@posix_only
def test_the_next_save_removes_temporary_files_of_a_killed_save(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)  # a process that has exited
    stale = tmp_path / f".model.safetensors{atomic.TEMP_MARK}-{dead_pid}-0.tmp"
    stale.write_bytes(b"half a checkpoint")
    live = tmp_path / f".other.safetensors{atomic.TEMP_MARK}-{os.getppid()}-0.tmp"
    live.write_bytes(b"a save in progress in a live process")
    unrelated = tmp_path / ".notes.tmp"
    unrelated.write_bytes(b"not ours")
    tg.save({"epoch": 1}, tmp_path / "other.safetensors")
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, unrelated.name, "other.safetensors"])


def test_masked_arrays_are_refused_not_saved_without_their_mask(tmp_path):
    masked = np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False])
    with pytest.raises(TypeError, match=r"state\['stats'\]\['x'\] is a masked array.*lose the mask"):
        tg.save({"stats": {"x": masked}}, tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


# ---------------------------------------------------------------------------- damaged and hostile files


def write_header(path, header, data=b"", length=None):
    """A safetensors-shaped file with the given JSON header (no padding) and data bytes."""
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw) if length is None else length) + raw + data)
    return path


def our_metadata():
    return {checkpoint.STRUCTURE_KEY: json.dumps({"version": 1, "tree": {"dict": []}}), checkpoint.CHECKSUM_KEY: "0"}


def entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def ours(**tensors):
    """A header with our metadata and the given tensor entries."""
    return {"__metadata__": our_metadata(), **tensors}


# case: (header, data bytes, header length to claim (None: the true one), expected message)
HOSTILE = {
    "absurd-header-length": ({"__metadata__": {}}, b"", 2**63, "header length 9223372036854775808 is more than"),
    "not-json": (None, b"", None, "not valid JSON"),
    "json-not-object": ([1, 2], b"", None, "not a JSON object"),
    "no-metadata": ({"w": entry()}, bytes(8), None, "not a tinygrad_edu checkpoint"),
    "unknown-dtype": (ours(w=entry(dtype="O8")), bytes(8), None, "unknown dtype 'O8'"),
    "negative-dim": (ours(w=entry(shape=(-2,))), bytes(8), None, "invalid shape"),
    "float-dim": (ours(w=entry(shape=(2.0,))), bytes(8), None, "invalid shape"),
    "offsets-past-end": (ours(w=entry(offsets=(0, 800))), bytes(8), None, "outside the 8 data bytes"),
    "offsets-reversed": (ours(w=entry(offsets=(8, 0))), bytes(8), None, "outside"),
    "shape-vs-bytes": (ours(w=entry(shape=(3,))), bytes(8), None,
                       r"shape \[3\] of F32 needs 12 bytes but its data_offsets cover 8"),
    "huge-shape": (ours(w=entry(shape=(10**6,) * 3)), bytes(8), None, "needs 4000000000000000000 bytes"),
    "overlap": (ours(a=entry(), b=entry(offsets=(4, 12))), bytes(12), None, "overlaps"),
    "gap": (ours(a=entry(offsets=(4, 12))), bytes(12), None, "belong to no tensor"),
    "trailing": (ours(a=entry()), bytes(16), None, "tensors cover 8"),
    "bad-entry": (ours(a="x"), b"", None, "not by dtype, shape and data_offsets"),
    "checksum": (ours(a=entry()), bytes(8), None, "checksum mismatch"),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_headers_are_rejected_naming_file_and_problem(tmp_path, case):
    header, data, length, match = HOSTILE[case]
    path = tmp_path / f"{case}.safetensors"
    if header is None:
        path.write_bytes(struct.pack("<Q", 5) + b"{nope")
    else:
        write_header(path, header, data, length)
    with pytest.raises(tg.CheckpointError, match=match) as info:
        tg.load(path)
    assert str(path) in str(info.value)


def test_duplicate_keys_are_rejected(tmp_path):
    path = tmp_path / "dup.safetensors"
    raw = b'{"__metadata__":{},"a":' + json.dumps(entry()).encode() + b',"a":' + json.dumps(entry()).encode() + b"}"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(8))
    with pytest.raises(tg.CheckpointError, match="duplicate key 'a'"):
        tg.load(path)


@pytest.mark.parametrize("content, match", [
    (b"", "empty"),
    (b"\x01\x02", "only 2 bytes"),
    (b"hello world, not a checkpoint", "header length"),
    (pickle.dumps({"w": [1.0, 2.0]}), "header length|not valid JSON"),
], ids=["empty", "tiny", "text", "pickle"])
def test_wrong_format_files(tmp_path, content, match):
    path = tmp_path / "f.safetensors"
    path.write_bytes(content)
    with pytest.raises(tg.CheckpointError, match=match):
        tg.load(path)


def test_numpy_file_is_rejected(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.ones(3))
    with pytest.raises(tg.CheckpointError, match=str(path)):
        tg.load(path)


def test_foreign_safetensors_file_is_rejected(tmp_path):
    path = str(tmp_path / "foreign.safetensors")
    safetensors.numpy.save_file({"w": np.ones(3)}, path)
    with pytest.raises(tg.CheckpointError, match="not a tinygrad_edu checkpoint"):
        tg.load(path)


class _Exploit:
    ran = False

    def __reduce__(self):
        return (_Exploit.mark, ())

    @staticmethod
    def mark():
        _Exploit.ran = True


def test_a_pickle_payload_is_never_executed(tmp_path):
    path = tmp_path / "evil.safetensors"
    payload = pickle.dumps(_Exploit())
    write_header(path, {"__metadata__": {checkpoint.STRUCTURE_KEY: payload.hex(), checkpoint.CHECKSUM_KEY: "0"}}, payload)
    with pytest.raises(tg.CheckpointError):
        tg.load(path)
    path.write_bytes(payload)
    with pytest.raises(tg.CheckpointError):
        tg.load(path)
    assert not _Exploit.ran


def test_deeply_nested_structure_is_rejected_not_crashing(tmp_path):
    path = tmp_path / "deep.safetensors"
    structure = '{"version": 1, "tree": ' + '{"list": [' * 50_000 + "]}" * 50_000 + "}"
    write_header(path, {"__metadata__": {checkpoint.STRUCTURE_KEY: structure, checkpoint.CHECKSUM_KEY: "0"}})
    with pytest.raises(tg.CheckpointError):
        tg.load(path)


def test_hostile_sizes_allocate_no_more_than_the_file(tmp_path):
    path = write_header(tmp_path / "h.safetensors",
                        {"__metadata__": our_metadata(), "w": entry(shape=(2**40,), offsets=(0, 2**42))}, bytes(8))
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with pytest.raises(tg.CheckpointError):
            tg.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size + 100_000


def test_a_hostile_structure_cannot_make_load_allocate_many_times_the_file(tmp_path):
    nodes = ",".join(['{"list": []}'] * 150_000)  # 12 bytes of JSON each, a few hundred bytes of objects
    structure = '{"version": 1, "tree": {"dict": [["x", {"list": [' + nodes + "]}]]}}"
    path = write_header(tmp_path / "dense.safetensors",
                        {"__metadata__": {checkpoint.STRUCTURE_KEY: structure, checkpoint.CHECKSUM_KEY: "0"}})
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with pytest.raises(tg.CheckpointError, match="more than 4 times the file's"):
            tg.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * size


def test_save_refuses_what_load_would_refuse(tmp_path):
    with pytest.raises(ValueError, match="keep long lists of numbers as arrays"):
        tg.save({"x": [[] for _ in range(40_000)]}, tmp_path / "m.safetensors")
    tg.save({"x": [[] for _ in range(1000)], "w": np.ones(10)}, tmp_path / "m.safetensors")  # small: fine
    assert len(tg.load(tmp_path / "m.safetensors")["x"]) == 1000


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        tg.load(tmp_path / "absent.safetensors")


# ---------------------------------------------------------------------------- fuzzing real checkpoints


@pytest.fixture(scope="module")
def real_checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    state = full_state()
    path = folder / "real.safetensors"
    tg.save(state, path)
    return state, path.read_bytes(), folder


@settings(max_examples=200)
@given(data=st.data())
def test_mutated_or_truncated_checkpoint_loads_identically_or_raises(real_checkpoint, data):
    state, original, folder = real_checkpoint
    header_end = 8 + struct.unpack("<Q", original[:8])[0]
    content = bytearray(original)
    for _ in range(data.draw(st.integers(0, 3), label="mutations")):
        # Half the mutations land in the 8-byte length or the JSON header, where parsing happens.
        position = data.draw(st.one_of(st.integers(0, header_end - 1), st.integers(0, len(content) - 1)), label="at")
        content[position] = data.draw(st.integers(0, 255), label="byte")
    if data.draw(st.booleans(), label="truncate"):
        content = content[: data.draw(st.integers(0, len(content)), label="length")]
    path = folder / "mutated.safetensors"
    path.write_bytes(bytes(content))
    try:
        loaded = tg.load(path)
    except tg.CheckpointError as e:
        assert str(path) in str(e)
    else:
        assert_same(state, loaded)
