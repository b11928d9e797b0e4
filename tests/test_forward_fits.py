"""The emulator and noise-model fits keep the real-data test stars (data.library.is_test_star) out.

The test stars' spectra are replaced by NaN in a copy of the library: if any fit
touched them, its result would not be finite.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from xpcvae.data.library import TEST_STARS, clean_ak, is_test_star, load_library, salaris_mh


@pytest.fixture(scope="module")
def poisoned_library():
    lib = load_library()
    rows = np.arange(0, len(lib), 6)  # a subsample keeps the fits fast
    sub = {f.name: getattr(lib, f.name) for f in dataclasses.fields(lib)}
    for k, v in sub.items():
        if isinstance(v, np.ndarray):
            sub[k] = v[rows].copy()
    test = is_test_star(sub["source_id"])
    assert test.any() and (~test).any()
    sub["flux"][test] = np.nan
    sub["flux_error"][test] = np.nan
    return dataclasses.replace(lib, **sub)


def test_emulator_fit_never_sees_test_stars(poisoned_library):
    from xpcvae.calibrate.emulator_fit import fit_emulator

    em = fit_emulator(poisoned_library, hidden=(16,), epochs=(1, 1), batch=1024, progress=False, log=lambda m: None)
    assert all(np.all(np.isfinite(w)) for w in em.weights + em.biases)
    s = em.shape(np.array([4000.0, 6000.0]), np.array([4.0, 4.0]), np.array([0.0, 0.0]))
    assert np.all(np.isfinite(s))
    assert em.meta["held_out"].startswith(f"gaiaedr3_{TEST_STARS}")


def test_noise_fit_never_sees_test_stars(poisoned_library):
    from xpcvae.simulate import noise

    lib = poisoned_library
    # give the test stars finite but absurd errors: the fit must equal the fit without them
    test = lib.test
    absurd = dataclasses.replace(lib, flux=np.where(test[:, None], 1.0, lib.flux),
                                 flux_error=np.where(test[:, None], 1e3, lib.flux_error))
    keep = ~test
    without = dataclasses.replace(lib, **{f.name: getattr(lib, f.name)[keep] for f in dataclasses.fields(lib)
                                          if isinstance(getattr(lib, f.name), np.ndarray)})
    m1 = noise.fit_noise_model(absurd, log=lambda m: None, report=False)
    m2 = noise.fit_noise_model(without, log=lambda m: None, report=False)
    assert m1.meta["n_stars"] == m2.meta["n_stars"] > 1000
    for name in ("a", "b", "c"):
        np.testing.assert_array_equal(getattr(m1, name), getattr(m2, name))
        assert np.all(np.isfinite(getattr(m1, name))) and np.all(getattr(m1, name) >= 0)


def test_data_quality_rules():
    ak = clean_ak(np.array([np.nan, -85.0, -0.5, -0.1, 0.0, 0.3]))
    assert np.isnan(ak[:3]).all()
    np.testing.assert_array_equal(ak[3:], [0.0, 0.0, 0.3])
    mh = salaris_mh(np.array([0.0, -0.5, 0.1]), np.array([0.0, 0.4, np.nan]))
    np.testing.assert_allclose(mh, [0.0, -0.5 + np.log10(0.638 * 10**0.4 + 0.362), 0.1])
    assert list(is_test_star([10, 11, 15, 4])) == [True, False, True, False]
