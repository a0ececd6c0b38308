"""Pretraining encoders from raw text: the corpus reader, the tokenizer, the objectives (BERT's
masked LM + next sentence prediction) and the training loop they share.
`python -m probing.pretrain` runs it (conf/pretrain.yaml)."""
