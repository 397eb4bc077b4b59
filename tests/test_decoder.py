"""The one-step decoder: a copy of the teacher at sigma_max, and growth that starts from the old decoder."""
import pytest
import torch
import torch.nn.functional as F

from pagoda_inverse.diffusion import precond_coefficients
from pagoda_inverse.nets import UNetConfig
from pagoda_inverse.distill import Decoder
from pagoda_inverse.teacher import build_teacher

TINY = UNetConfig(resolution=8, channels=1, model_channels=16, channel_mult=[1, 2], num_res_blocks=1,
                  attn_resolutions=[4], dropout=0.0, num_classes=10)


def trained_like_teacher(seed=0):
    """A tiny teacher with all weights random (the zero-initialised convs too), as after some training."""
    torch.manual_seed(seed)
    D = build_teacher(TINY)
    for p in D.parameters():
        p.data.normal_(0, 0.05)
    return D


def trained_like_decoder(seed=0):
    D = trained_like_teacher(seed)
    return D, Decoder.from_teacher(D)


def test_decoder_is_teacher_network_at_sigma_max():
    D, G = trained_like_decoder()
    z, y = torch.randn(4, 1, 8, 8) * 80, torch.arange(4)
    sigma = torch.full((4,), 80.0)
    _, _, c_in, c_noise = precond_coefficients(sigma)
    torch.testing.assert_close(G(z, y), D.net(c_in[:, None, None, None] * z, c_noise, y))


def test_set_dropout_makes_training_mode_deterministic():
    import dataclasses
    torch.manual_seed(0)
    G = Decoder.from_teacher(build_teacher(dataclasses.replace(TINY, dropout=0.5))).train()
    for p in G.parameters():
        p.data.normal_(0, 0.05)  # nonzero everywhere, so dropout in any block shows in the output
    z, y = torch.randn(2, 1, 8, 8) * 80, torch.tensor([0, 1])
    assert not torch.equal(G(z, y), G(z, y))
    G.set_dropout(0.0)
    assert torch.equal(G(z, y), G(z, y)) and G.cfg.model.dropout == 0.0


def test_grow_starts_near_nearest_upsampled_decoder():
    _, G = trained_like_decoder()
    z, y = torch.randn(8, 1, 8, 8) * 80, torch.randint(0, 10, (8,))
    with torch.no_grad():
        before = G(z, y)
        G.grow()
        after = G(z, y)
    assert G.resolution == 16 and after.shape == (8, 1, 16, 16)
    up = F.interpolate(before, scale_factor=2, mode="nearest")
    rel = ((after - up).norm() / up.norm()).item()
    assert rel < 0.5, rel  # only the head's 3x3 conv sees the new neighbours
    # The features entering the head are exactly the nearest-upsampled old ones.
    emb = G.net.embed(torch.full((8,), 80.0).log() / 4, y)
    _, _, c_in, _ = precond_coefficients(torch.tensor(80.0))
    h = G.net.features(c_in * z, emb)
    torch.testing.assert_close(G.stages[0](h, emb), F.interpolate(h, scale_factor=2, mode="nearest"))


def test_residual_stage_starts_as_bicubic_upsampled_decoder_and_refines_a_given_image():
    """x_2r = up(x_r) + out(h) with `out` zero-initialised: a fresh stage is bicubic upsampling of the
    decoder before it, or of the image given in its place (x_low), row by row where use_low says."""
    _, G = trained_like_decoder()
    z, y = torch.randn(4, 1, 8, 8) * 80, torch.arange(4)
    up = lambda x: F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)  # noqa: E731
    with torch.no_grad():
        before = G(z, y)
        G.grow("residual")
        torch.testing.assert_close(G(z, y), up(before))
        x_low = torch.rand(4, 1, 8, 8) * 2 - 1
        torch.testing.assert_close(G(z, y, x_low), up(x_low))
        use = torch.tensor([True, False, True, False])
        torch.testing.assert_close(G(z, y, x_low, use), up(torch.where(use[:, None, None, None], x_low, before)))
        for stage in G.stages:  # once trained, the stage's output depends on the latent, not only on x_low
            for p in stage.parameters():
                p.data.normal_(0, 0.05)
        assert not torch.allclose(G(z, y, x_low), G(z.flip(0), y, x_low))
    assert G.lowres_sizes == [8] and G.output_conv is G.stages[-1].out[-1]


