"""Shape contracts: jaxtyping annotations, checked by beartype where a call enters samdec.

Every `forward` in samdec is decorated with `@shape_checked`, which is jaxtyping's
`@jaxtyped(typechecker=beartype)` applied at the boundary: the module you call checks its arguments
and its result. The calls it then makes to samdec's own pieces are covered by that contract (their
shapes follow from it), so by default they are not checked again: a check costs tens of
microseconds of Python, and a decoder call makes about twenty nested ones (see the benchmark).

`check_nested_calls(True)`, or `SAMDEC_CHECK_NESTED=1` in the environment, checks every nested call
as well: for working on samdec itself, and in its test suite. jaxtyping's own switches turn all
checks off (`JAXTYPING_DISABLE=1`, or `jaxtyping.config.update("jaxtyping_disable", True)`).
While `torch.compile` traces a module, the checks step aside (see `samdec.compiled`).
"""

import contextvars
import functools
import os
from collections.abc import Callable
from typing import TypeVar

import jaxtyping
import torch
from beartype import beartype
from jaxtyping import jaxtyped

Function = TypeVar("Function", bound=Callable)

_inside_checked_call = contextvars.ContextVar("samdec_inside_checked_call", default=False)
_check_nested = os.environ.get("SAMDEC_CHECK_NESTED", "0") == "1"


def check_nested_calls(enabled: bool) -> bool:
    """Also check the calls samdec makes to its own pieces inside a checked call, or stop doing
    so. Returns the previous setting."""
    global _check_nested
    previous, _check_nested = _check_nested, enabled
    return previous


def shape_checked(function: Function) -> Function:
    """`@jaxtyped(typechecker=beartype)` on `function`, skipped when samdec calls it from inside
    another checked call (unless nested checks are on)."""
    checked = jaxtyped(typechecker=beartype)(function)

    @functools.wraps(function)
    def enter(*args, **kwargs):
        # under torch.compile the check leaves the graph: beartype's Python cannot be compiled,
        # and the compiled code is specialised to the shapes it was traced with anyway
        if torch.compiler.is_compiling():
            return function(*args, **kwargs)
        if jaxtyping.config.jaxtyping_disable or (_inside_checked_call.get() and not _check_nested):
            return function(*args, **kwargs)
        token = _inside_checked_call.set(True)
        try:
            return checked(*args, **kwargs)
        finally:
            _inside_checked_call.reset(token)

    enter.__shape_checked__ = True
    return enter  # type: ignore[return-value]
