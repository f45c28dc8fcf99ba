"""Printing shapes the way the course talks about them: sizes next to their dimension names."""

from beartype import beartype
from torch import Tensor


@beartype
def shape_str(tensor: Tensor, dims: str) -> str:
    """'[1, 8, 256]  B N_tokens C', refusing dimension names that do not match the tensor's rank."""
    names = dims.split()
    if len(names) != tensor.ndim:
        raise ValueError(f"{len(names)} names ({dims!r}) for a tensor of rank {tensor.ndim}")
    return f"{list(tensor.shape)}  {dims}"


@beartype
def show_shapes(**named: tuple[Tensor, str]) -> None:
    """Prints one aligned line per tensor: `show_shapes(tokens=(tokens, "B N_tokens C"))`."""
    width = max(map(len, named), default=0)
    for label, (tensor, dims) in named.items():
        print(f"{label:<{width}}  {shape_str(tensor, dims)}")
