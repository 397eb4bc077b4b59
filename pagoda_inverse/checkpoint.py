"""The one checkpoint format: a safetensors file whose header carries a JSON document.

Shipped models and training checkpoints alike are `name.safetensors`; the header metadata key
"pagoda" holds {"kind": ..., "config": {...}, ...} as JSON, so loading never unpickles anything.
Optimizer states are flattened to tensors plus JSON. Writes go to a temporary file that is then
renamed, so an interrupted write never leaves a truncated checkpoint behind.
"""
import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file, safe_open

META_KEY = "pagoda"


class CheckpointError(Exception):
    """A checkpoint is missing, unsafe or does not match; the message says what to do."""


def save(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Atomically write tensors and a JSON-serialisable meta document to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    try:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(meta)})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _check_safetensors(path: Path) -> None:
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    with open(path, "rb") as f:
        head = f.read(9)
    # A safetensors file starts with a little-endian u64 header length, then '{'.
    if len(head) < 9 or head[8:9] != b"{":
        kind = "a pickle (torch.save) file" if head[:1] == b"\x80" or head[:2] == b"PK" else "not a safetensors file"
        raise CheckpointError(f"{path} is {kind}; pagoda-inverse only loads safetensors checkpoints and never "
                              "unpickles (convert it with safetensors.torch.save_file)")


def read_meta(path: str | Path) -> dict:
    path = Path(path)
    _check_safetensors(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except SafetensorError as e:
        raise CheckpointError(f"{path}: corrupt safetensors file ({e})") from None
    if META_KEY not in meta:
        raise CheckpointError(f"{path}: a safetensors file without pagoda-inverse metadata")
    return json.loads(meta[META_KEY])


def load(path: str | Path, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """Return (tensors, meta) of a checkpoint written by `save`."""
    meta = read_meta(path)
    return load_file(str(path), device=str(device)), meta


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes: the identity of a weights file in caches and metadata."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def prefixed(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}/{k}": v for k, v in state.items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    p = prefix + "/"
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}


def optimizer_to_flat(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer state_dict into tensors (per-parameter state) and JSON (the rest)."""
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, st in sd["state"].items():
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}/{pid}/{key}"] = value
            else:
                scalars[f"{pid}/{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def optimizer_from_flat(opt: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict] = {}
    for name, value in unprefixed(prefix, tensors).items():
        pid, key = name.split("/", 1)
        state.setdefault(int(pid), {})[key] = value
    for name, value in meta["scalars"].items():
        pid, key = name.split("/", 1)
        state.setdefault(int(pid), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
