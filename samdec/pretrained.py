"""The trained model that ships with samdec: weights in safetensors, loaded without pickle."""

import json
import os
from importlib import resources
from pathlib import Path

from safetensors.torch import load_file, save_file

from samdec.sam import Sam, build_sam

WEIGHTS_FILE = "sam_world.safetensors"
LOG_FILE = "training_log.csv"


def weights_dir() -> Path:
    """The package folder holding the shipped weights and their training log."""
    return Path(str(resources.files("samdec") / "weights"))


def save_weights(sam: Sam, path: Path, config: dict) -> Path:
    """The model's state_dict as safetensors, written under a temporary name and then renamed;
    `config` goes into the file's metadata."""
    temporary = path.with_suffix(".tmp")
    state = {name: tensor.contiguous() for name, tensor in sam.state_dict().items()}
    save_file(state, temporary, metadata={"training_config": json.dumps(config)})
    os.replace(temporary, path)
    return path


def load_pretrained(path: str | os.PathLike | None = None) -> Sam:
    """samdec's SAM trained on the generated world (`python -m samdec train`), in eval mode.

    The stand-in image encoder and SAM's own prompt encoder and mask decoder, at SAM's
    configuration. safetensors holds tensors only, so loading runs no code.
    """
    sam = build_sam()
    state = load_file(path or weights_dir() / WEIGHTS_FILE)
    sam.load_state_dict(state, strict=True)
    return sam.eval()
