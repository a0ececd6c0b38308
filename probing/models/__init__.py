"""Networks that more than one stage builds: the ELMo biLM, which the ELMo encoder adapter
(`probing.encoders.elmo`) and the ELMo pretraining objective (`probing.pretrain.elmo`) share,
with its published weight format."""
