"""deepinv's diffusion solvers (DPS, DiffPIR, DDRM) with this project's EDM teacher as their prior,
so a benchmark runs them beside PaGoDA on the same operators. Needs the `bench` extra (deepinv);
importing this module does not.

The denoiser each solver calls (deepinv 0.5.0), all in the contract of deepinv.models.Denoiser:
x in [0, 1], sigma the noise std in [0, 1] units, output in [0, 1].
- DiffPIR (deepinv.sampling.DiffPIR.forward): its VP state lives in [-1, 1]; it calls
  model(x_t / (2 sqrt(abar_t)) + 1/2, sigma_t / 2), sigma_t = sqrt(1 - abar_t) / sqrt(abar_t) in [-1, 1] units.
- DPS (deepinv.sampling.DPS, a VP SDE on a [-1, 1] state, minus_one_one=True): the score sees the denoiser
  through deepinv.models.MinusOneOneDenoiserWrapper ((x + 1) / 2 and sigma / 2) and the DPS term calls it
  on (x / s(t) + 1) / 2 with sigma(t) / 2. Its clip to [-1, 1] acts on that [0, 1] output, so it clips nothing.
- DDRM (deepinv.sampling.DDRM.forward): model(V x_bar, sigma_t) in y's own [0, 1] range, sigma_t on
  np.linspace(1, 0, steps) in [0, 1] units; the last level is 0. (deepinv draws x_bar's noise with std
  sigma_t / sqrt(2) yet tells the denoiser sigma_t; the adapter passes sigma_t on as asked.) It needs
  an SVD: this project's operators become deepinv DecomposablePhysics in peer_physics.py, a Blur as
  deepinv's BlurFFT, which pads circularly where the measurement may have been blurred with reflection.

EDMDenoiser maps that contract to EDM's D(x; sigma) (x and sigma in [-1, 1] units, diffusion.py):
    x_edm = 2 x - 1,   sigma_edm = 2 sigma,   out = (D(x_edm; sigma_edm) + 1) / 2.
"""
import functools

import numpy as np
import torch
from torch import nn

from .latent import noise_std

PEERS = ("dps", "diffpir", "ddrm")

# deepinv's defaults for each solver (the keyword names are deepinv's), plus our seed. DPS's weight 1
# with "norm" guidance barely pulls towards y (deepinv's docstring: it wants ~hundreds). DiffPIR's
# sigma_floor ([0, 1] units) is the max(0.001, noise_level_img) of the authors' code: with a noiseless
# y, rho_t = lambda sigma^2 / sigma_t^2 is 0 and deepinv's data step returns NaN.
DEFAULTS = {
    "dps": {"num_steps": 1000, "weight": 1.0, "guidance": "norm", "solver": "ddpm", "schedule": "vp", "alpha": 1.0,
            "seed": 0},
    "diffpir": {"max_iter": 100, "zeta": 0.1, "lambda_": 7.0, "sigma_floor": 0.001, "seed": 0},
    "ddrm": {"num_steps": 100, "eta": 0.85, "etab": 1.0, "seed": 0},
}


