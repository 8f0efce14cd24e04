"""Checkpoints: ``tg.save(state, path)`` and ``tg.load(path)`` in the safetensors format.

``state`` is a dict as ``Module.state_dict()`` or an optimizer's ``state_dict()``
returns: arrays and tensors, plain numbers, strings and None, nested in dicts,
lists and tuples. The arrays become the file's tensors, named by their path
(``layers.0.weight``, ``optimizer.state.0.momentum``), so other frameworks'
safetensors loaders open the weights too. Everything else -- the nesting, the
numbers and strings, which stored tensor goes where -- is JSON in the format's
string metadata, with a SHA-256 checksum over that JSON and every tensor.

Safety, in order of importance:

* Nothing is ever unpickled or executed: the file is a JSON header plus raw bytes.
* Saving is atomic (``tools/atomic.py``): the bytes go to a temporary file in the
  same folder, are flushed and fsynced, and only then replace ``path``. A crash or
  a full disk midway leaves the previous checkpoint untouched; overwriting keeps
  the file's permission bits, a symbolic link keeps pointing at the rewritten file,
  and errors name ``path``, never the temporary file.
* A masked array is refused: saving its data without the mask would be a silent loss.
* Loading checks the header before anything is allocated (header length within
  the file, valid JSON, known dtypes, byte ranges inside the file, in order, not
  overlapping, covering the data, each exactly ``prod(shape) * itemsize`` long),
  then the checksum, then the structure. A truncated, corrupted, empty, foreign
  or hostile file raises ``CheckpointError`` naming the file and the problem.
  No array is allocated beyond the file's own size, and JSON (header and structure)
  whose Python objects could take more than a few times the file's size is refused
  before it is parsed.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
from collections.abc import Mapping

import numpy as np
import safetensors.numpy

from ..engine.creation import from_numpy
from ..engine.tensor import Tensor
from .atomic import write_atomic

__all__ = ["save", "load", "CheckpointError"]

STRUCTURE_KEY = "tinygrad_edu.structure"  # metadata entry: the JSON tree (see _encode)
CHECKSUM_KEY = "tinygrad_edu.sha256"  # metadata entry: SHA-256 over the tree and every tensor
FORMAT_VERSION = 1

# safetensors dtype codes we read and write, with their item sizes in bytes.
_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F16": 2, "U16": 2, "I16": 2,
             "F32": 4, "U32": 4, "I32": 4, "F64": 8, "U64": 8, "I64": 8}
_CODE = {np.dtype(np.bool_): "BOOL", np.dtype(np.uint8): "U8", np.dtype(np.int8): "I8",
         np.dtype(np.float16): "F16", np.dtype(np.uint16): "U16", np.dtype(np.int16): "I16",
         np.dtype(np.float32): "F32", np.dtype(np.uint32): "U32", np.dtype(np.int32): "I32",
         np.dtype(np.float64): "F64", np.dtype(np.uint64): "U64", np.dtype(np.int64): "I64"}
_MAX_DIMS = 64  # NumPy's own limit


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupted, not a checkpoint, or hostile; the message says which file and why."""


# ---------------------------------------------------------------------------- save


