"""Run records of every probe family written by hand, in the formats the families write, for
the report's tests (the edge probe's simplest record is helpers.fake_record)."""

from pathlib import Path

import numpy as np

from probing.runs.record import Predictions, RunRecord

LABELS = ["NOUN", "VERB", "DET", "ADJ"]
EWT_TEST = "/data/ud/en_ewt-ud-test.conllu"
# the report each family's records name (as the families write them)
REPORTS = {"edge": "probing.probes.edge.report.EdgeReport",
           "mdl": "probing.probes.mdl.report.MDLReport",
           "distance": "probing.probes.structural.report.DistanceReport",
           "depth": "probing.probes.structural.report.DepthReport",
           "cka": "probing.similarity.report.CKAReport"}


def write_record(folder: Path, *, task: str = "upos", encoder: str = "tiny",
                 family: str = "edge", mode: str = "all", layer: int | None = None,
                 n_layers: int = 4, seed: int = 0, control: bool = False,
                 metric: str = "accuracy", test: dict | None = None, dev: dict | None = None,
                 fields: dict | None = None, arrays: dict | None = None,
                 test_file: str = EWT_TEST, n_sentences: int | None = None,
                 task_info: dict | None = None, pooling: str = "mean",
                 labeling: str = "probing.tasks.labels.SingleLabel") -> RunRecord:
    """results.json (and predictions.npz where `arrays` are given) in `folder`."""
    layers = {"all": list(range(n_layers)), "single": [layer],
              "cumulative": list(range((layer or 0) + 1))}[mode]
    sizes = {} if n_sentences is None else {"test": {"sentences": n_sentences}}
    record = RunRecord(
        task=task, corpus="ud-ewt", metric=metric, labeling=labeling, labels=LABELS,
        control=control, task_info={"files": {"test": test_file}, **(task_info or {})},
        encoder=encoder, encoder_fingerprint="ab" * 32,
        encoder_settings={"pooling": pooling}, n_layers=n_layers, dim=8, step=None,
        encoder_info={}, family=family, report=REPORTS[family], family_fields=fields or {},
        mode=mode, layer=layer,
        layers=layers, seed=seed, test=test or {}, dev=dev or {}, baseline_label="NOUN",
        baseline_test={metric: 0.25}, sizes=sizes, folder=folder)
    folder.mkdir(parents=True, exist_ok=True)
    if arrays is not None:
        Predictions(arrays).save(folder)
    record.write(folder)
    return record


def labelled(score: float, sentence: np.ndarray, rng: np.random.Generator) -> dict:
    """Predictions right on a random `score` share of the items: gold, predicted, sentence."""
    n = len(sentence)
    gold = np.arange(n) % len(LABELS)
    right = rng.permutation(n) < round(score * n)
    return {"gold": gold, "predicted": np.where(right, gold, (gold + 1) % len(LABELS)),
            "sentence": sentence}


def accuracy(arrays: dict) -> float:
    return float((arrays["gold"] == arrays["predicted"]).mean())


def edge_layers(root: Path, task: str, cumulative: list[float], single: list[float],
                weights: list[float], seeds: int = 3, n_sentences: int = 150,
                per_sentence: int = 4, test_file: str = EWT_TEST, encoder: str = "tiny",
                jitter: float = 0.005, dev_shift: list[float] | None = None,
                control: float | None = None, control_seen: float | None = None,
                save_predictions: bool = True) -> Path:
    """A task's layer analysis, every probe with `seeds` seeds: the mix (the last cumulative
    score), each layer alone, each prefix 0..l, and a control mix where `control` is given.
    Each seed's score is shifted by up to +-jitter; dev scores are the test scores plus
    `dev_shift` per layer (single layers) so that dev and test may disagree."""
    n_layers = len(cumulative)
    sentence = np.repeat(np.arange(n_sentences), per_sentence)
    probes = [("all", None, cumulative[-1], False)]
    probes += [("single", layer, s, False) for layer, s in enumerate(single)]
    probes += [("cumulative", layer, s, False) for layer, s in enumerate(cumulative)]
    if control is not None:
        probes.append(("all", None, control, True))
    for seed in range(seeds):
        rng = np.random.default_rng([seed, len(task)])
        shift = jitter * (seed - (seeds - 1) / 2)
        mix = np.array(weights) + 0.01 * (seed - 1)
        mix = mix / mix.sum()
        for mode, layer, score, is_control in probes:
            arrays = labelled(score + shift, sentence, rng)
            dev = score + shift + (dev_shift[layer] if dev_shift and mode == "single" else 0)
            fields = {"mixing_weights": (mix if mode == "all" else
                                         np.eye(n_layers)[layer or 0]).tolist(), "gamma": 1.0}
            fields["center_of_gravity"] = float(np.dot(fields["mixing_weights"],
                                                       np.arange(n_layers)))
            info = {"control_key_seen_in_train": control_seen} if (
                is_control and control_seen is not None) else {}
            name = f"{task}{'-control' if is_control else ''}-{mode}-{layer}-{seed}"
            write_record(root / name, task=task, encoder=encoder, mode=mode, layer=layer,
                         n_layers=n_layers, seed=seed, control=is_control,
                         test={"accuracy": accuracy(arrays)}, dev={"accuracy": dev},
                         fields=fields, arrays=arrays if save_predictions else None,
                         test_file=test_file, n_sentences=n_sentences, task_info=info)
    return root


