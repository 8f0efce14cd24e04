"""``Module`` and ``Parameter``: how layers hold weights and find each other.

A Module finds its parameters, buffers and sub-modules by walking its own
attributes (in assignment order), and inside them lists, tuples and dicts, nested
to any depth, so ``parameters()`` needs no registration calls: a layer kept in
``self.heads = {"a": Linear(2, 1)}`` is found as ``heads.a``. Layers never update their own weights: an optimizer does that, after
``backward()`` has filled every ``.grad``.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..engine.function import ModuleCall, no_grad, state
from ..engine.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module trains: a leaf with ``requires_grad=True`` (float data)."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True, dtype=None, name=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


_REPLACED_PARAMETER = (
    "{module}.{name} is a registered Parameter; assigning a {got} over it would drop it from "
    "parameters() and state_dict(). Update it in place instead: `with tg.no_grad(): "
    "module.{name} -= lr * module.{name}.grad`, or `module.{name}.data = new_values`; "
    "to replace it on purpose, assign an nn.Parameter (or None)."
)


def _held(name, value, open_containers):
    """(dotted name, member) for each Module or Parameter in ``value``: itself, or the items
    of a list, tuple or dict, nested. ``open_containers`` stops a container that holds itself."""
    if isinstance(value, (Module, Parameter)):
        yield name, value
        return
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return
    if id(value) in open_containers:
        return
    open_containers.add(id(value))
    for key, item in items:
        yield from _held(f"{name}.{key}", item, open_containers)
    open_containers.discard(id(value))


class Module:
    """Base class of every layer and model.

    Subclasses set parameters (``Parameter``), buffers (plain ``Tensor`` attributes
    registered with ``register_buffer``, such as batch norm's running statistics)
    and sub-modules as attributes in ``__init__`` (directly, or in lists, tuples and
    dicts), and define ``forward``. Once an attribute holds a Parameter, assigning
    anything but a Parameter (or None) over it raises a TypeError: update weights in
    place under ``tg.no_grad()`` instead.
    """

    training: bool

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_buffers", OrderedDict())

    # ------------------------------------------------------------------ calling

    def forward(self, *args, **kwargs):
        """The module's computation; ``module(x)`` calls it (inside the module's scope, for the pictures)."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        # _in_scope written out: this runs for every layer of every step
        parent = state.scope
        state.scope = (parent or ()) + (ModuleCall(self),)
        try:
            return self.forward(*args, **kwargs)
        finally:
            state.scope = parent

    def _in_scope(self, method, *args, **kwargs):
        """Run ``method`` as a call of this module: ops it records carry it in their scope.

        ``__call__`` runs ``forward`` this way; a second entry point (such as
        ``MLP.logits``) uses it too, so graph pictures draw its ops inside this module.
        """
        parent = state.scope
        state.scope = (parent or ()) + (ModuleCall(self),)
        try:
            return method(*args, **kwargs)
        finally:
            state.scope = parent

    # ------------------------------------------------------------------ structure

    def __setattr__(self, name, value):
        if "_buffers" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() before setting {name!r}")
        if isinstance(self.__dict__.get(name), Parameter) and not (value is None or isinstance(value, Parameter)):
            raise TypeError(_REPLACED_PARAMETER.format(module=type(self).__name__, name=name,
                                                       got=type(value).__name__))
        if name in self._buffers and not isinstance(value, Module):
            self._buffers[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._buffers.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor) -> None:
        """A non-trainable tensor saved in ``state_dict`` (e.g. running statistics)."""
        value = tensor if isinstance(tensor, Tensor) or tensor is None else Tensor(tensor)
        self._buffers[name] = value
        object.__setattr__(self, name, value)

    def _members(self):
        """(name, value) pairs of this module's own attributes that are modules or parameters,
        looking inside lists, tuples and dicts at any depth (``heads.a``, ``blocks.0.1``)."""
        for name, value in self.__dict__.items():
            if name != "_buffers":  # buffers are walked by named_buffers
                yield from _held(name, value, set())

    def named_children(self):
        """(attribute name, module) for each direct sub-module, in assignment order."""
        for name, value in self._members():
            if isinstance(value, Module):
                yield name, value

    def children(self):
        """The direct sub-modules, in assignment order."""
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = ""):
        """(dotted name, module) for this module and every module inside it, each once."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = list(module.named_children())
            for child_name, child in reversed(children):
                stack.append((f"{name}.{child_name}" if name else child_name, child))

    def modules(self):
        """This module and every module inside it, each once."""
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = ""):
        """(dotted name, parameter) pairs, e.g. ``layers.0.weight``; shared parameters appear once."""
        seen = set()
        for module_name, module in self.named_modules(prefix):
            for name, value in module._members():
                if isinstance(value, Parameter) and id(value) not in seen:
                    seen.add(id(value))
                    yield (f"{module_name}.{name}" if module_name else name), value

    def parameters(self):
        """Every parameter as a list (what an optimizer takes); shared parameters appear once."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self):
        """(dotted name, tensor) for every buffer, e.g. ``0.running_mean``; buffers set to None are skipped."""
        for module_name, module in self.named_modules():
            for name, value in module._buffers.items():
                if value is not None:
                    yield (f"{module_name}.{name}" if module_name else name), value

    # ------------------------------------------------------------------ modes and gradients

    def train(self, mode: bool = True):
        """Switch this module and all sub-modules to training (or, with False, evaluation) mode."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self):
        """Switch to evaluation mode (dropout off, batch norm on its running statistics); returns self."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Clear every parameter's gradient (set ``.grad`` to None) before the next backward pass."""
        for p in self.parameters():
            p.grad = None

    # ------------------------------------------------------------------ state

    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Every parameter and buffer by dotted name, as an ndarray copy."""
        state_dict = OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())
        for name, b in self.named_buffers():
            state_dict[name] = b.data.copy()
        return state_dict

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy arrays from ``state_dict`` into this module's parameters and buffers.

        Shape and dtype must match. With ``strict`` every key must match exactly;
        missing and unexpected keys are named in the error. Nothing is changed
        unless every entry fits.
        """
        own = dict(self.named_parameters())
        own.update(self.named_buffers())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = np.asarray(state_dict[key].data if isinstance(state_dict[key], Tensor) else state_dict[key])
            if value.shape != target.shape:
                problems.append(f"{key}: shape {value.shape} in the state dict, {target.shape} in the model")
            elif value.dtype != target.dtype:
                problems.append(f"{key}: dtype {value.dtype} in the state dict, {target.dtype} in the model")
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__}: " + "; ".join(problems))
        with no_grad():
            for key, target in own.items():
                if key in state_dict:
                    value = state_dict[key]
                    target.copy_(value.data if isinstance(value, Tensor) else value)
        return {"missing_keys": missing, "unexpected_keys": unexpected}

    # ------------------------------------------------------------------ printing

    def extra_repr(self) -> str:
        """What goes inside the parentheses of this module's repr (e.g. ``4, 16``)."""
        return ""

    def short_repr(self) -> str:
        """The module in a few characters, for labels in pictures: ``BatchNorm1d(16)``.

        The class name with the leading positional part of ``extra_repr`` (before its
        first ``name=value``); a layer whose repr is all keywords overrides this.
        """
        extra = self.extra_repr()
        if "=" in extra:
            extra = extra.split("=", 1)[0].rpartition(",")[0]
        return f"{type(self).__name__}({extra})" if extra else type(self).__name__

    def __repr__(self):
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        if self.extra_repr():
            lines.append(f"  {self.extra_repr()}")
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)


def layer_input(x, like: Tensor, layer) -> Tensor:
    """``x`` as a Tensor in the dtype of the layer's parameter ``like`` (``layer``: the module or a name, for errors).

    Plain data (an ndarray, a list) and integer tensors are cast, so a float32 layer
    never silently computes in float64; a Tensor of another float dtype is refused,
    naming both dtypes, since casting it would cut it from its graph or hide a mix-up.
    """
    if not isinstance(x, Tensor):
        return Tensor._make(np.asarray(x, dtype=like.dtype))
    if x.dtype == like.dtype:
        return x
    if x.dtype.kind == "f":
        raise TypeError(f"{layer}: the input is {x.dtype} but the layer's parameters are {like.dtype}; convert one "
                        f"of them (x.astype(np.{like.dtype}), or build the layer with dtype=np.{x.dtype})")
    return Tensor._make(x.data.astype(like.dtype))