def save(state, path) -> None:
    """Write ``state`` (a dict of arrays, tensors, numbers, strings, nested dicts/lists) to ``path``.

    The write is atomic: ``path`` holds either the previous checkpoint or the new
    one, never a mixture, even if the process dies or the disk fills midway.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"save: expected a dict (e.g. model.state_dict()), got {type(state).__name__}")
    tensors = {}
    tree = _encode(state, (), tensors)
    structure = json.dumps({"version": FORMAT_VERSION, "tree": tree}, allow_nan=True)
    metadata = {STRUCTURE_KEY: structure, CHECKSUM_KEY: _checksum(structure, tensors)}
    payload = safetensors.numpy.save(tensors, metadata=metadata)
    try:  # what load would refuse is not written: every saved checkpoint loads
        (header_len,) = struct.unpack("<Q", payload[:8])
        _check_json_cost(payload[8:8 + header_len].decode("utf-8"), len(payload), "header")
        _check_json_cost(structure, len(payload), "structure")
    except _Bad as e:
        raise ValueError(f"save: {e}; keep long lists of numbers as arrays") from None
    write_atomic(path, payload)


def _encode(value, path, tensors):
    """The JSON tree for ``value``; its arrays are added to ``tensors`` under unique names.

    Plain JSON scalars stand for themselves; containers and arrays are one-key objects:
    ``{"dict": [[key, node], ...]}`` (keys are str or int), ``{"list": [...]}``,
    ``{"tuple": [...]}``, ``{"array": name}`` with ``"as": "tensor"`` (plus
    ``"requires_grad"``) or ``"as": "scalar"`` for a Tensor or a NumPy scalar.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, np.generic):
        return int(value) if isinstance(value, int) else float(value)
    if isinstance(value, Tensor):
        return {"array": _add_array(value.data, path, tensors), "as": "tensor", "requires_grad": value.requires_grad}
    if isinstance(value, np.generic):
        return {"array": _add_array(np.asarray(value), path, tensors), "as": "scalar"}
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(f"save: {_label(path)} is a masked array; a checkpoint would keep its data and lose "
                        "the mask. Save both as arrays (x.data and np.ma.getmaskarray(x)), or x.filled(value)")
    if isinstance(value, np.ndarray):
        return {"array": _add_array(value, path, tensors)}
    if isinstance(value, Mapping):
        items = []
        for key, item in value.items():
            if isinstance(key, np.integer):
                key = int(key)
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"save: {_label(path)} has a key {key!r} of type {type(key).__name__}; "
                                "checkpoint dict keys must be strings or integers")
            items.append([key, _encode(item, path + (key,), tensors)])
        return {"dict": items}
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return {kind: [_encode(item, path + (i,), tensors) for i, item in enumerate(value)]}
    raise TypeError(f"save: {_label(path)} is a {type(value).__name__}; a checkpoint holds arrays, tensors, "
                    "numbers, strings, None, and dicts, lists and tuples of them")


def _add_array(array, path, tensors) -> str:
    if array.dtype.newbyteorder("=") not in _CODE:
        raise TypeError(f"save: {_label(path)} has dtype {array.dtype}, which a checkpoint cannot hold "
                        f"(supported: {', '.join(sorted(str(d) for d in _CODE))})")
    name = ".".join(str(p) for p in path) or "tensor"
    unique, n = name, 1
    while unique in tensors or unique == "__metadata__":
        unique, n = f"{name}#{n}", n + 1
    # Contiguous and little-endian: safetensors stores raw bytes in exactly that layout.
    tensors[unique] = np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C")
    return unique


def _label(path) -> str:
    return "state" + "".join(f"[{p!r}]" for p in path)


def _checksum(structure: str, tensors) -> str:
    """SHA-256 over the structure JSON and each tensor's name, dtype, shape and bytes, by name."""
    digest = hashlib.sha256()
    encoded = structure.encode("utf-8")
    digest.update(b"%d\n" % len(encoded) + encoded)
    for name in sorted(tensors):
        array = tensors[name]
        code = _CODE[array.dtype.newbyteorder("=")]
        digest.update(json.dumps([name, code, list(array.shape)]).encode("utf-8") + b"\n")
        digest.update(np.asarray(array, dtype=array.dtype.newbyteorder("<"), order="C"))
    return digest.hexdigest()


# ---------------------------------------------------------------------------- load