def test_residual_stages_keep_one_form_and_check_x_low():
    _, G = trained_like_decoder()
    with pytest.raises(ValueError, match="x_low needs 'residual' stages"):
        G(torch.randn(1, 1, 8, 8), torch.tensor([0]), torch.zeros(1, 1, 8, 8))
    G.grow()
    with pytest.raises(ValueError, match="cannot grow a 'residual' stage"):
        G.grow("residual")
    _, G = trained_like_decoder()
    G.grow("residual")
    G.grow()  # the decoder's own form
    assert G.cfg.stage_form == "residual" and G.lowres_sizes == [8, 16] and G.resolution == 32
    with pytest.raises(ValueError, match="sizes \\[8, 16\\]"):
        G(torch.randn(1, 1, 8, 8), torch.tensor([0]), torch.zeros(1, 1, 32, 32))


def test_residual_decoder_file_round_trip(tmp_path):
    from pagoda_inverse import checkpoint
    from pagoda_inverse.distill.decoder import decoder_checkpoint, load_decoder
    _, G = trained_like_decoder()
    G.grow("residual")
    for p in G.stages.parameters():
        p.data.normal_(0, 0.05)
    checkpoint.save(tmp_path / "g.safetensors", *decoder_checkpoint(G, "0" * 16))
    H = load_decoder(tmp_path / "g.safetensors")
    z, y, x_low = torch.randn(2, 1, 8, 8) * 80, torch.tensor([3, 4]), torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        assert H.cfg.stage_form == "residual" and torch.equal(H(z, y, x_low), G(z, y, x_low))


def test_frozen_parameters_get_no_gradient_and_new_ones_do():
    _, G = trained_like_decoder()
    G.grow()
    G.freeze_for_growth(trainable_up_blocks=2)
    G(torch.randn(2, 1, 8, 8) * 80, torch.tensor([1, 2])).square().mean().backward()
    frozen = [G.net.map_layer, G.net.map_label, G.net.conv_in, G.net.enc, G.net.mid, G.net.dec[0]]
    for m in frozen:
        assert all(p.grad is None for p in m.parameters())
    for m in (G.stages, G.net.head, G.net.dec[-1], G.net.dec[-2]):
        assert all(p.grad is not None for p in m.parameters() if p.requires_grad) and any(p.requires_grad for p in m.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in G.stages[0].parameters())


def test_adaptive_weight_is_gradient_norm_ratio():
    from pagoda_inverse.distill.loss import adaptive_weight
    W = torch.nn.Parameter(torch.ones(3))
    a, b = torch.tensor([3.0, 0.0, 4.0]), torch.tensor([0.0, 1.0, 0.0])
    w = adaptive_weight((W * a).sum(), (W * b).sum(), W, 0.01, 10.0)
    assert abs(w.item() - 5.0 / (1.0 + 1e-4)) < 1e-5 and not w.requires_grad
    assert adaptive_weight((W * a).sum(), (W * b * 1e-6).sum(), W, 0.01, 10.0).item() == 10.0  # clipped


def test_reconstruction_pixel_term_is_mse_or_l1():
    """With LPIPS taken out (a net that returns 0), L_rec is pixel_weight times the chosen pixel loss;
    an unknown pixel loss is refused before any training."""
    from pagoda_inverse.distill.loss import LossConfig, reconstruction_loss
    x = torch.zeros(2, 3, 16, 16)
    x_hat = x + 0.5
    zero = lambda a, b, normalize: torch.zeros(len(a))  # noqa: E731
    assert reconstruction_loss(zero, x_hat, x, LossConfig(pixel_weight=2.0)).item() == pytest.approx(2 * 0.25)
    assert reconstruction_loss(zero, x_hat, x, LossConfig(pixel_weight=2.0, pixel_loss="l1")).item() == pytest.approx(2 * 0.5)


def test_hinge_losses_and_the_generator_objective_on_known_values():
    from pagoda_inverse.distill.loss import LossConfig, generator_loss, hinge_d_loss, hinge_g_loss
    real, fake = torch.tensor([2.0, 0.5, -1.0]), torch.tensor([-2.0, 0.0, 0.5])
    # mean(relu(1 - real)) = (0 + 0.5 + 2) / 3, mean(relu(1 + fake)) = (0 + 1 + 1.5) / 3
    assert abs(hinge_d_loss(real, fake).item() - 5.0 / 3) < 1e-6
    assert abs(hinge_g_loss(fake).item() - 0.5) < 1e-6
    W = torch.nn.Parameter(torch.ones(3))
    L_rec, L_adv = (W * torch.tensor([3.0, 0.0, 4.0])).sum(), (W * torch.tensor([0.0, 2.0, 0.0])).sum()
    loss, w = generator_loss(L_rec, L_adv, W, LossConfig(adv_weight=0.2))
    assert abs(w.item() - 5.0 / (2.0 + 1e-4)) < 1e-5  # |grad L_rec| = 5, |grad L_adv| = 2
    assert abs(loss.item() - (7.0 + 0.2 * w.item() * 2.0)) < 1e-5
    assert generator_loss(L_rec, L_adv, W, LossConfig(adv_weight=0.0)) == (L_rec, None)


