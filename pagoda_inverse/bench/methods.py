"""The rows of a benchmark, one per [methods.NAME] table of a spec:

    method = "pagoda"     labels = "true" | "inferred", settings = {...} (the task's, configs/tasks.toml, overridden)
    method = "bicubic"    or any of solvers.CLASSICAL for the spec's task; other keys are its keywords
                          (richardson_lucy: iterations = 50)
    method = "dps"        or "diffpir", "ddrm": deepinv's (solvers/peers.py); prior = "fmnist-peer-32",
                          labels = "true" | "none", settings = {...} (deepinv's keywords)
    every method:         n = 20 (only the first 20 images), batch = 10 (images per call; divides the data batch)

A row is built once per run and called per batch, `row(y, physics, labels) -> (x_hat, extras)`;
`row.networks` are the networks it evaluates, whose forward passes the runner counts; `row.resolved`
is what its records must also have been computed with (PaGoDA: its resolved settings).
"""
import torch

from ..config import ConfigError, to_dict
from ..solvers import CLASSICAL, classical, restore, restore_tiled, task_settings
from ..solvers.classical import classical_key
from ..solvers.peers import DEFAULTS as PEER_DEFAULTS, PEERS

ROW_KEYS = ("method", "n", "batch")
PAGODA_LABELS = ("true", "inferred")
PEER_LABELS = ("true", "none")  # "none": the null class, the peer unconditional


def is_classical(method: str) -> bool:
    """Whether a spec's `method = ...` names one of the classical baselines."""
    return classical_key(method) in CLASSICAL


def _known_keys(kind: str) -> tuple[str, ...]:
    if kind == "pagoda":
        return ROW_KEYS + ("labels", "settings")
    if kind in PEERS:
        return ROW_KEYS + ("labels", "settings", "prior")
    return ROW_KEYS + CLASSICAL[classical_key(kind)].options


def check_method(name: str, m: dict, task: str, data_batch: int) -> None:
    """ConfigError unless [methods.NAME] `m` is a row this runner can build for `task`."""
    if not isinstance(m, dict):
        raise ConfigError(f"[methods.{name}] must be a table (method = ...)")
    kind = m.get("method")
    if kind != "pagoda" and kind not in PEERS and not is_classical(kind):
        raise ConfigError(f"[methods.{name}] unknown method {kind!r}; use pagoda, "
                          f"{', '.join(CLASSICAL)} or {', '.join(PEERS)}")
    if is_classical(kind) and CLASSICAL[classical_key(kind)].task != task:
        raise ConfigError(f"[methods.{name}] {kind} restores {CLASSICAL[classical_key(kind)].task}, not {task}")
    unknown = sorted(set(m) - set(_known_keys(kind)))
    if unknown:
        raise ConfigError(f"[methods.{name}] unknown key(s) {unknown}; known: {', '.join(_known_keys(kind))}")
    labels = PAGODA_LABELS if kind == "pagoda" else PEER_LABELS
    if "labels" in m and m["labels"] not in labels:
        raise ConfigError(f"[methods.{name}] labels = {m['labels']!r}; use {' or '.join(labels)}")
    if not isinstance(m.get("settings", {}), dict):
        raise ConfigError(f"[methods.{name}] settings must be a table, e.g. settings = {{ latent = {{ steps = 10 }} }}")
    if kind == "pagoda":
        task_settings(task, m.get("settings"))  # an unknown setting is a ConfigError
    if kind in PEERS:
        unknown = sorted(set(m.get("settings", {})) - set(PEER_DEFAULTS[kind]))
        if unknown:
            raise ConfigError(f"[methods.{name}] unknown {kind} setting(s) {unknown}; known: {', '.join(PEER_DEFAULTS[kind])}")
    for key in ("n", "batch"):
        if key in m and (not isinstance(m[key], int) or m[key] < 1):
            raise ConfigError(f"[methods.{name}] {key} must be a positive integer, not {m[key]!r}")
    batch = m.get("batch", data_batch)
    if data_batch % batch:
        raise ConfigError(f"[methods.{name}] batch = {batch} does not divide the data batch {data_batch}")


class PaGoDARow:
    """solvers.restore with the task's settings under the model's own defaults; a model that tiles
    (the photo model) restores each image alone, in blended tiles (solvers.restore_tiled)."""

    def __init__(self, m: dict, model, task: str):
        self.model = model
        self.settings = task_settings(task, m.get("settings"), model.task_defaults)
        self.true_labels = m.get("labels", "true") == "true"

    @property
    def resolved(self) -> dict:
        """The weights and the settings the row runs with, all defaults resolved (its records' key:
        retrained weights make the old records stale)."""
        return {"weights": self.model.weights, "settings": to_dict(self.settings)}

    @property
    def networks(self) -> tuple:
        return (self.model.D.net, *self.model.G.values(), self.model.classifier)

    def __call__(self, y, physics, labels):
        if self.model.tiles:
            outs = [restore_tiled(self.model, y[i:i + 1], physics.select([i]), None, self.settings) for i in range(len(y))]
            return torch.cat([x for x, _ in outs]), {"std": torch.cat([s for _, s in outs]).cpu()}
        r = restore(self.model, y, physics, labels if self.true_labels else None, self.settings)
        extras = {"std": r.std.cpu()}
        if r.labels is not None and labels is not None:
            extras["label_correct"] = (r.labels.cpu() == labels).float().tolist()
        return r.x, extras


class ClassicalRow:
    """One of solvers.CLASSICAL, with the spec's keywords."""

    networks = ()
    resolved: dict = {}

    def __init__(self, m: dict):
        self.name = classical_key(m["method"])
        self.options = {k: v for k, v in m.items() if k not in ROW_KEYS}

    def __call__(self, y, physics, labels):
        return classical(self.name, y, physics, **self.options), {}


class PeerRow:
    """deepinv's DPS, DiffPIR or DDRM with an EDM teacher as prior (solvers/peers.py), given the true
    class or the null class."""

    def __init__(self, m: dict, device):
        from ..distill.latents import file_hash
        from ..teacher import load_teacher, resolve

        self.kind, self.settings = m["method"], m.get("settings", {})
        prior = m.get("prior", "fmnist-peer-32")
        self.D = load_teacher(prior, device)
        self.resolved = {"weights": file_hash(resolve(prior))}  # its records' key: a retrained prior makes them stale
        self.true_labels = m.get("labels", "true") == "true"

    @property
    def networks(self) -> tuple:
        return (self.D.net,)

    def __call__(self, y, physics, labels):
        from ..solvers.peers import peer_solver

        solver = peer_solver(self.kind, self.D, labels if self.true_labels else None, physics, **self.settings)
        return solver(y, physics), {}


def build_row(m: dict, model, task: str):
    """The row of a checked [methods.NAME] table; `model` is the spec's autoencoder (its device is the run's)."""
    if m["method"] == "pagoda":
        return PaGoDARow(m, model, task)
    if m["method"] in PEERS:
        return PeerRow(m, model.device)
    return ClassicalRow(m)
