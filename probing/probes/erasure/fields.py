"""What an erasure record holds beside its probe's fields, written by the family and read by its
report: which concept was erased where, by which eraser, and what was measured."""

UNEDITED, LEACE, RANDOM = "none", "leace", "random"  # `eraser`: none, LEACE, its control
PROBE, OBJECTIVE = "probe", "masked_lm"  # `measured`: a probe, or the encoder's own masked-LM
# objective (loss and accuracy of its masked-piece predictions)
OBJECTIVE_METRICS = ("mlm_loss", "mlm_accuracy")
OBJECTIVE_ARRAYS = ("mlm_nats", "mlm_masked", "mlm_right")  # per test sentence
OBJECTIVE_RATIOS = {"mlm_loss": ("mlm_nats", "mlm_masked"),  # metric: its ratio of sums
                    "mlm_accuracy": ("mlm_right", "mlm_masked")}
