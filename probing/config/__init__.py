"""Config plumbing: the typed schemas of the config groups, the probe-run config composed
outside a run, the check of settings before anything is built, and the output-folder
callback."""
