"""Loading the prompt encoder and mask decoder out of an official SAM checkpoint."""

import pickle
from os import PathLike

import torch

from samdec.build import build_mask_decoder, build_prompt_encoder
from samdec.mask_decoder import MaskDecoder
from samdec.prompt_encoder import PromptEncoder


class CheckpointError(ValueError):
    """The file is not a SAM checkpoint whose decoder samdec can load."""


def load_sam_checkpoint(path: str | PathLike) -> tuple[PromptEncoder, MaskDecoder]:
    """The `prompt_encoder.*` and `mask_decoder.*` weights of an official SAM checkpoint
    (vit_b, vit_l, vit_h; MobileSAM shares the layout) in samdec modules, in eval mode.

    `image_encoder.*` is ignored. The file is read with `weights_only=True`, so a pickle that would
    run code is refused before anything in it runs.
    """
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"{path}: refused; it holds objects other than tensors and plain containers, which"
            f" could run code when unpickled ({_blocked_reason(error)})"
        ) from error
    except Exception as error:  # torch's loader fails on malformed bytes in many different ways
        raise CheckpointError(
            f"{path}: not a PyTorch checkpoint ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(state_dict, dict) or not all(isinstance(k, str) for k in state_dict):
        raise CheckpointError(f"{path}: holds a {type(state_dict).__name__}, not a state dict")

    prompt_encoder = build_prompt_encoder()
    mask_decoder = build_mask_decoder()
    for prefix, module in (("prompt_encoder.", prompt_encoder), ("mask_decoder.", mask_decoder)):
        _load_prefixed(path, state_dict, prefix, module)
    return prompt_encoder.eval(), mask_decoder.eval()


def _load_prefixed(
    path: str | PathLike, state_dict: dict, prefix: str, module: torch.nn.Module
) -> None:
    own = {k.removeprefix(prefix): v for k, v in state_dict.items() if k.startswith(prefix)}
    expected = module.state_dict()
    missing = sorted(prefix + k for k in expected.keys() - own.keys())
    unexpected = sorted(prefix + k for k in own.keys() - expected.keys())
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: does not match SAM's {prefix.rstrip('.')} layout;"
            f" missing keys: {missing or 'none'}; unexpected keys: {unexpected or 'none'}"
        )
    wrong_values = [
        f"{prefix}{k}: {_describe(v)} in the file, {tuple(expected[k].shape)} expected"
        for k, v in own.items()
        if not isinstance(v, torch.Tensor) or v.shape != expected[k].shape
    ]
    if wrong_values:
        raise CheckpointError(f"{path}: wrong values: {'; '.join(wrong_values)}")
    module.load_state_dict(own)


def _describe(value: object) -> str:
    return str(tuple(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__


def _blocked_reason(error: pickle.UnpicklingError) -> str:
    """The line of torch's message that says what was blocked, without its advice to load the
    file with `weights_only=False`, which is the one thing not to do with an untrusted file."""
    lines = [line.strip() for line in str(error).splitlines()]
    blocked = [line for line in lines if "GLOBAL" in line or "Unsupported" in line]
    return blocked[0] if blocked else "not loadable with weights_only=True"
