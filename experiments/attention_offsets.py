"""Where the attention heads of BERT checkpoints look: per layer and head, the mean attention
weight on the previous and the next piece, on [CLS], and the entropy of the attention
distribution, over windows of a text. Uniform attention over L pieces puts 1/L on each
neighbour and has entropy ln L; a head that follows word order puts most of its weight at
offset -1 or +1.

    python experiments/attention_offsets.py CHECKPOINT [CHECKPOINT ...] --text FILE \
        [--gutenberg] [--length 128] [--windows 64] [--out results/.../attention.md]

The windows are the last ones of the text: with the 1% tail of each document held out in
pretraining, a long enough book's tail is text the checkpoints have not seen.
"""

import argparse
import math
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedTokenizerBase

from probing.pretrain.corpus import strip_gutenberg
from probing.utils.atomic import write_text_atomic


def windows(tokenizer: PreTrainedTokenizerBase, text: str, length: int, count: int
            ) -> torch.Tensor:
    """The last `count` windows of the text, each [CLS] + length - 2 pieces + [SEP]."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    body = length - 2
    if len(ids) < body * count:
        raise SystemExit(f"the text has {len(ids)} pieces, fewer than {count} windows of {body}: "
                         "give a longer --text or fewer --windows")
    ids = ids[len(ids) - body * count:]
    rows = [[tokenizer.cls_token_id, *ids[i * body:(i + 1) * body], tokenizer.sep_token_id]
            for i in range(count)]
    return torch.tensor(rows)


def head_statistics(checkpoint: Path, text: str, length: int, count: int) -> list[list[dict]]:
    """[layer][head] -> {"previous", "next", "cls", "entropy"}, means over all query pieces."""
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModel.from_pretrained(checkpoint, attn_implementation="eager").eval()
    input_ids = windows(tokenizer, text, length, count)
    with torch.no_grad():
        attentions = model(input_ids=input_ids, output_attentions=True).attentions
    table = []
    for attention in attentions:  # batch x heads x query x key
        previous = torch.diagonal(attention, -1, dim1=-2, dim2=-1).mean(dim=(0, 2))
        following = torch.diagonal(attention, 1, dim1=-2, dim2=-1).mean(dim=(0, 2))
        cls = attention[..., 0].mean(dim=(0, 2))
        entropy = -(attention * attention.clamp_min(1e-12).log()).sum(-1).mean(dim=(0, 2))
        table.append([{"previous": float(p), "next": float(n), "cls": float(c),
                       "entropy": float(e)}
                      for p, n, c, e in zip(previous, following, cls, entropy, strict=True)])
    return table


def markdown(checkpoint: Path, table: list[list[dict]], length: int) -> str:
    lines = [f"## {checkpoint}", "",
             f"uniform attention: {1 / length:.3f} on each piece, entropy {math.log(length):.2f}",
             "", "| layer | head | previous | next | [CLS] | entropy |",
             "|---|---|---|---|---|---|"]
    for layer, heads in enumerate(table):
        lines += [f"| {layer} | {head} | {s['previous']:.3f} | {s['next']:.3f} | {s['cls']:.3f} "
                  f"| {s['entropy']:.2f} |" for head, s in enumerate(heads)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--text", type=Path, required=True, help="a plain-text file")
    parser.add_argument("--gutenberg", action="store_true",
                        help="keep only the book between the Project Gutenberg marker lines")
    parser.add_argument("--length", type=int, default=128, help="pieces per window")
    parser.add_argument("--windows", type=int, default=64)
    parser.add_argument("--out", type=Path, help="write the tables here (markdown)")
    args = parser.parse_args()
    text = args.text.read_text(encoding="utf-8", errors="replace")
    if args.gutenberg:
        text = strip_gutenberg(text, args.text)
    report = "\n".join(markdown(c, head_statistics(c, text, args.length, args.windows),
                                args.length) for c in args.checkpoints)
    if args.out:
        write_text_atomic(args.out, report)
    print(report)


if __name__ == "__main__":
    main()
