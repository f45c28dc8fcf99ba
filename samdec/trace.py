"""The shape of every tensor the decoder passes around, recorded while it runs the example.

`trace_example()` runs the walk-through's example through the mask decoder and returns one `Call`
per module call (and per call of the few methods that matter inside attention), in call order,
with the shapes that went in and came out. The CLI table, the figures and the tests all read this
list, so no shape in them is typed by hand.
"""

import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from samdec import mask_decoder
from samdec.attention import Attention
from samdec.example import MULTIMASK_OUTPUT, example_decoder_inputs, example_modules
from samdec.mask_decoder import MaskDecoder

Shape = tuple[int, ...]

# Steps that are methods rather than submodules, so module hooks do not see them: the head split
# and recombination, the attention itself (with the weights inside it when it is computed
# explicitly; a fused call never shows them), and the decoder's masks before the multimask slice.
TRACED_METHODS: Mapping[type[nn.Module], tuple[str, ...]] = {
    Attention: ("_separate_heads", "_attend", "_attention_weights", "_recombine_heads"),
    MaskDecoder: ("predict_masks",),
}
# Steps that are module-level functions: the per-mask dot product that makes the masks.
TRACED_FUNCTIONS: tuple[tuple[ModuleType, str], ...] = ((mask_decoder, "dot_product_masks"),)


@dataclass(frozen=True)
class Call:
    """One call seen while tracing.

    `path` is the attribute path from the traced root ("" for the root itself), with the method
    name appended for a traced method: "transformer.layers.0.self_attn._separate_heads". `name` is
    what ran: the class name, or "Class.method". `depth` is how many traced calls enclose this one.
    `inputs` maps argument names to shapes (non-tensor arguments to their repr); `outputs` holds
    one shape per returned tensor.
    """

    path: str
    name: str
    depth: int
    inputs: dict[str, Shape | str]
    outputs: tuple[Shape, ...]

    @property
    def is_method(self) -> bool:
        return "." in self.name

    @property
    def output(self) -> Shape:
        """The shape of the only output."""
        if len(self.outputs) != 1:
            raise ValueError(f"{self.path!r} returned {len(self.outputs)} tensors")
        return self.outputs[0]

    def input(self, name: str | None = None) -> Shape:
        """The shape of the tensor argument `name`, or of the only argument."""
        if name is None:
            if len(self.inputs) != 1:
                raise ValueError(f"{self.path!r} took {len(self.inputs)} arguments: name one")
            (name,) = self.inputs
        value = self.inputs[name]
        if isinstance(value, str):
            raise TypeError(f"argument {name!r} of {self.path!r} is not a tensor: {value}")
        return value


class _Recorder:
    """Collects calls in the order they start; a stack of open calls gives each one its depth."""

    def __init__(self) -> None:
        self.started: list[dict[str, Any]] = []
        self._open: list[int] = []

    def enter(self, path: str, name: str, signature: inspect.Signature, args, kwargs) -> None:
        bound = signature.bind(*args, **kwargs).arguments
        inputs = {key: _describe(value) for key, value in bound.items()}
        self._open.append(len(self.started))
        self.started.append(
            {"path": path, "name": name, "depth": len(self._open) - 1, "inputs": inputs}
        )

    def exit(self, output: Any) -> None:
        tensors = output if isinstance(output, tuple | list) else (output,)
        self.started[self._open.pop()]["outputs"] = tuple(tuple(t.shape) for t in tensors)

    def calls(self) -> list[Call]:
        return [Call(**fields) for fields in self.started]


def _describe(value: Any) -> Shape | str:
    return tuple(value.shape) if isinstance(value, Tensor) else repr(value)


def _traced_method(recorder: _Recorder, path: str, name: str, method: Callable) -> Callable:
    signature = inspect.signature(method)

    def traced(*args, **kwargs):
        recorder.enter(path, name, signature, args, kwargs)
        output = method(*args, **kwargs)
        recorder.exit(output)
        return output

    return traced