def test_diffaugment_neutral_is_identity_and_translation_shifts():
    from pagoda_inverse.distill import augment
    x = torch.rand(2, 1, 8, 8)
    p = augment.draw(2, 8)
    p.update(brightness=torch.zeros(2, 1, 1, 1), saturation=torch.ones(2, 1, 1, 1), contrast=torch.ones(2, 1, 1, 1),
             shift=torch.tensor([[0, 0], [1, -2]]), cut_size=0)
    out = augment.apply(x, p)
    torch.testing.assert_close(out[0], x[0])
    torch.testing.assert_close(out[1, :, 1:, :-2], x[1, :, :-1, 2:])  # down 1, left 2
    assert (out[1, :, 0] == 0).all() and (out[1, :, :, -2:] == 0).all()
    p.update(shift=torch.zeros(2, 2, dtype=torch.long), cut_size=2, cut_offset=torch.tensor([[4, 4], [0, 0]]))
    out = augment.apply(torch.ones(2, 1, 8, 8), p)
    assert (out[0] == 0).sum() == 4 and (out[1] == 0).sum() == 1  # clipped at the corner


def test_projected_discriminator_trains_heads_on_a_frozen_trunk():
    from pagoda_inverse.metrics.lpips import lpips_model
    from pagoda_inverse.distill.discriminator import make_discriminator
    torch.manual_seed(0)
    disc = make_discriminator("projected", 16, 1, 8, 10)
    assert not any(k.startswith("_lpips") for k in disc.state_dict())  # the trunk is neither trained nor saved
    x, y = torch.rand(3, 1, 16, 16).mul(2).sub(1).requires_grad_(), torch.tensor([0, 1, 2])
    s = disc(x, y)
    assert s.shape == (3, 9 * 5)  # a 3x3 grid of patch logits for each of AlexNet's five ReLU levels
    assert not torch.allclose(s, disc(x, torch.tensor([3, 4, 5])))  # the class projection counts
    s.mean().backward()
    assert x.grad.abs().sum() > 0 and all(p.grad is not None for p in disc.parameters())
    assert all(p.grad is None and not p.requires_grad for p in lpips_model("alex").parameters())


def test_both_discriminators_honour_the_spectral_option():
    from pagoda_inverse.distill.discriminator import make_discriminator
    for arch in ("residual", "projected"):
        normed = {k for k in make_discriminator(arch, 8, 1, 8, 10).state_dict() if "parametrizations" in k}
        assert normed and not any("parametrizations" in k
                                  for k in make_discriminator(arch, 8, 1, 8, 10, spectral=False).state_dict())


def test_a_decoder_file_carries_its_models_task_defaults(tmp_path):
    """The [tasks] table of a decoder's training config, stored in its file, becomes the loaded model's
    task_defaults; a decoder without one gives none (never another model's)."""
    from pagoda_inverse import checkpoint
    from pagoda_inverse.autoencoder import load
    from pagoda_inverse.distill.decoder import decoder_checkpoint
    from pagoda_inverse.distill.latents import file_hash
    from pagoda_inverse.teacher import save_teacher
    D, G = trained_like_decoder()
    save_teacher(tmp_path / "t.safetensors", D)
    tasks = {"inpaint": {"latent": {"steps": 5, "prior": 2.0}}}
    for name, config in (("own", {"latents": {"levels": 4}, "tasks": tasks}), ("plain", {"latents": {"levels": 4}})):
        checkpoint.save(tmp_path / f"{name}.safetensors",
                        *decoder_checkpoint(G, file_hash(tmp_path / "t.safetensors"), training={"config": config}))
    assert load(f"{tmp_path / 't.safetensors'},{tmp_path / 'own.safetensors'}").task_defaults == tasks
    assert load(f"{tmp_path / 't.safetensors'},{tmp_path / 'plain.safetensors'}").task_defaults == {}


