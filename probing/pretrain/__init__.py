"""Pretraining encoders from raw text: the corpus reader, the tokenizer, the two objectives
(BERT's masked LM + next sentence prediction in `bert_objective.py`, ELMo's forward and backward
LSTM language models in `elmo_objective.py`) and the training loop they share (`loop.py`).
`python -m probing.pretrain` runs it (configs in conf/pretrain/; docs/pretraining.md)."""
