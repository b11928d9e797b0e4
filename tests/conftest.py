"""Shared fixtures: a small blackbody grid, a tiny trained run and its ONNX bundle.

They are built once per test session (a few seconds) so that the model, export,
sampler and Java parity tests all run against a genuinely trained network.
"""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = ROOT / "export" / "default"


@pytest.fixture(scope="session")
def tiny_grid():
    from xpcvae import params
    from xpcvae.forward import WAVELENGTH, ForwardModel

    rng = np.random.default_rng(11)
    u = rng.random((4000, params.NDIM))
    # Over the full box a blackbody's Teff is nearly degenerate with A0 (0-10 mag) and hidden
    # by strong veiling (high Mdot and ff); a tiny network trained for seconds can only show
    # that it learns where the spectrum constrains Teff: low extinction, weak accretion.
    u[:, params.INDEX["a0"]] *= 0.1          # A0 in [0, 1]
    u[:, params.INDEX["log_mdot"]] *= 0.3    # log Mdot in [-11, -9.06]
    theta = params.from_unit(u)
    flux, norm = ForwardModel(photosphere="blackbody").spectra(theta)
    return types.SimpleNamespace(parameters=theta, wavelength=WAVELENGTH.copy(), flux=flux.astype(np.float32),
                                 norm=norm, attrs={"photosphere": "blackbody", "seed": 11})


@pytest.fixture(scope="session")
def noise():
    from xpcvae.simulate.noise import NoiseModel

    return NoiseModel.default()


@pytest.fixture(scope="session")
def tiny_run(tiny_grid, noise, tmp_path_factory):
    from xpcvae.train.model import CVAEConfig
    from xpcvae.train.training import Trainer, TrainConfig

    run = tmp_path_factory.mktemp("runs") / "tiny"
    cfg = CVAEConfig(mixture_components=3, trunk_widths=(128, 64), context_size=32, head_widths=(32,))
    tcfg = TrainConfig(epochs=20, batch_size=128, lr=2e-3, kl_start=1, kl_end=4, g_mag_min=11, g_mag_max=15,
                       threads=2, seed=3)
    trainer = Trainer(tiny_grid, run, noise, cfg, tcfg)
    trainer.fit(progress=False)
    return run


@pytest.fixture(scope="session")
def noisy_test_spectra(tiny_grid, tiny_run, noise):
    """Noisy spectra of the tiny run's test split (and their truths), incl. extreme corners."""
    from xpcvae import params
    from xpcvae.forward import ForwardModel

    with np.load(tiny_run / "split.npz") as z:
        test = z["test"]
    theta = np.asarray(tiny_grid.parameters)[test][:100]
    # corners the parity tests must cover: A0 = 10, ff = 0
    extra = np.array([[4500, 4.2, 0.0, -8.0, 0.1, 0.8, 10.0], [5500, 4.0, 0.2, -7.0, 0.0, 1.0, 1.0]])
    theta = np.vstack([theta, extra])
    clean, _ = ForwardModel(photosphere="blackbody").spectra(theta)
    g = np.linspace(11.0, 17.5, len(theta))  # down to the faintest noise level
    sigma = np.asarray(noise.sigma(clean, g[:, None]))
    flux = clean + sigma * np.random.default_rng(5).standard_normal(clean.shape)
    return types.SimpleNamespace(flux=flux, sigma=sigma, theta=params.validate(theta), g=g)


@pytest.fixture(scope="session")
def tiny_bundle(tiny_run, tiny_grid, noisy_test_spectra, tmp_path_factory):
    """The tiny run's bundle, with the forward_model graph of its (blackbody) grid."""
    from xpcvae.export.networks import export_model
    from xpcvae.train.run import load_run_model

    model, _ = load_run_model(tiny_run)
    out = tmp_path_factory.mktemp("bundles") / "tiny"
    bundle, _ = export_model(model, out, check_spectra=(noisy_test_spectra.flux, noisy_test_spectra.sigma),
                             description="tiny test model", provenance={"grid_attrs": dict(tiny_grid.attrs)})
    assert bundle.has_role("forward_model")
    return bundle
