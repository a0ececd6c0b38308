"""The pretraining configs, a Hydra config root of their own. Installed with the package as
`probing.conf.pretrain`, so that an installed `probing-pretrain` finds them as
`pkg://probing.conf.pretrain` from any folder (probing/pretrain/pretrain_schemas.py)."""
