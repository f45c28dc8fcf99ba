"""Every image a notebook links is a file that `make lab` serves: JupyterLab cannot show a file
outside its root, so a link that climbs out of it is a broken image in the browser."""

import json
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_IMAGE = re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)[\"']", flags=re.IGNORECASE)


def served_root(makefile: str | None = None) -> Path:
    """The directory `make lab` serves: the folder given to `jupyter lab` (positionally, or as
    --notebook-dir / --ServerApp.root_dir), else the directory make runs in, the repository."""
    makefile = (ROOT / "Makefile").read_text() if makefile is None else makefile
    recipe = re.search(r"^lab:.*\n((?:\t.*\n?)+)", makefile, flags=re.MULTILINE)
    assert recipe, "the Makefile has no lab target"
    lines = recipe.group(1).replace("\\\n", " ").splitlines()  # continued lines joined
    command = next(line for line in lines if "jupyter" in line)
    for _ in range(command.count("$(")):  # make's $(...) dropped, innermost first
        command = re.sub(r"\$\([^()]*\)", "", command)
    words = shlex.split(command)
    words = words[words.index("lab") + 1 :]
    folder = "."
    options = ("--notebook-dir", "--ServerApp.root_dir", "--ServerApp.notebook_dir")
    for before, word in zip([None, *words], words, strict=False):
        if word.split("=")[0] in options and "=" in word:
            folder = word.split("=", 1)[1]
        elif before in options:
            folder = word
        elif not word.startswith("-") and not word.endswith(".ipynb"):
            folder = word  # a positional folder; a positional notebook keeps the root
    return (ROOT / folder).resolve()


def linked_images(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return MARKDOWN_IMAGE.findall(text) + HTML_IMAGE.findall(text)


def test_the_served_root_is_read_from_the_lab_target():
    def lab(command: str) -> Path:
        return served_root(f"lab: $(STAMP)\n\t{command}\n\nbench:\n\techo\n")

    assert lab("$(BIN)/jupyter lab notebooks") == ROOT / "notebooks"
    assert lab("$(BIN)/jupyter lab --no-browser") == ROOT
    assert lab("$(BIN)/jupyter lab notebooks/00_inputs.ipynb") == ROOT
    assert lab("$(BIN)/jupyter lab --ServerApp.root_dir=figures") == ROOT / "figures"
    assert lab("$(BIN)/jupyter lab --notebook-dir figures") == ROOT / "figures"
    continued = "$(BIN)/jupyter lab --ServerApp.root_dir=. \\\n\t\t$(if $(filter 0,1),--allow-root)"
    assert lab(continued) == ROOT


def test_links_are_found_in_markdown_and_html():
    text = '![a](../figures/a.svg) and <img src="b.png" width=3> ![c](c.png "a title")'
    assert MARKDOWN_IMAGE.findall(text) == ["../figures/a.svg", "c.png"]
    assert HTML_IMAGE.findall(text) == ["b.png"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_every_linked_image_is_a_file_that_make_lab_serves(notebook):
    root = served_root()
    assert notebook.resolve().is_relative_to(root), f"{notebook.name} is not under {root}"
    for link in linked_images(notebook):
        if re.match(r"^(https?:|data:|attachment:)", link):
            continue
        target = (notebook.parent / link).resolve()
        assert target.is_file(), f"{notebook.name}: {link} is no file"
        assert target.is_relative_to(root), f"{notebook.name}: {link} lies outside {root}"