@contextmanager
def tracing(
    root: nn.Module, methods: Mapping[type[nn.Module], tuple[str, ...]] = TRACED_METHODS
) -> Iterator[Callable[[], list[Call]]]:
    """Records every call of `root` and its submodules made inside the `with` block.

    Yields a function returning the calls recorded so far. The hooks are removed and the wrapped
    methods restored on leaving the block, even on an error.
    """
    recorder = _Recorder()
    handles = []
    wrapped: list[tuple[nn.Module, str]] = []
    replaced_functions: list[tuple[ModuleType, str, Callable]] = []
    try:
        for namespace, function_name in TRACED_FUNCTIONS:
            function = getattr(namespace, function_name)
            short_module = namespace.__name__.rsplit(".", 1)[-1]
            traced = _traced_method(
                recorder, function_name, f"{short_module}.{function_name}", function
            )
            setattr(namespace, function_name, traced)
            replaced_functions.append((namespace, function_name, function))
        for path, module in root.named_modules():
            signature = inspect.signature(module.forward)
            name = type(module).__name__

            def before(module, args, kwargs, path=path, name=name, signature=signature):
                recorder.enter(path, name, signature, args, kwargs)

            def after(module, args, kwargs, output):
                recorder.exit(output)

            handles.append(module.register_forward_pre_hook(before, with_kwargs=True))
            handles.append(module.register_forward_hook(after, with_kwargs=True))

            for method_name in methods.get(type(module), ()):
                if method_name in vars(module):
                    raise RuntimeError(f"{path!r}.{method_name} is already replaced")
                method_path = f"{path}.{method_name}" if path else method_name
                method = getattr(module, method_name)
                traced = _traced_method(recorder, method_path, f"{name}.{method_name}", method)
                # an instance attribute shadows the class's method until it is deleted
                setattr(module, method_name, traced)
                wrapped.append((module, method_name))
        yield recorder.calls
    finally:
        for handle in handles:
            handle.remove()
        for module, method_name in wrapped:
            delattr(module, method_name)
        for namespace, function_name, function in replaced_functions:
            setattr(namespace, function_name, function)


def trace_example(seed: int = 0) -> list[Call]:
    """The calls of the mask decoder on the walk-through's example (multimask output on)."""
    prompt_encoder, decoder = example_modules(seed)
    inputs = example_decoder_inputs(prompt_encoder, seed)
    with torch.no_grad(), tracing(decoder) as calls:
        decoder(**inputs, multimask_output=MULTIMASK_OUTPUT)
    return calls()


def calls_at(calls: list[Call], path: str) -> list[Call]:
    """Every call recorded at `path`, in order (a head split runs three times per attention)."""
    found = [call for call in calls if call.path == path]
    if not found:
        raise KeyError(f"no call at {path!r}")
    return found


def call_at(calls: list[Call], path: str) -> Call:
    """The one call recorded at `path`."""
    found = calls_at(calls, path)
    if len(found) != 1:
        raise ValueError(f"{len(found)} calls at {path!r}, expected one")
    return found[0]


def format_shape(shape: Shape | str, separator: str = ", ") -> str:
    """ "[1, 8, 256]"; a non-tensor argument's repr as it is."""
    return shape if isinstance(shape, str) else "[" + separator.join(map(str, shape)) + "]"


def _label(call: Call, enclosing: list[Call]) -> str:
    """The path relative to the innermost enclosing call it extends (indentation shows the rest)."""
    if not call.path:
        return "decoder"
    for parent in reversed(enclosing):
        if parent.path and call.path.startswith(parent.path + "."):
            relative = call.path.removeprefix(parent.path + ".")
            break
    else:
        relative = call.path
    return f"{relative}()" if call.is_method else relative


def format_table(calls: list[Call], max_depth: int | None = None) -> str:
    """The calls as an indented table: call, what ran, inputs, outputs; one line per tensor.

    Shapes are written without spaces, "[1,8,256]", to keep the widest rows within 120 columns.
    """
    rows: list[tuple[str, str, list[str], list[str]]] = []
    enclosing: list[Call] = []
    for call in calls:
        del enclosing[call.depth :]
        if max_depth is None or call.depth <= max_depth:
            named = len(call.inputs) > 1
            inputs = [
                f"{key}={format_shape(value, ',')}" if named else format_shape(value, ",")
                for key, value in call.inputs.items()
            ]
            outputs = [format_shape(shape, ",") for shape in call.outputs]
            rows.append(("  " * call.depth + _label(call, enclosing), call.name, inputs, outputs))
        enclosing.append(call)

    header = ("call", "module / method", ["inputs"], ["outputs"])
    widths = [
        max(len(row[0]) for row in [header, *rows]),
        max(len(row[1]) for row in [header, *rows]),
    ]
    widths.append(max(len(line) for row in [header, *rows] for line in row[2]))
    lines = []
    for label, name, inputs, outputs in [header, *rows]:
        for i in range(max(len(inputs), len(outputs))):
            cells = [label, name] if i == 0 else ["", ""]
            cells.append(inputs[i] if i < len(inputs) else "")
            line = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            lines.append(f"{line}  {outputs[i] if i < len(outputs) else ''}".rstrip())
    return "\n".join(lines)