def tree_statistics(quality: float, n_sentences: int, rng: np.random.Generator,
                    depth: bool) -> dict:
    """Per-sentence statistics of a structural probe whose answers are right about
    `quality` of the time."""
    length = rng.integers(5, 30, n_sentences).astype(float)
    sentence = np.arange(n_sentences)
    if depth:
        return {"root_correct": (rng.random(n_sentences) < quality).astype(float),
                "length": length, "nspr": np.clip(quality + rng.normal(0, 0.05, n_sentences),
                                                  -1, 1), "sentence": sentence}
    total = length - 1
    return {"uuas_correct": np.floor(total * quality), "uuas_total": total, "length": length,
            "spearman_sum": length * quality, "spearman_count": length, "sentence": sentence}


def structural_layers(root: Path, qualities: list[float], seeds: int = 2, task: str = "deps",
                      encoder: str = "tiny", n_sentences: int = 80) -> None:
    """Distance and depth probes of every layer alone, as probe=distance|depth write them."""
    from probing.probes.structural import metrics

    for family, depth in (("distance", False), ("depth", True)):
        for seed in range(seeds):
            rng = np.random.default_rng([seed, int(depth)])
            for layer, quality in enumerate(qualities):
                stats = tree_statistics(quality, n_sentences, rng, depth)
                test = ({"root_accuracy": metrics.root_accuracy(stats),
                         "nspr": metrics.depth_spearman(stats)} if depth else
                        {"uuas": metrics.uuas(stats), "dspr": metrics.distance_spearman(stats)})
                write_record(root / f"{family}-{layer}-{seed}", task=task, encoder=encoder,
                             family=family, mode="single", layer=layer,
                             n_layers=len(qualities), seed=seed,
                             metric="root_accuracy" if depth else "uuas", test=test,
                             fields={"rank": 16}, arrays=stats, n_sentences=n_sentences)


def mdl_layers(root: Path, compressions: list[float], shuffles: int = 3, task: str = "upos",
               encoder: str = "tiny", control: bool = False) -> None:
    """MDL records of every layer alone, one per shuffling seed, without predictions."""
    uniform = 10_000 * np.log2(len(LABELS))
    for shuffle in range(shuffles):
        for layer, ratio in enumerate(compressions):
            ratio = ratio * (1 + 0.02 * (shuffle - 1))
            bits = uniform / ratio
            write_record(root / f"mdl-{task}-{control}-{layer}-{shuffle}", task=task,
                         encoder=encoder, family="mdl", mode="single", layer=layer,
                         n_layers=len(compressions), seed=shuffle, control=control,
                         metric="compression",
                         test={"compression": ratio, "codelength_kbits": bits / 1000,
                               "uniform_kbits": uniform / 1000, "accuracy": 0.5 + 0.1 * layer,
                               "macro_f1": 0.4},
                         fields={"codelength_bits": bits, "uniform_bits": uniform,
                                 "compression": ratio, "blocks": [],
                                 "coded": f"each target's label, one of {len(LABELS)}"})


def cka_run(root: Path, n_layers: int = 4, encoder: str = "tiny", against: str | None = None,
            other_layers: int = 3) -> None:
    """A CKA record: similarity falling with the distance between layers."""
    index = np.arange(n_layers)
    matrix = np.exp(-0.3 * np.abs(index[:, None] - index[None, :]))
    fields = {"matrix": matrix.tolist(), "debiased": False, "standardized": True,
              "words": 500, "against": against}
    if against:
        fields["matrix_against"] = np.full((n_layers, other_layers), 0.5).tolist()
    write_record(root / f"cka-{encoder}-{against}", task="deps", encoder=encoder, family="cka",
                 n_layers=n_layers, metric="adjacent_cka",
                 test={"adjacent_cka": float(np.mean(np.diag(matrix, 1)))}, fields=fields)