@functools.cache
def _edm_denoiser_class():
    import deepinv

    class EDMDenoiser(deepinv.models.Denoiser):
        """deepinv's Denoiser around an EDMPrecond `D` and fixed class labels (None: the null class).

        `pixel_range` is the (lo, hi) range of the images deepinv passes in, sigma in the same units:
        (0, 1), deepinv's contract, for DPS, DiffPIR and DDRM; (-1, 1) is EDM's own (no mapping)."""

        def __init__(self, D, labels=None, pixel_range=(0.0, 1.0)):
            super().__init__()
            self.D, self.labels = D, labels
            self.lo, self.hi = map(float, pixel_range)

        def class_labels(self, n: int, device) -> torch.Tensor | None:
            """The labels of a batch of n: one index (or one row of class weights) is repeated."""
            if self.labels is None:
                return None
            c = torch.as_tensor(self.labels, device=device)
            if c.is_floating_point():  # class weights, (K,) or (n, K)
                c = c.float().expand(n, -1) if c.ndim == 1 else c.float()
            else:  # class indices, () or (n,); -1 is the null class
                c = c.long().reshape(-1)
                c = c.expand(n) if len(c) == 1 else c
            if c.shape[0] != n:
                raise ValueError(f"EDMDenoiser: {c.shape[0]} labels for a batch of {n} images")
            return c

        def forward(self, x: torch.Tensor, sigma, *args, **kwargs) -> torch.Tensor:
            k = 2 / (self.hi - self.lo)  # [lo, hi] -> [-1, 1]
            sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1)
            # deepinv may ask for sigma = 0 (DDRM's last level); EDM's c_noise = ln(sigma) / 4 needs
            # sigma > 0, and at sigma_min D is the identity to within sigma_min.
            sigma_edm = (k * sigma).clamp_min(self.D.sigma_min)
            x_edm = k * (x - self.lo) - 1
            out = self.D(x_edm, sigma_edm, self.class_labels(x.shape[0], x.device))
            return (out + 1) / k + self.lo

    EDMDenoiser.__module__, EDMDenoiser.__qualname__ = __name__, "EDMDenoiser"
    return EDMDenoiser


def __getattr__(name):
    # PEP 562: EDMDenoiser subclasses deepinv's Denoiser, so it is built (and deepinv imported) on first use.
    if name == "EDMDenoiser":
        return _edm_denoiser_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _settings(method: str, settings: dict) -> dict:
    """deepinv's defaults for `method` under `settings`; an unknown key is an error, not a silent default."""
    if method not in PEERS:
        raise ValueError(f"unknown peer solver {method!r}; use one of {', '.join(PEERS)}")
    unknown = set(settings) - set(DEFAULTS[method])
    if unknown:
        raise ValueError(f"{method}: unknown settings {sorted(unknown)}; known: {', '.join(DEFAULTS[method])}")
    return {**DEFAULTS[method], **settings}


def peer_nfe(method: str, settings: dict | None = None) -> int:
    """Network evaluations per image (one batched call counts once). DPS's ancestral solvers evaluate
    each of the num_steps time steps but the last, t = 0, and back-propagate each once for the DPS
    gradient; DiffPIR evaluates every iteration; DDRM every noise level, 0 included."""
    method = method.lower()
    s = _settings(method, settings or {})
    if method == "dps":
        if s["solver"] not in ("ddpm", "ddim", "ancestral"):
            raise ValueError(f"dps: peer_nfe counts the ancestral solvers only, not {s['solver']!r}")
        return s["num_steps"] - 1
    return s["max_iter"] if method == "diffpir" else s["num_steps"]


def _with_noise(physics, sigma: float):
    """`physics` as a deepinv physics with Gaussian noise of std `sigma`: DiffPIR reads noise_model.sigma
    and calls prox_l2, DPS's "annealed" guidance reads a GaussianNoise's sigma. deepinv's own operators
    keep their closed forms."""
    import copy

    import deepinv as dinv

    if isinstance(physics, dinv.physics.Physics):
        if noise_std(physics) == sigma and isinstance(physics.noise_model, dinv.physics.GaussianNoise):
            return physics
        physics = copy.deepcopy(physics)  # a shallow copy would share (and change) the module dict
        physics.noise_model = dinv.physics.GaussianNoise(sigma)
        return physics
    # This project's operators: prox_l2 by conjugate gradient on A^T A + I / gamma.
    return dinv.physics.LinearPhysics(A=lambda x, **_: physics.A(x), A_adjoint=lambda y, **_: physics.A_adjoint(y),
                                      noise_model=dinv.physics.GaussianNoise(sigma), solver="CG", max_iter=100,
                                      tol=1e-6, implicit_backward_solver=False)