def load(path) -> dict:
    """Read a checkpoint written by ``tg.save``: the same nesting, with arrays as ndarrays.

    Tensors come back as Tensors (with their ``requires_grad``), NumPy scalars as NumPy
    scalars, tuples as tuples. Raises ``CheckpointError`` if the file is not a
    complete, unchanged checkpoint; ``OSError`` if it cannot be read at all.
    """
    path = os.fspath(path)
    with open(path, "rb") as file:
        data = file.read()
    try:
        structure, checksum = _check_header(data)
        _check_json_cost(structure, len(data), "structure")
        try:
            arrays = safetensors.numpy.load(data)
        except Exception as e:  # our checks passed, so this is unexpected: still a bad file
            raise _Bad(f"safetensors could not read it ({type(e).__name__}: {e})") from e
        if _checksum(structure, arrays) != checksum:
            raise _Bad("checksum mismatch: the file was changed or corrupted after it was written")
        tree = json.loads(structure, object_pairs_hook=_no_duplicate_keys)
        if not isinstance(tree, dict) or tree.get("version") != FORMAT_VERSION or "tree" not in tree:
            raise _Bad(f"unsupported structure (expected format version {FORMAT_VERSION})")
        used = set()
        state = _decode(tree["tree"], arrays, used)
        if used != set(arrays):
            raise _Bad(f"tensors {sorted(set(arrays) - used)} are stored but not part of the structure")
        if not isinstance(state, dict):
            raise _Bad("the top level is not a dict")
        return state
    except _Bad as e:
        raise CheckpointError(f"{path}: {e}") from e.__cause__
    except Exception as e:  # anything a damaged file can still provoke (RecursionError on absurd nesting, ...)
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from e


class _Bad(Exception):
    """A problem found while reading; ``load`` adds the file name and raises CheckpointError."""


# JSON is denser than the Python objects it becomes ("[]," is 3 bytes of file and a
# 64-byte list), so a small hostile file could make parsing allocate many times its
# size. These per-item costs bound what parsing and rebuilding allocate (measured with
# tracemalloc on CPython, with margin); text that would cost more than a few times the
# file's size (and more than a floor no real checkpoint's JSON reaches) is refused
# before it is parsed.
_COST_PER_CONTAINER = 200  # a list or dict, json's list of key/value pairs, and our rebuilt copy
_COST_PER_ITEM = 64  # a slot in a container holding a number or a string object
_COST_PER_CHAR = 4  # string contents: up to 4 bytes a character
JSON_COST_FACTOR = 4
JSON_COST_FLOOR = 16 * 2**20


def _json_cost(text: str) -> int:
    """Bytes that parsing ``text`` can allocate at most, counted without parsing it."""
    containers = text.count("[") + text.count("{")
    items = text.count(",") + text.count(":") + (text.count('"') - text.count('\\"')) // 2
    return _COST_PER_CONTAINER * containers + _COST_PER_ITEM * items + _COST_PER_CHAR * len(text)


def _check_json_cost(text: str, file_size: int, what: str) -> None:
    cost = _json_cost(text)
    allowed = max(JSON_COST_FLOOR, JSON_COST_FACTOR * file_size)
    if cost > allowed:
        raise _Bad(f"reading its {what} could take about {cost:,} bytes of memory, more than "
                   f"{JSON_COST_FACTOR} times the file's {file_size:,} bytes")


