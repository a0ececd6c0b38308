"""One measurement of experiments/benchmarks/extraction.py, in a process of its own so that
its peak resident memory (ru_maxrss) is its own:

    python experiments/benchmarks/extraction_runs.py '<spec as JSON>'

prints one JSON line (peak memory: VmHWM). Kinds:
- plain: what a user writes without the framework: the encoder's own model and tokenizer (or,
  for ELMo, its character ids), sentences in file order, batches of 32, every layer's output,
  nothing pooled or kept;
- framework: `probing.features.extract` into a fresh cache (tokenising, pooling pieces into
  words, float16, writing and checksumming included);
- bare: the model's forward pass alone over the framework's own batches (prepared beforehand).
"""

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from probing.config.composed import configured_encoder
from probing.features import extract
from probing.features.extract import shard_batches
from probing.features.layout import shard_bounds
from probing.models.elmo_chars import batch_to_char_ids

PLAIN_BATCH = 32


def plain_hf(encoder, sentences: list[list[str]]) -> float:
    tokenizer = AutoTokenizer.from_pretrained(encoder.name_or_path)
    model = AutoModel.from_pretrained(encoder.name_or_path, dtype=encoder.model.dtype)
    model = model.to(encoder.device).eval()

    def run(batch: list[list[str]]) -> None:
        inputs = tokenizer(batch, is_split_into_words=True, padding=True, truncation=True,
                           return_tensors="pt").to(encoder.device)
        model(**inputs, output_hidden_states=True)
    return plain_loop(run, sentences, encoder.device)


def plain_elmo(encoder, sentences: list[list[str]]) -> float:
    def run(batch: list[list[str]]) -> None:
        encoder.model(batch_to_char_ids(batch, encoder.model.max_chars).to(encoder.device))
    return plain_loop(run, sentences, encoder.device)


def plain_loop(run, sentences: list[list[str]], device: torch.device) -> float:
    with torch.inference_mode():
        run(sentences[:PLAIN_BATCH])  # warm-up
        synchronize(device)
        start = time.perf_counter()
        for i in range(0, len(sentences), PLAIN_BATCH):
            run(sentences[i:i + PLAIN_BATCH])
        synchronize(device)
    return time.perf_counter() - start


def framework(encoder, sentences: list[list[str]], spec: dict) -> tuple[float, dict]:
    """Extraction into a fresh cache, after a warm-up extraction of the first sentences (as
    the plain loop has: the first tokenizer call of a process alone takes ~0.2 s)."""
    with tempfile.TemporaryDirectory(prefix="probing-benchmark-") as cache:
        extract(encoder, sentences[:PLAIN_BATCH], f"{cache}/warm-up", batch_size=spec[
            "batch_size"], shard_size=spec["shard_size"])
        start = time.perf_counter()
        activations = extract(encoder, sentences, cache, batch_size=spec["batch_size"],
                              shard_size=spec["shard_size"])
        seconds = time.perf_counter() - start
        return seconds, activations.meta["timings"]


def bare(encoder, sentences: list[list[str]], spec: dict) -> float:
    sizes = np.array(encoder.sizes(sentences))
    prepared = [encoder.prepare([sentences[i] for i in batch])
                for bounds in shard_bounds(len(sentences), spec["shard_size"])
                for batch in shard_batches(sizes, *bounds, spec["batch_size"])]
    encoder.forward(prepared[-1])  # warm-up
    synchronize(encoder.device)
    start = time.perf_counter()
    for batch in prepared:
        encoder.forward(batch)
    synchronize(encoder.device)
    return time.perf_counter() - start


def useful_flops(encoder, sentences: list[list[str]]) -> float | None:
    """Forward FLOPs without padding: 2 x non-embedding parameters per position, plus attention
    (QK^T and AV: 4 x T^2 x hidden per layer and sequence); None for ELMo."""
    if not hasattr(encoder, "tokenizer"):
        return None
    params = sum(p.numel() for name, p in encoder.model.named_parameters()
                 if "embeddings" not in name and "pooler" not in name)
    config = encoder.model.config
    lengths = np.array(encoder.sizes(sentences), dtype=np.float64)
    attention = 4 * (lengths ** 2).sum() * config.hidden_size * config.num_hidden_layers
    return float(2 * params * lengths.sum() + attention)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(spec: dict) -> dict:
    torch.set_num_threads(spec["threads"])
    sentences = json.loads(Path(spec["corpus"]).read_text())
    encoder = configured_encoder(spec["encoder"], **spec["values"])
    encoder.fingerprint()  # hashed once per encoder, not per corpus: not part of extraction
    if spec.get("attention"):
        encoder.model.set_attn_implementation(spec["attention"])
    if spec.get("compile"):
        encoder.model = torch.compile(encoder.model, dynamic=True)
    timings = None
    if spec["kind"] == "plain":
        run = plain_hf if hasattr(encoder, "tokenizer") else plain_elmo
        seconds = run(encoder, sentences)
    elif spec["kind"] == "framework":
        seconds, timings = framework(encoder, sentences, spec)
    else:
        seconds = bare(encoder, sentences, spec)
    n_words = sum(map(len, sentences))
    return {"kind": spec["kind"], "sentences": len(sentences), "words": n_words,
            "seconds": round(seconds, 3), "words_per_s": round(n_words / seconds, 1),
            "timings": timings, "useful_flops": useful_flops(encoder, sentences),
            "peak_rss_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM of /proc/self/status, which counts this
    program only (ru_maxrss would also count the benchmark's own memory, copied at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