def _decomposable(physics, x_shape: tuple[int, int, int], device="cpu"):
    """DDRM needs an SVD: deepinv's DecomposablePhysics, or this project's operator as one for images of
    `x_shape` (C, H, W) (peer_physics.py; a Blur becomes deepinv's BlurFFT, whose padding is circular)."""
    import deepinv as dinv

    from .peer_physics import decomposable

    if isinstance(physics, dinv.physics.DecomposablePhysics):
        # DDRM assumes a noise std of 0.01 where noise_model has no sigma (ZeroNoise): give it the true one.
        return _with_noise(physics, noise_std(physics))
    return decomposable(physics, x_shape, noise_std(physics), device)


class PeerSolver(nn.Module):
    """`x_hat = solver(y, physics)` (physics defaults to the one given at construction), in [0, 1]."""

    def __init__(self, method: str, denoiser, settings: dict, physics=None):
        super().__init__()
        self.method, self.denoiser, self.settings, self.physics = method, denoiser, settings, physics

    def forward(self, y: torch.Tensor, physics=None) -> torch.Tensor:
        physics = self.physics if physics is None else physics
        device = next(self.denoiser.D.parameters()).device
        y = y.to(device, torch.float32).clone()  # DDRM divides U^T y in place, and U^T is y itself for inpainting
        if self.method == "dps":
            x = self._dps(y, physics, device)
        else:
            # DiffPIR and DDRM draw from torch's global generator: seed a fork of it.
            cuda = [] if device.type != "cuda" else [torch.cuda.current_device() if device.index is None
                                                      else device.index]
            with torch.random.fork_rng(devices=cuda):
                torch.manual_seed(self.settings["seed"])
                x = self._diffpir(y, physics, device) if self.method == "diffpir" else self._ddrm(y, physics)
        return x.float().clamp(0, 1)

    def _dps(self, y, physics, device):
        from deepinv.sampling import DPS

        s = self.settings
        rng = torch.Generator(device).manual_seed(s["seed"])
        dps = DPS(self.denoiser, schedule=s["schedule"], solver=s["solver"], alpha=s["alpha"],
                  num_steps=s["num_steps"], weight=s["weight"], guidance=s["guidance"], device=device, rng=rng)
        shape = tuple(physics.A_adjoint(y).shape)  # x's shape; deepinv would spend an A^+ on it
        return dps(y, _with_noise(physics, noise_std(physics)), x_init=shape, seed=s["seed"])

    def _diffpir(self, y, physics, device):
        from deepinv.optim.data_fidelity import L2
        from deepinv.sampling import DiffPIR

        s = self.settings
        sigma = max(noise_std(physics), s["sigma_floor"])
        diffpir = DiffPIR(self.denoiser, L2(), sigma=sigma, max_iter=s["max_iter"], zeta=s["zeta"],
                          lambda_=s["lambda_"], device=device)
        return diffpir(y, _with_noise(physics, sigma))

    def _ddrm(self, y, physics):
        from deepinv.sampling import DDRM

        s = self.settings
        ddrm = DDRM(self.denoiser, sigmas=np.linspace(1, 0, s["num_steps"]), eta=s["eta"], etab=s["etab"])
        x_shape = tuple(physics.input_shape(y.shape)[1:]) if hasattr(physics, "input_shape") else tuple(y.shape[1:])
        return ddrm(y, _decomposable(physics, x_shape, y.device))


def peer_solver(method: str, D, labels, physics=None, **settings) -> PeerSolver:
    """deepinv's `method` (one of PEERS) with the EDM teacher `D` as prior, class `labels` (an index,
    one per image, class weights, or None for the null class) and deepinv's defaults (DEFAULTS) under
    `settings`. DDRM checks `physics` here: it applies to operators with an SVD only (a Blur is solved
    with circular padding: peer_physics.circular_blur)."""
    method = method.lower()
    s = _settings(method, settings)
    if method == "ddrm" and physics is not None:
        cfg = D.net.cfg
        _decomposable(physics, (cfg.channels, cfg.resolution, cfg.resolution))
    return PeerSolver(method, _edm_denoiser_class()(D, labels), s, physics)
