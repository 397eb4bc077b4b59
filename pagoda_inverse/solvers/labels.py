"""An unknown class, inferred: by the model's classifier, by the teacher itself, or by both.

The teacher is a class-conditional denoiser, so it is also a classifier (Li et al., "Your diffusion
model is secretly a zero-shot classifier", ICCV 2023): the class under which it denoises an image
best is the likeliest. score_c(x) = -1/2 sum_sigma |D(x + sigma n; sigma, c) - x|^2 / sigma^2 over a
few noise levels and draws shared by all classes, an ELBO-like log-likelihood up to a constant. It
works at the teacher's resolution, where a low-resolution (or noisy) input is what the teacher
was trained on; a noisy input of std s is already at sigma = s, so it gets only the noise
still missing to reach each level above s. The classifier was trained on clean images: a noisy
low-resolution input is shown to it through the teacher's class-free denoising D(y; s, null).
"""
import math

import torch

from ..data import downsample
from ..diffusion import to_model_range, to_unit_range

TEACHER_SIGMAS = (0.2, 0.4, 0.8, 1.6)  # model units; Fashion-MNIST's 8x8 classes separate there


def _teacher_size(model, x: torch.Tensor) -> torch.Tensor:
    """x in [0, 1] at the teacher's resolution, in model units [-1, 1]."""
    return to_model_range(downsample(x, model.teacher_resolution) if x.shape[-1] != model.teacher_resolution else x)


def _model_std(model, x: torch.Tensor, noise_std: float) -> float:
    return 2 * noise_std * model.teacher_resolution / x.shape[-1]  # model units; box pooling divides the std


@torch.no_grad()
def teacher_class_scores(model, x: torch.Tensor, noise_std: float = 0.0, sigmas=TEACHER_SIGMAS, draws: int = 2,
                         seed: int = 0, classes: torch.Tensor | None = None, mirror: bool = False) -> torch.Tensor:
    """(B, num_classes) log-likelihood scores of images x in [0, 1] (brought to the teacher's size by
    `downsample`) under each class of the teacher, or (B, m) under the classes (B, m) given;
    noise_std is the std already in x ([0, 1] units). mirror: the mean of the scores of x and of its
    horizontal mirror, each with its own draws (for classes a mirror keeps, as Fashion-MNIST's: the
    estimate's variance halves and the teacher's left-right bias cancels)."""
    if classes is None:
        classes = torch.arange(model.num_classes, device=x.device).expand(len(x), -1)
    if mirror:
        both = teacher_class_scores(model, torch.cat([x, x.flip(-1)]), noise_std, sigmas, draws, seed,
                                    classes.repeat(2, 1))
        return (both[:len(x)] + both[len(x):]) / 2
    x0 = _teacher_size(model, x)
    s = _model_std(model, x, noise_std)
    B = len(x0)
    m = classes.shape[1]
    g = torch.Generator().manual_seed(seed)
    scores = torch.zeros(B, m, device=x0.device)
    for sigma in sigmas:
        if sigma <= s:
            continue
        for _ in range(draws):
            n = torch.randn(x0.shape, generator=g).to(x0)
            x_sigma = (x0 + math.sqrt(sigma ** 2 - s ** 2) * n).repeat_interleave(m, 0)
            err = ((model.D(x_sigma, sigma, classes.flatten()) - x0.repeat_interleave(m, 0)) ** 2).flatten(1).sum(1)
            scores -= 0.5 * err.view(B, m) / sigma ** 2 / draws
    return scores


@torch.no_grad()
def teacher_denoise(model, x: torch.Tensor, noise_std: float) -> torch.Tensor:
    """The teacher's class-free denoising D(x; s, null) of images x in [0, 1] carrying noise of std
    noise_std, at the teacher's resolution, in [0, 1]; x itself when it is clean."""
    if noise_std <= 0:
        return x
    x0 = _teacher_size(model, x)
    null = torch.full((len(x0),), -1, device=x0.device, dtype=torch.long)
    return to_unit_range(model.D(x0, _model_std(model, x, noise_std), null).clamp(-1, 1))


@torch.no_grad()
def classifier_log_probs(model, x_init: torch.Tensor, y_low=None, noise_std: float = 0.0) -> torch.Tensor:
    """(B, num_classes) log-probabilities of the model's classifier on the first restoration x_init, or
    on the teacher's denoising of y_low when that is given and noisy."""
    seen = teacher_denoise(model, y_low, noise_std) if y_low is not None and noise_std > 0 else x_init
    return model.classify(seen).log_softmax(1)


def combine_scores(log_c: torch.Tensor, teacher: torch.Tensor, weight: float, kept: torch.Tensor | None = None):
    """"both": log_c + weight * teacher, where teacher (B, m) scores the classes `kept` (B, m) (None: all);
    the classes not kept get -inf."""
    if kept is None:
        return log_c + weight * teacher
    return torch.full_like(log_c, -math.inf).scatter(1, kept, log_c.gather(1, kept) + weight * teacher)


def label_candidates(model, x_init: torch.Tensor, k: int = 1, method: str = "classifier", y_low=None,
                     noise_std: float = 0.0, teacher_weight: float = 1.0, draws: int = 2,
                     shortlist: int = 0, mirror: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The top-k classes (B, k) and their log-scores: from the model's classifier on the first restoration
    x_init ("classifier"; on the teacher's denoising of y_low when that is given and noisy), from the
    teacher's denoising scores ("teacher", on y_low when given, else x_init, with `draws` noise draws per
    level), or their sum with the teacher's scores weighted ("both"). shortlist m > 0 ("both"): the
    teacher scores only the classifier's top max(m, k) classes, num_classes / m times cheaper; mirror:
    the teacher also scores the mirrored image (teacher_class_scores)."""
    if method not in ("classifier", "teacher", "both"):
        raise ValueError(f"label method must be classifier, teacher or both, not {method!r}")
    src = x_init if y_low is None else y_low
    s = noise_std if y_low is not None else 0.0
    B, K = len(x_init), model.num_classes
    log_p = torch.zeros(B, K, device=x_init.device)
    if method in ("classifier", "both"):
        log_p = classifier_log_probs(model, x_init, y_low, noise_std)
    if method in ("teacher", "both"):
        m = max(shortlist, k) if shortlist > 0 else K  # k finite candidates at least
        kept = log_p.topk(m, dim=1).indices if method == "both" and m < K else None
        log_p = combine_scores(log_p, teacher_class_scores(model, src, s, draws=draws, classes=kept, mirror=mirror), teacher_weight, kept)
    top = log_p.topk(k, dim=1)
    return top.indices, top.values
