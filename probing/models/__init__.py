"""Networks that more than one stage builds: the ELMo biLM, which the ELMo encoder adapter
(`probing.encoders.elmo_encoder`) and the ELMo pretraining objective
(`probing.pretrain.elmo_objective`) share, with its published weight format."""
