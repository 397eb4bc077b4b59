"""The task layer's solvers: plain functions of (model, y, physics, ...), settings as data.

- restore, Restoration, PaGoDASolver (restore.py): PaGoDA's restoration for any operator; native
  super-resolution G_k(Enc(y)) is `restore` with `latent.steps = 0` and no data-consistency step.
- restore_tiled (restore.py), tiled (tiles.py): the same on images of any size, in blended tiles.
- optimise_latents, data_consistency (latent.py): the latent optimisation and the final data step.
- CLASSICAL, classical, first_guess, upscale, biharmonic, richardson_lucy, wiener (classical.py): the
  classical methods, by name, and the latent solver's starting point.
- task_settings, TaskSettings, LatentSettings (settings.py): each task's defaults (configs/tasks.toml).
"""
from ..physics import task_of
from .classical import (CLASSICAL, UPSAMPLERS, ClassicalMethod, biharmonic, classical, first_guess, richardson_lucy,
                        upscale, wiener)
from .latent import data_consistency, noise_std, optimise_latents
from .labels import label_candidates, teacher_class_scores
from .restore import PaGoDASolver, Restoration, restore, restore_tiled
from .tiles import tiled
from .settings import TASKS, LatentSettings, TaskSettings, task_settings
