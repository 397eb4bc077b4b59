"""Properties of the EDM core: preconditioning, sigma grid, and the Heun PF-ODE solver against closed forms."""
import math

import torch

from pagoda_inverse.diffusion import (SIGMA_DATA, SIGMA_MAX, SIGMA_MIN, EDMPrecond, decode_ode, edm_loss, encode,
                                      encoder_sigmas, guided_denoiser, karras_sigmas, precond_coefficients)


def test_precond_identities():
    sigma = torch.logspace(-3, 2, 50, dtype=torch.float64)
    c_skip, c_out, c_in, c_noise = precond_coefficients(sigma)
    sd = SIGMA_DATA
    # Unit-variance network input: Var(c_in (x + n)) = c_in^2 (sd^2 + sigma^2) = 1.
    torch.testing.assert_close(c_in ** 2 * (sd ** 2 + sigma ** 2), torch.ones_like(sigma))
    # Unit-variance training target: Var((x - c_skip (x + n)) / c_out) = 1 (EDM Appendix B.6).
    target_var = ((1 - c_skip) ** 2 * sd ** 2 + c_skip ** 2 * sigma ** 2) / c_out ** 2
    torch.testing.assert_close(target_var, torch.ones_like(sigma))
    torch.testing.assert_close(c_noise, sigma.log() / 4)
    assert c_skip[0] > 0.99998 and c_out[0] < 0.0021  # D(x; sigma -> 0) -> x


class ScaledNet(torch.nn.Module):
    """F = a * input: a known network to check the wrapper's algebra."""
    def forward(self, x, c_noise, labels):
        return 3.0 * x


def test_precond_wrapper_algebra():
    D = EDMPrecond(ScaledNet())
    x = torch.randn(4, 1, 8, 8)
    sigma = torch.tensor([0.01, 0.5, 2.0, 80.0])
    c_skip, c_out, c_in, _ = precond_coefficients(sigma.reshape(-1, 1, 1, 1))
    torch.testing.assert_close(D(x, sigma), (c_skip + 3.0 * c_out * c_in) * x)


def test_karras_grid_endpoints():
    s = karras_sigmas(40)
    assert len(s) == 41 and s[-1] == 0
    assert math.isclose(s[0].item(), SIGMA_MAX, rel_tol=1e-6) and math.isclose(s[-2].item(), SIGMA_MIN, rel_tol=1e-5)
    assert (s[:-1] > s[1:]).all()
    e = encoder_sigmas(40)
    assert len(e) == 40 and torch.equal(e, s[:-1].flip(0))


class GaussianDenoiser(torch.nn.Module):
    """The exact denoiser of data ~ N(0, s^2 I): D(x; sigma) = x s^2 / (s^2 + sigma^2)."""
    def __init__(self, s):
        super().__init__()
        self.s, self.sigma_min, self.sigma_max = s, SIGMA_MIN, SIGMA_MAX

    def forward(self, x, sigma, labels=None):
        sigma = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, 1, 1, 1)
        return x * self.s ** 2 / (self.s ** 2 + sigma ** 2)


def test_heun_matches_closed_form_pf_ode():
    # For Gaussian data the PF-ODE solution is x(sigma) = x(sigma0) sqrt(s^2 + sigma^2) / sqrt(s^2 + sigma0^2).
    s = 0.5
    D = GaussianDenoiser(s)
    x0 = torch.randn(8, 1, 8, 8, dtype=torch.float64) * s
    exact = x0 * math.sqrt(s ** 2 + SIGMA_MAX ** 2) / math.sqrt(s ** 2 + SIGMA_MIN ** 2)

    def heun_err(n):
        return ((encode(D, x0, num_levels=n, clamp=False) - exact).norm() / exact.norm()).item()

    def euler_err(n):
        sig, x = encoder_sigmas(n).double(), x0.clone()
        for a, b in zip(sig[:-1], sig[1:]):
            x = x + (b - a) * (x - D(x, a)) / a
        return ((x - exact).norm() / exact.norm()).item()

    assert heun_err(40) < 0.01
    # Second order: doubling the levels divides the error by ~4 (Euler: by ~2).
    assert 3.5 < heun_err(40) / heun_err(80) < 4.5
    assert 1.5 < euler_err(40) / euler_err(80) < 2.5
    # The decoding direction on the same grid inverts the encoder (up to Heun not being exactly time-reversible).
    z = encode(D, x0, num_levels=40, clamp=False)
    back = decode_ode(D, z, num_levels=40, clamp=False)
    assert ((back - x0).norm() / x0.norm()).item() < 2e-3


def test_guidance_combines_conditional_and_null():
    class LabelNet(torch.nn.Module):
        sigma_min, sigma_max = SIGMA_MIN, SIGMA_MAX
        def forward(self, x, sigma, labels):
            return x * 0 + labels.float().reshape(-1, 1, 1, 1)  # null label -1
    x = torch.zeros(2, 1, 2, 2)
    out = guided_denoiser(LabelNet(), x, 1.0, torch.tensor([2, 5]), guidance=3.0)
    # -1 + 3 * (y - (-1))
    assert out[0].unique().item() == -1 + 3 * 3 and out[1].unique().item() == -1 + 3 * 6


def test_edm_loss_is_unit_for_zero_network():
    # F = 0 gives D = c_skip (x + n); its weighted error has expectation 1 per pixel for data of std sigma_data.
    class Zero(torch.nn.Module):
        def forward(self, x, c_noise, labels):
            return torch.zeros_like(x)
    torch.manual_seed(0)
    x = torch.randn(4096, 1, 4, 4) * SIGMA_DATA
    loss = edm_loss(EDMPrecond(Zero()), x, None)
    assert abs(loss.item() - 1.0) < 0.05