@pytest.mark.slow
def test_decoder_training_base_then_grow(tmp_path):
    from pagoda_inverse.distill.decoder import load_decoder
    from pagoda_inverse.teacher import save_teacher
    from pagoda_inverse.train.decoder import load_config, train_decoder
    from conftest import FIXTURE_FMNIST
    torch.manual_seed(0)
    save_teacher(tmp_path / "teacher.safetensors", build_teacher(TINY))
    common = f"""teacher = "{tmp_path / 'teacher.safetensors'}"
[latents]
dir = "{tmp_path / 'latents'}"
levels = 4
chunk = 200
[loss]
adv_weight = {{adv}}
[disc]
width = 8
architecture = "{{arch}}"
[train]
batch_size = 8
total_steps = 3
log_every = 1
"""
    (tmp_path / "base.toml").write_text(common.format(adv=0.2, arch="residual") + f'run_dir = "{tmp_path / "base"}"\n'
                                        f'[data]\nroot = "{FIXTURE_FMNIST}"\nresolution = 8\n')
    train_decoder(load_config(tmp_path / "base.toml"))
    assert len(list((tmp_path / "latents").glob("*.safetensors"))) == 4  # 300 images + mirrors, chunks of 200
    (tmp_path / "grow.toml").write_text(f'stage = "grow"\ninit = "{tmp_path / "base" / "final.safetensors"}"\n'
                                        + common.format(adv=1.0, arch="projected") + f'run_dir = "{tmp_path / "grow"}"\n'
                                        f'[data]\nroot = "{FIXTURE_FMNIST}"\nresolution = 16\n')
    train_decoder(load_config(tmp_path / "grow.toml"))
    G = load_decoder(tmp_path / "grow" / "final.safetensors")
    assert G.resolution == 16 and G(torch.randn(2, 1, 8, 8) * 80, torch.tensor([0, 1])).isfinite().all()
    # Growth trains only the grown blocks, the head and the last two up-path blocks: every frozen tensor
    # of the grown decoder is bit-identical to the previous stage's.
    base = load_decoder(tmp_path / "base" / "final.safetensors").state_dict()
    grown = G.state_dict()
    trainable = ("net.head.", f"net.dec.{len(G.net.dec) - 1}.", f"net.dec.{len(G.net.dec) - 2}.")
    frozen = [k for k in base if not k.startswith(trainable)]
    assert len(frozen) > 20 and all(torch.equal(base[k], grown[k]) for k in frozen)
    assert any(not torch.equal(base[k], grown[k]) for k in base if k.startswith(trainable))
    # Each cached latent is Enc(x_low) of its own image, mirrored when its flag says so.
    from pagoda_inverse.data import DataConfig, load_training_data
    from pagoda_inverse.diffusion import encode
    from pagoda_inverse.distill.latents import LatentConfig, file_hash, load_latents
    from pagoda_inverse.teacher import load_teacher
    D = load_teacher(tmp_path / "teacher.safetensors")
    z, idx, flip = load_latents(LatentConfig(dir=str(tmp_path / "latents"), levels=4), file_hash(tmp_path / "teacher.safetensors"))
    x_low, y_low, _ = load_training_data(DataConfig(root=str(FIXTURE_FMNIST), resolution=8))
    pick = torch.tensor([0, 7, 299, 300, 455, 599])  # the mirrored chunks (sorted first), then the plain ones
    xs = torch.where(flip[pick, None, None, None], x_low[idx[pick]].flip(-1), x_low[idx[pick]])
    torch.testing.assert_close(z[pick], encode(D, xs, y_low[idx[pick]], 4, clamp=True), atol=1e-4, rtol=1e-5)
    assert flip[pick].tolist() == [True, True, True, False, False, False] and idx[pick].tolist() == [0, 7, 299, 0, 155, 299]
    assert not torch.allclose(z[pick[1]], z[pick[2]])
    import json
    rows = [json.loads(r) for r in (tmp_path / "grow" / "log.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and all(0.01 <= r["w"] <= 10 and r["L_rec"] > 0 for r in rows)


def test_latent_cache_records_how_the_low_resolution_images_were_made(tmp_path):
    import pytest

    from pagoda_inverse.checkpoint import CheckpointError
    from pagoda_inverse.data import DataConfig, load_training_data
    from pagoda_inverse.diffusion import encode
    from pagoda_inverse.distill.latents import LatentConfig, encode_dataset, load_latents
    from conftest import FIXTURE_FMNIST

    D = trained_like_teacher().eval()
    mix = LatentConfig(dir=str(tmp_path / "z"), levels=3, mirror=False, limit=12, chunk=6, batch=6, lowres="mix", lowres_seed=5)
    x, y, _ = load_training_data(DataConfig(root=str(FIXTURE_FMNIST), resolution=8), lowres="mix", lowres_seed=5)
    with torch.no_grad():
        encode_dataset(D, "t", x, y, mix, progress=False)
        z, idx, _ = load_latents(mix, "t")
        torch.testing.assert_close(z[:3], encode(D, x[:3], y[:3], 3, clamp=True), atol=1e-5, rtol=1e-5)
    assert idx.tolist() == list(range(12))
    plain = LatentConfig(dir=mix.dir, levels=3, mirror=False, limit=12, chunk=6, batch=6)
    with pytest.raises(CheckpointError, match="lowres"):
        load_latents(plain, "t")
    with pytest.raises(CheckpointError, match="other settings"):
        encode_dataset(D, "t", x, y, plain, progress=False)