def _no_duplicate_keys(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _check_header(data: bytes):
    """Validate the safetensors header against the file's size; return (structure, checksum)."""
    if len(data) < 8:
        what = "empty" if not data else f"only {len(data)} bytes long"
        raise _Bad(f"the file is {what}; a safetensors file starts with an 8-byte header length")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > len(data) - 8:
        raise _Bad(f"header length {header_len} is more than the {len(data) - 8} bytes after it "
                   "(a truncated file, or not a safetensors file)")
    try:
        text = str(memoryview(data)[8:8 + header_len], "utf-8")  # decoded in place: no copy of the bytes
    except UnicodeDecodeError as e:
        raise _Bad(f"the header is not valid JSON ({e})") from None
    _check_json_cost(text, len(data), "header")
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except (ValueError, RecursionError) as e:
        raise _Bad(f"the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise _Bad("the header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if not isinstance(metadata, dict) or not isinstance(metadata.get(STRUCTURE_KEY), str) \
            or not isinstance(metadata.get(CHECKSUM_KEY), str):
        raise _Bad("it is not a tinygrad_edu checkpoint (no structure and checksum in its metadata); "
                   "a safetensors file from elsewhere opens with safetensors.numpy.load_file")
    data_len = len(data) - 8 - header_len
    spans = []
    for name, info in header.items():
        spans.append(_check_entry(name, info, data_len))
    spans.sort()
    end = 0
    for begin, stop, name in spans:
        if begin < end:
            raise _Bad(f"tensor {name!r} overlaps another tensor's bytes (offset {begin} < {end})")
        if begin > end:
            raise _Bad(f"bytes {end}..{begin} of the data belong to no tensor")
        end = stop
    if end != data_len:
        raise _Bad(f"the data is {data_len} bytes but the tensors cover {end} (a truncated or padded file)")
    return metadata[STRUCTURE_KEY], metadata[CHECKSUM_KEY]


def _check_entry(name, info, data_len):
    """(begin, end, name) of one tensor entry whose dtype, shape and byte range all agree."""
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        raise _Bad(f"tensor {name!r} is described by {info!r}, not by dtype, shape and data_offsets")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype not in _ITEMSIZE:
        raise _Bad(f"tensor {name!r} has an unknown dtype {dtype!r}")
    if not isinstance(shape, list) or len(shape) > _MAX_DIMS or \
            not all(type(n) is int and n >= 0 for n in shape):
        raise _Bad(f"tensor {name!r} has an invalid shape {shape!r}")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(type(n) is int for n in offsets):
        raise _Bad(f"tensor {name!r} has invalid data_offsets {offsets!r}")
    begin, end = offsets
    if not 0 <= begin <= end <= data_len:
        raise _Bad(f"tensor {name!r} has data_offsets [{begin}, {end}] outside the {data_len} data bytes")
    count = 1
    for n in shape:  # Python ints: an absurd shape cannot overflow, and is caught by the comparison
        count *= n
    if count * _ITEMSIZE[dtype] != end - begin:
        raise _Bad(f"tensor {name!r}: shape {shape} of {dtype} needs {count * _ITEMSIZE[dtype]} bytes "
                   f"but its data_offsets cover {end - begin}")
    return begin, end, name


def _decode(node, arrays, used):
    """Rebuild the value for one JSON tree node (see ``_encode``), checking every node's form."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, dict) and len(node) == 1 and isinstance(node.get("dict"), list):
        result = {}
        for pair in node["dict"]:
            if not isinstance(pair, list) or len(pair) != 2 or isinstance(pair[0], bool) \
                    or not isinstance(pair[0], (str, int)):
                raise _Bad(f"malformed dict entry {pair!r} in the structure")
            if pair[0] in result:
                raise _Bad(f"duplicate key {pair[0]!r} in the structure")
            result[pair[0]] = _decode(pair[1], arrays, used)
        return result
    if isinstance(node, dict) and len(node) == 1 and isinstance(node.get("list"), list):
        return [_decode(item, arrays, used) for item in node["list"]]
    if isinstance(node, dict) and len(node) == 1 and isinstance(node.get("tuple"), list):
        return tuple(_decode(item, arrays, used) for item in node["tuple"])
    if isinstance(node, dict) and isinstance(node.get("array"), str):
        return _decode_array(node, arrays, used)
    raise _Bad(f"malformed structure node {str(node)[:80]!r}")


def _decode_array(node, arrays, used):
    name, kind = node["array"], node.get("as", "array")
    if name not in arrays:
        raise _Bad(f"the structure refers to a tensor {name!r} that is not stored")
    if name in used:
        raise _Bad(f"the structure uses tensor {name!r} twice")
    used.add(name)
    array = arrays[name]
    if not array.flags.writeable:
        array = array.copy()
    if kind == "array" and set(node) == {"array"}:
        return array
    if kind == "scalar" and set(node) == {"array", "as"} and array.ndim == 0:
        return array[()]
    if kind == "tensor" and set(node) == {"array", "as", "requires_grad"} \
            and isinstance(node["requires_grad"], bool):
        if node["requires_grad"] and array.dtype.kind != "f":
            raise _Bad(f"tensor {name!r} of dtype {array.dtype} cannot require grad")
        return from_numpy(array, requires_grad=node["requires_grad"])
    raise _Bad(f"malformed array node {str(node)[:80]!r}")
