"""Each task's solver settings, one place for the CLI, the API and the benchmarks: the defaults
live in pagoda_inverse/configs/tasks.toml ([TASK]); a model's own defaults (`model.task_defaults`:
the registry's for a named model, its decoder's training config's [tasks] for one's own) go on top;
a benchmark spec or a caller overrides any key."""
import copy
from dataclasses import dataclass, field
from pathlib import Path

from ..config import ConfigError, from_dict, load_toml

TASKS_TOML = Path(__file__).resolve().parent.parent / "configs" / "tasks.toml"
TASKS = ("superres", "inpaint", "deblur")


@dataclass
class LatentSettings:
    """Latent optimisation: min over w = z / sigma_max of
    |A(G(sigma_max w, c)) - y|^2 / (2 max(s, noise_floor)^2) + prior / 2 |w|^2, by Adam with a
    cosine-decayed learning rate; then the data-consistency step with tau = model_error."""
    steps: int = 40  # 0: no optimisation (the initial latent is decoded)
    lr: float = 0.1
    prior: float = 1.0  # lambda; 1 is the N(0, I) prior of w itself
    noise_floor: float = 0.05  # the decoder's own misfit: the data term never trusts y more than this
    model_error: float = 0.06  # tau of the data-consistency step (0: none)
    # The operator the data-consistency step projects through: "operator", the measurement's own; or,
    # for super-resolution, "bicubic", the antialiased bicubic reduction, whose adjoint spreads the
    # correction smoothly where the box's moves each factor x factor block by one offset.
    back_projection: str = "operator"
    restarts: int = 1  # extra chains from perturbed initial latents; their spread is the uncertainty map
    restart_mix: float = 0.5  # chain k starts at sqrt(1 - a^2) w_init + a eps_k
    seed: int = 0
    batch: int = 64  # images per optimisation batch (each with 1 + restarts chains)


@dataclass
class TaskSettings:
    scale: int = 4  # superres: the upscaling factor
    noise_start: float = 4.0  # noisy inputs: the encoder starts at sigma = noise_start * 2 s (model units)
    rl_iterations: int = 30  # deblur: Richardson-Lucy iterations of the classical initialisation
    label_method: str = "classifier"  # unknown class: "classifier", "teacher" (its denoising) or "both" (labels.py)
    label_teacher_weight: float = 1.0  # "both": the weight of the teacher's scores beside the classifier's
    label_teacher_draws: int = 2  # the teacher's noise draws per level (its scores' variance falls as 1/draws)
    label_shortlist: int = 0  # "both": the teacher scores only the classifier's top m classes (0: all)
    label_mirror: bool = False  # "teacher"/"both": the teacher also scores the mirrored image (labels.py)
    label_recheck: bool = True  # classify the restoration again; re-solve the images whose class changed
    label_candidates: int = 1  # the top-k classes, each solved for...
    label_log_prob_weight: float = 0.0  # ...and chosen by objective - weight * their log-score
    latent: LatentSettings = field(default_factory=LatentSettings)


def _merge(d: dict, overrides: dict) -> None:
    for k, v in overrides.items():
        if isinstance(v, dict):
            d.setdefault(k, {}).update(v)
        else:
            d[k] = v


def task_settings(task: str, overrides: dict | None = None, defaults: dict | None = None) -> TaskSettings:
    """The defaults of `task` (one of TASKS); then `defaults[task]` (a model's `task_defaults`, keyed
    by task); then `overrides`. Both are dicts shaped as the TOML section."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
    d = copy.deepcopy(load_toml(TASKS_TOML)[task])
    _merge(d, (defaults or {}).get(task, {}))
    _merge(d, overrides or {})
    return from_dict(TaskSettings, d, task)


def check_task_defaults(defaults: dict, where: str = "tasks") -> None:
    """Raise ConfigError unless `defaults` is a valid `task_defaults` table: task names, known keys."""
    for task, section in defaults.items():
        if task not in TASKS:
            raise ConfigError(f"unknown task {task!r} in [{where}]; use one of {', '.join(TASKS)}")
        if not isinstance(section, dict):
            raise ConfigError(f"[{where}.{task}] must be a table of settings")
        task_settings(task, None, {task: section})
