"""Each probe family refuses, before anything is read or extracted, a setting out of range and
a task or mix it cannot serve, naming the setting and what to give instead."""

import re

import pytest
from helpers import composed

import probing.run as run
from probing.utils.errors import ProbingError, user_error

CASES = {
    "no shuffling seed": (["probe=mdl", "probe.shuffle_seeds=[]"],
                          r"probe\.shuffle_seeds=\[\]: give one or more distinct whole numbers"),
    "a shuffling seed twice": (["probe=mdl", "probe.shuffle_seeds=[1,1]"],
                               r"probe\.shuffle_seeds=\[1, 1\]"),
    "a negative block fraction": (["probe=mdl", "probe.block_fractions=[-0.5,1.0]"],
                                  r"probe\.block_fractions=\[-0\.5, 1\.0\]: .* rise strictly "
                                  r"from above 0 to exactly 1"),
    "a zero block fraction": (["probe=mdl", "probe.block_fractions=[0.0,1.0]"],
                              r"probe\.block_fractions=\[0\.0, 1\.0\]"),
    "falling block fractions": (["probe=mdl", "probe.block_fractions=[0.5,0.25,1.0]"],
                                r"probe\.block_fractions=\[0\.5, 0\.25, 1\.0\]"),
    "fractions short of 1": (["probe=mdl", "probe.block_fractions=[0.25,0.5]"],
                             r"probe\.block_fractions=\[0\.25, 0\.5\]"),
    "an inner probe that sends no labels": (["probe=mdl", "probe@probe.probe=distance"],
                                            r"probe\.probe: the distance probe gives no "
                                            r"log-likelihood"),
    "distance rank 0": (["probe=distance", "probe.rank=0", "task=deps"],
                        r"probe\.rank=0: it must be a whole number of at least 1"),
    "depth rank -4": (["probe=depth", "probe.rank=-4", "task=deps"], r"probe\.rank=-4"),
    "a fractional rank": (["probe=depth", "probe.rank=2.5", "task=deps"], r"probe\.rank=2\.5"),
    "structural probe on relations": (["probe=distance", "task=relations"],
                                      r"probe=distance needs a dependency tree for every "
                                      r"sentence, and task=relations has none; probe a Universal "
                                      r"Dependencies task"),
    "structural probe on entities": (["probe=depth", "task=entities"],
                                     r"probe=depth needs a dependency tree"),
    "cka with one layer": (["probe=cka", "mix=single", "mix.layer=1"],
                           r"probe=cka compares every layer .* mix=single would have no "
                           r"effect; drop the mix setting"),
    "cka with every layer": (["probe=cka", "mix=every"], r"mix=every would have no effect"),
    "cka on a control task": (["probe=cka", "task.control=true"],
                              r"probe=cka reads no labels, so task\.control=true would give "
                              r"the same matrix"),
    "edge projection of 0": (["probe.proj_dim=0"], r"probe\.proj_dim=0: it must be a whole"),
    "edge hidden size -1": (["probe.hidden_dim=-1"], r"probe\.hidden_dim=-1"),
    "edge dropout above 1": (["probe.dropout=1.5"], r"probe\.dropout=1\.5 is out of range"),
    "edge dropout of 1": (["probe.dropout=1.0"], r"probe\.dropout=1 drops every unit"),
    "mdl's inner edge probe": (["probe=mdl", "probe.probe.dropout=-0.1"],
                               r"probe\.dropout=-0\.1 is out of range"),
    "erasure of no layer": (["probe=erasure", "probe.layers=[]"],
                            r"probe\.layers=\[\]: give the layers to erase as whole numbers"),
    "erasure of a layer by name": (["probe=erasure", "probe.layers=[top]"],
                                   r"probe\.layers=\['top'\]"),
    "erasure fitted on no target": (["probe=erasure", "probe.fit_targets=0"],
                                    r"probe\.fit_targets=0: it must be a whole number"),
    "erasure scoring an untrained probe": (["probe=erasure", "probe@probe.probe=cka"],
                                           r"probe\.probe: the cka probe is not trained"),
    "erasure of a task that is not one": (["probe=erasure", "probe.concepts=[pos]"],
                                          r"there is no task named 'pos' \(a file "
                                          r"conf/task/pos\.yaml\)"),
    "erasure of a concept by number": (["probe=erasure", "probe.concepts=[1]"],
                                       r"probe\.concepts=\[1\]: give the other tasks"),
    "erasure with prefixes only": (["probe=erasure", "mix=cumulative", "mix.layer=2"],
                                   r"mix=cumulative gives neither; use mix=every"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_family_setting_it_cannot_serve_is_refused_before_any_work(case, tmp_path,
                                                                     monkeypatch):
    overrides, message = CASES[case]
    cfg = composed([*overrides, f"paths.cache_dir={tmp_path / 'cache'}",
                    f"paths.data_dir={tmp_path / 'data'}", "device=cpu"])
    monkeypatch.setattr(run.Inputs, "read", lambda *a, **k: pytest.fail("inputs were read"))
    with pytest.raises(Exception) as raised:  # Hydra wraps a constructor's error
        run.probe_run(cfg, tmp_path / "out")
    error = user_error(raised.value)  # what the command line prints
    assert isinstance(error, ProbingError), raised.value
    assert re.search(message, str(error)), str(error)
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out").exists()


def test_trainer_settings_given_to_a_family_that_trains_nothing_are_warned_of(caplog):
    cka, edge = (run.instantiate(composed([f"probe={p}"]).probe) for p in ("cka", "edge"))
    overrides = ["task=upos", "trainer.lr=0.1", "+trainer.patience=2"]
    with caplog.at_level("WARNING", logger="probing.run"):
        run.warn_of_ignored_trainer(edge, overrides)
        assert not caplog.records
        run.warn_of_ignored_trainer(cka, overrides)
    assert ("probe=cka trains no probe, so trainer.lr=0.1 +trainer.patience=2 have no effect "
            "on this run") in caplog.text
