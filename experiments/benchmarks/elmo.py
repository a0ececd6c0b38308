"""ELMo pretraining throughput: tokens per second and achieved FLOP/s of biLM pretraining steps,
as a fraction of this machine's fp32 matmul peak, measured in the same run.

    python experiments/benchmarks/elmo.py             # the 30-minute run: objective=elmo, Gutenberg
    python experiments/benchmarks/elmo.py --steps 3 objective=elmo_tiny text=files \
        'text.paths=[some/folder]'                    # any pretraining overrides

The steps are the training loop's own (batch building, forward, backward, clipping, AdamW).
FLOPs of a step are 3x its forward matmul FLOPs (the backward pass computes gradients for
inputs and weights), counted on the work the model does usefully:
  char-CNN  per distinct word of the batch (the model embeds each once):
              2 * width * char_dim * n * (max_chars - width + 1) per filter bank,
              4 F^2 per highway layer, 2 F P for the projection (F filters in all)
  LSTMP     per real position, direction and layer: 2 (4CP input + 4CP recurrent + CP projection)
  softmax   what the configured softmax computes at the predicted positions: the target and
            the expected number of distinct sampled words (sampled), the head and the clusters
            hit (adaptive), the whole vocabulary (full)
Padding positions are not counted (their share is reported), nor elementwise work (gates,
clipping, highway gating). The peak is the best rate of square fp32 matmuls of growing size,
measured twice after the steps (the better of the two).
Writes results/benchmarks/elmo.json.
"""

from datetime import UTC, datetime

import torch
from machine import cpu_name, matmul_peak  # this folder's helper
from training_steps import benchmark_main, time_training_steps  # this folder's helper

from probing.pretrain.elmo_objective import NO_TARGET, BiLMLanguageModel
from probing.pretrain.objective import Batch
from probing.utils.reproducibility import library_versions

# The 30-minute CPU run (see the note's commands); the benchmark measures that config.
RUN_OVERRIDES = ["objective=elmo", "text=gutenberg", "train.batch_size=64"]


def bilm_forward_flops(options: dict, batch: Batch) -> float:
    cnn, lstm = options["char_cnn"], options["lstm"]
    char_ids = batch.inputs["char_ids"]
    max_chars, char_dim = char_ids.shape[-1], cnn["embedding"]["dim"]
    n_filters, proj, cells = sum(n for _, n in cnn["filters"]), lstm["projection_dim"], lstm["dim"]
    per_word = sum(2 * width * char_dim * n * (max_chars - width + 1)
                   for width, n in cnn["filters"])
    per_word += cnn["n_highway"] * 4 * n_filters**2
    per_word += 2 * n_filters * proj if n_filters != proj else 0
    words = len(torch.unique(char_ids.view(-1, max_chars), dim=0))
    per_position = 2 * lstm["n_layers"] * 2 * (9 * cells * proj)
    return float(words * per_word + batch.n_tokens * per_position)


def softmax_forward_flops(model: BiLMLanguageModel, batch: Batch) -> float:
    return sum(model.softmax.matmul_flops(targets[targets != NO_TARGET])
               for targets in (batch.inputs["next_ids"], batch.inputs["previous_ids"]))


def benchmark(overrides: list[str], steps: int, warmup: int) -> dict:
    run = time_training_steps(overrides, steps, warmup)
    cfg, env, trainer, batches, elapsed = (run.cfg, run.trainer.env, run.trainer, run.batches,
                                           run.seconds)
    peak = max(matmul_peak(torch.float32, env.device) for _ in range(2))
    model = trainer.model
    options = model.bilm.options
    bilm = sum(bilm_forward_flops(options, b) for b in batches)
    softmax = sum(softmax_forward_flops(model, b) for b in batches)
    flops = 3 * (bilm + softmax)
    tokens = sum(b.n_tokens for b in batches)
    positions = sum(b.inputs["char_ids"].shape[0] * b.inputs["char_ids"].shape[1]
                    for b in batches)
    achieved = flops / elapsed
    return {
        "benchmark": "elmo_pretrain",
        "model": cfg.objective.name, "corpus": cfg.text.name, "overrides": overrides,
        "shape": {"lstm": options["lstm"], "char_cnn": options["char_cnn"],
                  "vocab": options["n_tokens_vocab"], "softmax": type(model.softmax).__name__,
                  "unroll_steps": cfg.objective.unroll_steps},
        "parameters": {"bilm": sum(p.numel() for p in model.bilm.parameters()),
                       "softmax": sum(p.numel() for p in model.softmax.parameters())},
        "device": str(env.device), "cpu": cpu_name(), "threads": torch.get_num_threads(),
        "precision": str(cfg.train.precision), "batch_size": cfg.train.batch_size,
        "accumulation": cfg.train.accumulation, "steps_timed": steps, "warmup_steps": warmup,
        "seconds": round(elapsed, 3),
        "steps_per_second": steps / elapsed,
        "tokens_per_second": tokens / elapsed,
        "padding_fraction": 1 - tokens / positions,
        "flops_per_step": flops / steps,
        "flops_share": {"bilm": bilm / (bilm + softmax), "softmax": softmax / (bilm + softmax)},
        "achieved_flops_per_second": achieved,
        "peak_matmul_flops_per_second": {"fp32": peak},
        "fraction_of_peak": achieved / peak,
        "tokens_per_30_minutes": tokens / elapsed * 1800,
        "versions": library_versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def summary(result: dict) -> str:
    return (f"{result['model']} ({result['device']}, {result['threads']} threads): "
            f"{result['tokens_per_second']:.0f} tokens/s, "
            f"{result['steps_per_second']:.3f} steps/s, "
            f"{result['achieved_flops_per_second'] / 1e9:.2f} GFLOP/s = "
            f"{result['fraction_of_peak']:.1%} of the fp32 matmul peak "
            f"({result['peak_matmul_flops_per_second']['fp32'] / 1e9:.1f} GFLOP/s)")


if __name__ == "__main__":
    benchmark_main(__doc__, "elmo", RUN_OVERRIDES, benchmark, summary)
