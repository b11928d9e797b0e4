"""A bounded subset of the attack catalogue (xpcvae.tools.attack_cases.SUBSET: bad inputs, bad
bundles, output paths, odd options) run against both engines' command lines, in-process; the whole
catalogue runs in `make reliability` (docs/reliability.md)."""

from __future__ import annotations

import pytest

from xpcvae.tools import attack_cases as cases
from xpcvae.tools import attack_catalogue as ac
from xpcvae.tools.harness import ROOT

CASES = {c.name: c for c in cases.catalogue()}
BUNDLE = ROOT / "export" / "default"


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    base = tmp_path_factory.mktemp("attack")
    return base, ac.good_lines(base), ac.java_runner()


def test_the_catalogue_covers_every_group_with_at_least_80_cases():
    every = cases.catalogue()
    assert len(every) >= 80
    assert {c.group for c in every} == set(cases.GROUPS)
    assert len(cases.SUBSET) == 26 and set(cases.SUBSET) <= set(CASES)
    assert all(CASES[n].runner == "inprocess" for n in cases.SUBSET)


@pytest.mark.parametrize("engine", cases.ENGINES)
@pytest.mark.parametrize("name", cases.SUBSET)
def test_case(name, engine, setting):
    base, lines, java = setting
    o = ac.run_case(CASES[name], engine, BUNDLE, lines, base, java)
    assert o.passed, f"{name} [{engine}]: {o.why} (exit {o.rc}: {o.message})"
