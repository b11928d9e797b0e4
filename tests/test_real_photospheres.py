"""Training on veiled real photospheres (xpcvae.train.real_photospheres) and its place in the Trainer."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from xpcvae import params
from xpcvae.data.library import is_test_star, load_library
from xpcvae.forward.config import ForwardConfig
from xpcvae.forward.model import ForwardModel
from xpcvae.simulate.noise import NoiseModel
from xpcvae.simulate.veiling import veil
from xpcvae.train.real_photospheres import ACCRETION, RealPhotospheres, teff_weights, training_stars

I = params.INDEX


@pytest.fixture(scope="module")
def small_library():
    """Every 40th star of the real library: test stars and training stars alike (~700 stars)."""
    lib = load_library()
    idx = np.arange(0, len(lib), 40)
    return dataclasses.replace(lib, **{f.name: getattr(lib, f.name)[idx] for f in dataclasses.fields(lib)
                                       if isinstance(getattr(lib, f.name), np.ndarray)})


@pytest.fixture(scope="module")
def pool(small_library):
    return RealPhotospheres.build(ForwardConfig(), seed=4, lib=small_library, veilings=2)


def test_the_pool_draws_no_held_out_star_and_keeps_the_apogee_labels(small_library, pool):
    assert is_test_star(small_library.source_id).sum() > 50  # the library offered test stars ...
    assert len(pool) > 200 and not is_test_star(pool.source_id).any()  # ... none was taken
    # the stellar labels are the star's APOGEE labels, the accretion labels lie in the prior box
    row = {int(s): k for k, s in enumerate(small_library.source_id)}
    lib_rows = np.array([row[int(s)] for s in pool.source_id])
    for name in ("teff", "logg", "mh"):
        np.testing.assert_array_equal(pool.theta[:, I[name]], np.asarray(getattr(small_library, name))[lib_rows])
    for name in ACCRETION + ("a0",):
        v = pool.theta[:, I[name]]
        assert np.all((v >= params.LOW[I[name]]) & (v <= params.HIGH[I[name]]))
    np.testing.assert_allclose(pool.x_unit.numpy(), params.to_unit(pool.theta), atol=1e-6)
    # two veilings per star, each at its own accretion draw
    assert np.all(np.unique(pool.source_id, return_counts=True)[1] == 2)
    first = pool.theta[pool.source_id == pool.source_id[0]]
    assert not np.array_equal(first[0, I["ff"]], first[1, I["ff"]])


def test_the_pool_spectra_are_the_stars_veiled_at_the_injected_labels(small_library, pool):
    """Recomputing the veiling of pool rows at their labels (noiselessly) gives their spectra up to
    the added flux's noise: the labels are what was injected."""
    row = {int(s): k for k, s in enumerate(small_library.source_id)}
    pick = np.arange(0, len(pool), max(1, len(pool) // 40))
    lib_rows = np.array([row[int(s)] for s in pool.source_id[pick]])
    v = veil(small_library.flux[lib_rows], small_library.flux_error[lib_rows], small_library.g_mag[lib_rows],
             pool.theta[pick], ForwardModel(), NoiseModel.default(), rng=None)
    mean = v.flux.mean(axis=1, keepdims=True)
    want = v.flux / mean
    noise = np.sqrt(v.added_variance) / mean
    got = pool.flux[pick].numpy()
    # the pool rows are mean-normalised after the noise: compare shapes, within 6 sigma of the added noise
    got = got * (want.mean(axis=1, keepdims=True) / got.mean(axis=1, keepdims=True))
    assert np.all(np.abs(got - want) <= 6.0 * noise + 1e-5 * np.abs(want) + 1e-9)
    # and strongly veiled rows differ from the unveiled star by far more than that noise
    strong = pool.theta[pick, I["ff"]] * (pool.theta[pick, I["log_mdot"]] > -7) > 0.1
    star = small_library.flux[lib_rows] / small_library.flux[lib_rows].mean(axis=1, keepdims=True)
    assert strong.any()
    assert np.all(np.max(np.abs(got[strong] - star[strong]), axis=1) > 0.05)


def test_a_pool_with_a_test_star_is_refused(pool):
    sid = pool.source_id.copy()
    sid[3] = 5 * 1234567890123
    with pytest.raises(ValueError, match="test stars"):
        RealPhotospheres(pool.flux.numpy(), pool.flux_error.numpy(), pool.theta, sid, pool.weight.numpy())


def test_training_stars_never_include_a_test_star(small_library):
    stars, theta, error, unknown = training_stars(small_library)
    assert len(stars) > 100 and not is_test_star(stars.source_id).any()
    np.testing.assert_array_equal(theta[:, I["teff"]], stars.teff)
    assert error.shape == theta.shape and unknown >= 0


def test_the_pool_carries_each_row_s_label_errors(small_library, pool, tmp_path):
    """APOGEE's errors of the row's star, the Salaris [M/H] error, a positive A0 error, and 0 for the
    injected (exact) accretion labels; kept through the file; in unit-box units for the cost."""
    row = {int(s): k for k, s in enumerate(small_library.source_id)}
    lib_rows = np.array([row[int(s)] for s in pool.source_id])
    np.testing.assert_array_equal(pool.theta_error[:, I["teff"]], small_library.teff_err[lib_rows])
    np.testing.assert_array_equal(pool.theta_error[:, I["logg"]], small_library.logg_err[lib_rows])
    np.testing.assert_array_equal(pool.theta_error[:, I["mh"]], small_library.mh_err[lib_rows])
    assert np.all(pool.theta_error[:, I["a0"]] > 0)
    for name in ACCRETION:
        assert np.all(pool.theta_error[:, I[name]] == 0)
    np.testing.assert_allclose(pool.x_error_unit.numpy(), pool.theta_error / (params.HIGH - params.LOW), rtol=1e-6)
    pool.save(tmp_path / "pool.npz")
    np.testing.assert_array_equal(RealPhotospheres.load(tmp_path / "pool.npz").theta_error, pool.theta_error)
    # a pool without label errors (drawn before they were recorded) cannot serve --label-noise
    old = RealPhotospheres(pool.flux.numpy(), pool.flux_error.numpy(), pool.theta, pool.source_id,
                           pool.weight.numpy(), pool.meta)
    old.draw(3, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="no label errors"):
        old.draw(3, torch.Generator().manual_seed(0), label_errors=True)
    bad = pool.theta_error.copy()
    bad[0, I["teff"]] = np.nan
    with pytest.raises(ValueError, match="label errors"):
        RealPhotospheres(pool.flux.numpy(), pool.flux_error.numpy(), pool.theta, pool.source_id,
                         pool.weight.numpy(), pool.meta, bad)


def test_mixed_batches_carry_zero_label_errors_for_simulated_rows(pool):
    from xpcvae.train.training import mix_real

    flux = torch.ones(5, 343)
    f, s, x, e = mix_real(flux, flux, torch.zeros(5, 7), pool, 3, torch.Generator().manual_seed(0), True)
    assert e.shape == (8, 7) and torch.all(e[:5] == 0)
    for i in range(5, 8):  # each real row's errors are those of its pool row
        match = [j for j in range(len(pool)) if torch.equal(pool.x_unit[j], x[i])]
        assert match and any(torch.equal(pool.x_error_unit[j], e[i]) for j in match)


def test_label_noise_without_real_rows_is_refused(tiny_grid, noise, tmp_path):
    from xpcvae.train.training import Trainer, TrainConfig

    with pytest.raises(ValueError, match="label_noise"):
        Trainer(tiny_grid, tmp_path / "r", noise, None, TrainConfig(epochs=1, label_noise=True))


def test_teff_weights_flatten_the_teff_distribution():
    teff = np.array([3600.0] * 2 + [4600.0] * 8)
    flat = teff_weights(teff, bin_width=250.0, flattening=1.0)
    assert flat[:2].sum() == pytest.approx(0.5) and flat.sum() == pytest.approx(1.0)
    natural = teff_weights(teff, bin_width=250.0, flattening=0.0)
    np.testing.assert_allclose(natural, 0.1)
    partial = teff_weights(teff, bin_width=250.0, flattening=0.75)
    assert 0.2 < partial[:2].sum() < 0.5  # the cool bin gains, but less than with a flat weight


def test_the_pool_round_trips_through_its_file(pool, tmp_path):
    pool.save(tmp_path / "pool.npz")
    back = RealPhotospheres.load(tmp_path / "pool.npz")
    np.testing.assert_array_equal(back.flux.numpy(), pool.flux.numpy())
    np.testing.assert_array_equal(back.source_id, pool.source_id)
    assert back.meta == pool.meta


def test_training_mixes_real_rows_into_batches_and_q_warmup_trains_only_q(tiny_grid, noise, tiny_run, pool, tmp_path):
    from xpcvae.train.run import Run
    from xpcvae.train.training import Trainer, TrainConfig, mix_real

    flux = torch.ones(5, 343)
    f, s, x = mix_real(flux, flux, torch.zeros(5, 7), pool, 3, torch.Generator().manual_seed(0))
    assert f.shape == (8, 343) and x.shape == (8, 7)
    assert any(torch.equal(x[5], r) for r in pool.x_unit)  # the appended labels are pool labels

    run = tmp_path / "mixed"
    run.mkdir()
    pool.save(Run(run).real_photospheres_path)  # the run uses this pool rather than drawing one
    tcfg = TrainConfig(epochs=1, batch_size=128, lr=1e-3, kl_start=0, kl_end=0, g_mag_min=11, g_mag_max=15,
                       threads=2, seed=5, real_fraction=0.25, q_warmup_epochs=1, label_noise=True)
    trainer = Trainer(tiny_grid, run, noise, None, tcfg, init_from=tiny_run)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    drawn = []
    draw = trainer.real.draw
    trainer.real.draw = lambda n, g, **kw: (drawn.append((n, kw.get("label_errors"))), draw(n, g, **kw))[1]
    result = trainer.fit(progress=False)
    assert np.isfinite(trainer.history[-1]["train_cost"])
    # 43 real rows with every 128 simulated, drawn with their label errors (label_noise)
    assert drawn and set(drawn) == {(round(128 * 0.25 / 0.75), True)}
    after = trainer.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("q.") for k in changed)
    assert result["epochs"] == 1


@pytest.mark.parametrize("bad", [-0.1, 1.0])
def test_a_real_fraction_outside_0_1_is_refused(tiny_grid, noise, tmp_path, bad):
    from xpcvae.train.training import Trainer, TrainConfig

    with pytest.raises(ValueError, match="real_fraction"):
        Trainer(tiny_grid, tmp_path / "r", noise, None, TrainConfig(epochs=1, real_fraction=bad))
