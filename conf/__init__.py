"""The Hydra configs. Installed with the package as `probing.conf`, so that an installed
`probing-run` finds them as `pkg://probing.conf` from any folder (probing/config/schemas.py)."""
