"""Configuration is data: TOML files read into dataclasses, unknown keys rejected."""
import dataclasses
import tomllib
from pathlib import Path


class ConfigError(Exception):
    """A config file is missing or has wrong keys; the message names them."""


def from_dict(cls, d: dict, where: str = ""):
    """Build dataclass `cls` from a dict, recursing into dataclass-typed fields."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(d) - set(fields)
    if unknown:
        raise ConfigError(f"unknown key(s) {sorted(unknown)} in [{where or cls.__name__}]; "
                          f"known: {sorted(fields)}")
    kwargs = {}
    for k, v in d.items():
        ftype = fields[k].type
        if dataclasses.is_dataclass(ftype) and isinstance(v, dict):
            v = from_dict(ftype, v, f"{where}.{k}" if where else k)
        kwargs[k] = v
    return cls(**kwargs)


def load_toml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML ({e})") from None


def to_dict(obj) -> dict:
    return dataclasses.asdict(obj)
