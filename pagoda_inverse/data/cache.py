"""The one cache folder: files that are rebuilt when absent (reference features, photo patches,
latent pairs when a config names no folder). $PAGODA_CACHE if set, else ~/.cache/pagoda-inverse,
so an installed package never writes beside its own source."""
import os
from pathlib import Path


def cache_dir() -> Path:
    return Path(os.environ.get("PAGODA_CACHE") or Path.home() / ".cache" / "pagoda-inverse")
