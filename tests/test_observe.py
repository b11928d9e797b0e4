"""The observation model used in training and evaluation (xpcvae.observe)."""

import numpy as np
import torch
from scipy import stats

from xpcvae.observe import observe


def test_noise_matches_the_reported_uncertainty(noise, tiny_grid):
    clean = torch.as_tensor(np.asarray(tiny_grid.flux[:500], dtype=np.float64))
    g = torch.full((500,), 14.0, dtype=torch.float64)
    flux, sigma = observe(clean, noise, g, torch.Generator().manual_seed(1))
    pulls = ((flux - clean) / sigma).numpy().ravel()
    # the flux scatters around the clean spectrum exactly by the reported sigma: unit pulls
    assert abs(pulls.mean()) < 0.01 and abs(pulls.std() - 1) < 0.01
    assert stats.kstest(pulls[::37], "norm").pvalue > 1e-3
    assert torch.all(sigma > 0)


def test_uncertainties_are_not_a_function_of_the_clean_spectrum(noise, tiny_grid):
    one = torch.as_tensor(np.asarray(tiny_grid.flux[:1], dtype=np.float64)).repeat(200, 1)
    g = torch.full((200,), 13.0, dtype=torch.float64)
    _, sigma = observe(one, noise, g, torch.Generator().manual_seed(2))
    leaky = torch.as_tensor(np.asarray(noise.sigma(one.numpy(), 13.0)))
    # the same clean spectrum gets different reported errors, scattered around the noise model
    ratio = (sigma / leaky).numpy()
    assert ratio.std(axis=0).min() > 0.1
    assert 0.8 < np.median(ratio) < 1.2


def test_fainter_stars_get_larger_uncertainties(noise, tiny_grid):
    clean = torch.as_tensor(np.asarray(tiny_grid.flux[:300], dtype=np.float64))
    gen = torch.Generator().manual_seed(3)
    _, s12 = observe(clean, noise, torch.full((300,), 12.0, dtype=torch.float64), gen)
    _, s17 = observe(clean, noise, torch.full((300,), 17.0, dtype=torch.float64), gen)
    assert np.median((s17 / s12).numpy()) > 3
