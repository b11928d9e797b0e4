"""The Python API: `from xpcvae import infer, PosteriorSampler`, its inputs, its typed table, the README example."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = ROOT / "export" / "default"
EXAMPLES = ROOT / "examples" / "spectra.csv"


@pytest.fixture(scope="module")
def examples():
    from xpcvae.data.spectra_csv import read_spectra_csv

    rows = read_spectra_csv(EXAMPLES)
    return (np.array([r.flux for r in rows]), np.array([r.flux_error for r in rows]), [r.source_id for r in rows])


def test_the_readme_python_example_runs(monkeypatch):
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python usage", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1
    monkeypatch.chdir(ROOT)
    exec(compile(blocks[0], "README.md (Python usage)", "exec"), {"__name__": "readme"})


def test_import_is_light_and_names_resolve():
    script = ("import sys\nimport xpcvae\nheavy = [m for m in ('numpy', 'onnxruntime', 'astropy', 'torch') "
              "if m in sys.modules]\nfrom xpcvae import PosteriorSampler, infer\nimport xpcvae.infer.batch\n"
              "from xpcvae import infer as again\nprint(heavy, PosteriorSampler.__name__, callable(infer), "
              "again is infer)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "PosteriorSampler", "True", "True"]


def test_infer_gives_the_numbers_of_the_command_line(examples, tmp_path):
    from astropy import units as u
    from astropy.table import Table

    from xpcvae import infer
    from xpcvae.cli import main

    assert main(["infer", "--bundle", str(DEFAULT_BUNDLE), "--input", str(EXAMPLES), "--out",
                 str(tmp_path / "s.ecsv"), "--samples", "300", "--seed", "9"]) == 0
    cli = Table.read(tmp_path / "s.ecsv")
    for spectra in (str(EXAMPLES), examples):
        t = infer(spectra, bundle=DEFAULT_BUNDLE, samples=300, seed=9)
        assert t.colnames == cli.colnames
        assert list(t["source_id"]) == list(cli["source_id"]) == examples[2]
        for c in t.colnames:
            if t[c].dtype.kind == "f":
                np.testing.assert_array_equal(t[c], cli[c])
                assert t[c].unit == cli[c].unit
    assert t["teff_median"].unit == u.K and t["mass_p16"].unit == u.Msun and t["ff_median"].unit is None
    assert t["log_mdot_median"].unit == u.Unit("dex(Msun/yr)")
    assert "effective temperature" in t["teff_median"].description
    assert t.meta["seed"] == 9


def test_bad_rows_are_error_rows_never_an_exception(examples):
    from xpcvae import infer

    flux, err, ids = examples
    f = [row.copy() for row in flux[:6]]
    e = [row.copy() for row in err[:6]]
    f[1][20] = np.nan                      # NaN flux
    f[2] = f[2][:300]                      # wrong length
    e[3][5] = 0.0                          # non-positive error
    f[4] = ["a"] * 343                     # not numbers
    t = infer((f, e, ids[:6]), bundle=DEFAULT_BUNDLE, samples=100)
    assert len(t) == 6
    assert list(t["status"]) == ["ok", "error", "error", "error", "error", "ok"]
    assert "flux[20]" in t["message"][1] and ids[1] in t["message"][1]
    assert "300" in t["message"][2] and "343" in t["message"][2]
    assert "flux_error[5]" in t["message"][3] and "not positive" in t["message"][3]
    assert "must be numbers" in t["message"][4]
    assert t["teff_median"].mask[1] and t["gof_chi2"].mask[1] and t["n_samples"].mask[1] and t["ood_flag"].mask[1]
    assert np.isnan(np.asarray(t["teff_median"])[1]) and not t["teff_median"].mask[0]  # NaN under the mask
    assert t["teff_median"].dtype == np.float64 and t["n_samples"][0] == 100


def test_tables_frames_and_one_spectrum(examples):
    import pandas as pd
    from astropy.table import Table

    from xpcvae import infer

    flux, err, ids = examples
    ref = infer((flux[:2], err[:2], ids[:2]), bundle=DEFAULT_BUNDLE, samples=100)
    project = Table.read(EXAMPLES, format="ascii.csv")[:2]
    sampled = pd.DataFrame({"source_id": ids[:2], "flux": list(flux[:2]), "flux_error": list(err[:2])})
    for spectra in (project, project.to_pandas(), sampled, Table.from_pandas(sampled)):
        t = infer(spectra, bundle=DEFAULT_BUNDLE, samples=100)
        assert list(t["source_id"]) == ids[:2]
        np.testing.assert_array_equal(t["teff_median"], ref["teff_median"])
    # one spectrum as 1-D arrays: named "0", so keyed like the same spectrum given with that id
    one = infer((flux[0], err[0]), bundle=DEFAULT_BUNDLE, samples=100)
    same = infer((flux[:1], err[:1], ["0"]), bundle=DEFAULT_BUNDLE, samples=100)
    assert len(one) == 1 and one["source_id"][0] == "0" and one["teff_median"][0] == same["teff_median"][0]


def test_draws_by_source_with_units(examples):
    from astropy import units as u

    from xpcvae import infer

    flux, err, ids = examples
    e = err[:3].copy()
    e[1, 0] = -1.0
    t, draws = infer((flux[:3], e, ids[:3]), bundle=DEFAULT_BUNDLE, samples=200, return_samples=True)
    assert set(draws) == {ids[0], ids[2]}  # the error row has no draws
    d = draws[ids[0]]
    assert len(d) == 200 and d.colnames == ["teff", "logg", "mh", "log_mdot", "ff", "mass", "a0"]
    assert d["teff"].unit == u.K and d["a0"].unit == u.mag
    assert np.median(d["teff"]) == t["teff_median"][0]
    with pytest.raises(ValueError, match="appears more than once"):
        infer((flux[:2], err[:2], ["x", "x"]), bundle=DEFAULT_BUNDLE, samples=10, return_samples=True)


def test_unusable_arguments_are_clear_errors(examples):
    from xpcvae import infer

    flux, err, _ = examples
    with pytest.raises(TypeError, match="expected"):
        infer(42, bundle=DEFAULT_BUNDLE)
    with pytest.raises(ValueError, match="3 spectra but 2 source ids"):
        infer((flux[:3], err[:3], ["a", "b"]), bundle=DEFAULT_BUNDLE)
    with pytest.raises(ValueError, match="does not exist|not a directory"):
        infer((flux[:1], err[:1]), bundle=ROOT / "no-such-bundle")
