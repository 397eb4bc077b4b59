"""An unknown class, inferred: by the model's classifier, by the teacher itself, or by both.

The teacher is a class-conditional denoiser, so it is also a classifier (Li et al., "Your diffusion
model is secretly a zero-shot classifier", ICCV 2023): the class under which it denoises an image
best is the likeliest. score_c(x) = -1/2 sum_sigma |D(x + sigma n; sigma, c) - x|^2 / sigma^2 over a
few noise levels and draws shared by all classes, an ELBO-like log-likelihood up to a constant. It
works at the teacher's resolution, where a low-resolution (or noisy) input is what the teacher
was trained on; a noisy input of std s is already at sigma = s, so it gets only the noise
still missing to reach each level above s.
"""
import math

import torch

from ..data import downsample

TEACHER_SIGMAS = (0.2, 0.4, 0.8, 1.6)  # model units; Fashion-MNIST's 8x8 classes separate there


@torch.no_grad()
def teacher_class_scores(model, x: torch.Tensor, noise_std: float = 0.0, sigmas=TEACHER_SIGMAS, draws: int = 2,
                         seed: int = 0) -> torch.Tensor:
    """(B, num_classes) log-likelihood scores of images x in [0, 1] (brought to the teacher's size by
    `downsample`) under each class of the teacher; noise_std is the std already in x ([0, 1] units)."""
    x0 = 2 * downsample(x, model.teacher_resolution) - 1 if x.shape[-1] != model.teacher_resolution else 2 * x - 1
    s = 2 * noise_std * model.teacher_resolution / x.shape[-1]  # model units; box pooling divides the std
    B, K = len(x0), model.num_classes
    g = torch.Generator().manual_seed(seed)
    scores = torch.zeros(B, K, device=x0.device)
    classes = torch.arange(K, device=x0.device).repeat(B)
    for sigma in sigmas:
        if sigma <= s:
            continue
        for _ in range(draws):
            n = torch.randn(x0.shape, generator=g).to(x0)
            x_sigma = (x0 + math.sqrt(sigma ** 2 - s ** 2) * n).repeat_interleave(K, 0)
            err = ((model.D(x_sigma, sigma, classes) - x0.repeat_interleave(K, 0)) ** 2).flatten(1).sum(1)
            scores -= 0.5 * err.view(B, K) / sigma ** 2 / draws
    return scores


def label_candidates(model, x_init: torch.Tensor, k: int = 1, method: str = "classifier", y_low=None,
                     noise_std: float = 0.0, teacher_weight: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The top-k classes (B, k) and their log-scores: from the model's classifier on the first restoration
    x_init ("classifier"), from the teacher's denoising ("teacher", on y_low when given, else x_init),
    or their sum with the teacher's scores weighted ("both")."""
    if method not in ("classifier", "teacher", "both"):
        raise ValueError(f"label method must be classifier, teacher or both, not {method!r}")
    log_p = 0
    if method in ("classifier", "both"):
        with torch.no_grad():
            log_p = model.classify(x_init).log_softmax(1)
    if method in ("teacher", "both"):
        src = x_init if y_low is None else y_low
        log_p = log_p + teacher_weight * teacher_class_scores(model, src, noise_std if y_low is not None else 0.0)
    top = log_p.topk(k, dim=1)
    return top.indices, top.values
