"""A probe family of one's own brings its report from its own folder: a toy family (the mean
norm of each layer's test words) is a Python package and a YAML outside the project, put on
Hydra's search path and sys.path; its runs' tables, figure, layer-profile column and summary
rows come out of `probing.report` with no file of the project changed."""

import textwrap

import pandas as pd
from helpers import composed, probe_overrides

from probing.report.build import report
from probing.run import probe_run

FAMILY = '''
"""A toy family: the mean norm of each layer's vectors over the test words."""
import numpy as np

from probing.probes.family import ProbeFamily
from probing.runs.inputs import Outcome
from probing.runs.selection import AllLayers


class LayerNorms(ProbeFamily):
    name = "norms"
    report = "toyfam.report.NormsReport"
    trains = False

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def run(self, inputs, selections, trainer, seed):
        vectors = inputs.activations["test"].vectors.astype(np.float64)
        norms = (self.scale * np.linalg.norm(vectors, axis=-1).mean(axis=0)).tolist()
        scores = {"dev": {}, "test": {"mean_norm": float(np.mean(norms))}}
        return [Outcome(AllLayers(), "mean_norm", scores, {"norms": norms})]
'''

REPORT = '''
"""The toy family's report: a table of the norms, a figure, a column of the layer profile."""
import matplotlib.pyplot as plt
import pandas as pd

from probing.report.family import FamilyReport, Panel, Table
from probing.report.rows import with_seed_interval
from probing.runs.figure import save_figure


def norms_table(study):
    return pd.DataFrame([{"encoder": r.encoder, "task": r.task, "layer": layer, "norm": norm}
                         for r in study.records if r.family == "norms"
                         for layer, norm in enumerate(r.family_fields["norms"])])


def norms_figure(tables, out):
    frame = tables["norms"]
    fig, ax = plt.subplots()
    ax.plot(frame["layer"], frame["norm"])
    return save_figure(fig, out / "norms")


class NormsReport(FamilyReport):
    family = "norms"
    rank = 50
    score_resampled = False
    saves_predictions = False
    tables = (Table("norms", norms_table, lambda notes: ["norm: mean L2 norm of the words."]),)
    figures = (norms_figure,)
    panels = (Panel(("norm",), "mean norm"),)
    profile_seed_only = ("Norms",)

    def profile(self, study, runs, n_layers):
        rows = [{} for _ in range(n_layers)]
        for layer, row in enumerate(rows):
            with_seed_interval(row, "norm", [r.family_fields["norms"][layer] for r in runs])
        return rows
'''


def toy_family(root):
    """The toy family's folder: its package and its YAML, nothing in the project."""
    package = root / "toyfam"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(FAMILY))
    (package / "report.py").write_text(textwrap.dedent(REPORT))
    (root / "conf" / "probe").mkdir(parents=True)
    (root / "conf" / "probe" / "norms.yaml").write_text("_target_: toyfam.LayerNorms\nscale: 2.0\n")
    return root


def test_a_family_brings_its_own_report(tiny_bert, treebank, tmp_path, monkeypatch):
    root = toy_family(tmp_path / "toy")
    monkeypatch.syspath_prepend(str(root))
    base = probe_overrides(tiny_bert, treebank, tmp_path / "cache")
    toy = composed([*base, f"hydra.searchpath=[file://{root / 'conf'}]", "probe=norms"])
    for seed in (0, 1):
        toy.seed = seed
        [record] = probe_run(toy, tmp_path / "runs" / f"norms-{seed}")
    assert record.report == "toyfam.report.NormsReport" and len(record.family_fields["norms"]) == 3

    out = tmp_path / "report"
    report([tmp_path / "runs"], out, 20, 0)
    norms = pd.read_csv(out / "norms.csv")
    assert norms["norm"].tolist() == [n for n in record.family_fields["norms"]] * 2
    assert "mean L2 norm" in (out / "norms.md").read_text()
    assert (out / "norms.png").stat().st_size > 0
    profile = pd.read_csv(out / "layer_profile.csv")
    assert list(profile.columns) == ["task", "encoder", "step", "layer", "norm", "norm_lo",
                                     "norm_hi"], "its columns only: no other family ran"
    assert profile["norm"].tolist() == record.family_fields["norms"]
    assert (profile["norm_lo"] == profile["norm_hi"]).all(), "two seeds, the same norms"
    assert (out / "layer_profile_upos_tiny.png").stat().st_size > 0
    summary = pd.read_csv(out / "summary.csv").set_index("family")
    assert summary.loc["norms", "interval"] == "t over seeds" and summary.loc["norms", "seeds"] == 2
    runs = pd.read_csv(out / "runs.csv")
    assert runs.set_index("family").loc["norms", "predictions"].all(), "none missing: it saves none"
