"""Pretrain an encoder: `python -m probing.pretrain objective=bert_small text=gutenberg` (Hydra,
conf/pretrain/); the same under `torchrun --nproc_per_node N -m probing.pretrain ...` trains
data-parallel."""

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from probing.pretrain.loop import pretrain
from probing.pretrain.pretrain_schemas import PRETRAIN_CONF_PATH, register_pretrain_configs
from probing.utils.errors import reported_without_traceback

register_pretrain_configs()


@hydra.main(version_base="1.3", config_path=PRETRAIN_CONF_PATH, config_name="config")
def main(cfg: DictConfig) -> None:
    with reported_without_traceback():
        pretrain(cfg, Path(HydraConfig.get().runtime.output_dir))


if __name__ == "__main__":
    main()
