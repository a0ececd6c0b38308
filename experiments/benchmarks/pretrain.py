"""Pretraining throughput: tokens per second and achieved FLOP/s of BERT pretraining steps, as
a fraction of this machine's matmul peaks (fp32 and bf16), all measured in the same run.

    python experiments/benchmarks/pretrain.py                    # bert_small (4 x 256), Gutenberg
    python experiments/benchmarks/pretrain.py --steps 5 objective=bert_tiny text=files \
        'text.paths=[some/folder]'                               # any pretraining overrides

The steps are the training loop's own (batch building, forward, backward, clipping, AdamW).
FLOPs of a step, counted on the tokens the model reads (padding excluded):
    6 N T                 N = parameters of the Transformer layers, T = tokens
  + 12 L S d T            attention scores and their weighted sum over S positions, L layers of
                          width d (4 L S d forward per token, twice that backward)
  + 6 (d^2 + d V) P       the MLM head (transform, decoder over V pieces) at the P masked pieces
The peak is the best rate of square matmuls of growing size, measured twice after the steps
(the better of the two, so that a busy moment does not lower it).
Writes results/benchmarks/pretrain.json.
"""

from datetime import UTC, datetime

import torch
from machine import cpu_name, matmul_peak  # this folder's helper
from training_steps import benchmark_main, time_training_steps  # this folder's helper

from probing.pretrain.objective import Batch
from probing.utils.reproducibility import library_versions

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def measure_peaks(device: torch.device) -> dict[str, float]:
    return {name: matmul_peak(dtype, device) for name, dtype in DTYPES.items()}


def step_flops(batches: list[Batch], n_layer_params: int, n_layers: int, width: int,
               vocab_size: int) -> float:
    flops = 0.0
    for batch in batches:
        tokens = batch.n_tokens
        length = batch.inputs["input_ids"].shape[1]
        predicted = int((batch.inputs["mlm_labels"] != -100).sum())
        flops += (6 * n_layer_params * tokens + 12 * n_layers * length * width * tokens
                  + 6 * (width**2 + width * vocab_size) * predicted)
    return flops


def benchmark(overrides: list[str], steps: int, warmup: int) -> dict:
    run = time_training_steps(overrides, steps, warmup)
    cfg, env = run.cfg, run.trainer.env
    first, second = measure_peaks(env.device), measure_peaks(env.device)
    peaks = {name: max(first[name], second[name]) for name in DTYPES}
    bert = run.trainer.model.net.bert
    flops = step_flops(run.batches, sum(p.numel() for p in bert.encoder.parameters()),
                       bert.config.num_hidden_layers, bert.config.hidden_size,
                       bert.config.vocab_size)
    elapsed = run.seconds
    tokens = run.tokens
    precision = str(cfg.train.precision)
    achieved = flops / elapsed
    return {
        "benchmark": "pretrain",
        "model": cfg.objective.name, "corpus": cfg.text.name, "overrides": overrides,
        "shape": {"layers": bert.config.num_hidden_layers, "width": bert.config.hidden_size,
                  "heads": bert.config.num_attention_heads, "vocab": bert.config.vocab_size,
                  "max_seq_length": cfg.objective.max_seq_length},
        "device": str(env.device), "cpu": cpu_name(), "threads": torch.get_num_threads(),
        "precision": precision, "batch_size": cfg.train.batch_size,
        "accumulation": cfg.train.accumulation, "steps_timed": steps, "warmup_steps": warmup,
        "seconds": round(elapsed, 3),
        "steps_per_second": steps / elapsed,
        "tokens_per_second": tokens / elapsed,
        "data_seconds_fraction": run.data_seconds / elapsed,
        "flops_per_step": flops / steps,
        "achieved_flops_per_second": achieved,
        "peak_matmul_flops_per_second": peaks,
        "peak_measurements": [first, second],
        "fraction_of_peak": {name: achieved / peak for name, peak in peaks.items()},
        "fraction_of_peak_of_precision_used": achieved / peaks[precision],
        "target_fraction": 0.4,
        "versions": library_versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def summary(result: dict) -> str:
    precision = result["precision"]
    return (f"{result['model']} ({precision}, {result['device']}): "
            f"{result['tokens_per_second']:.0f} tokens/s, "
            f"{result['steps_per_second']:.3f} steps/s, "
            f"{result['achieved_flops_per_second'] / 1e9:.1f} GFLOP/s = "
            f"{result['fraction_of_peak_of_precision_used']:.0%} of the {precision} matmul peak "
            f"({result['peak_matmul_flops_per_second'][precision] / 1e9:.1f} GFLOP/s)")


if __name__ == "__main__":
    benchmark_main(__doc__, "pretrain", ["objective=bert_small", "text=gutenberg"], benchmark,
                   summary)
