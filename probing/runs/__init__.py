"""The run: what the probe side hands on and the report reads (inputs, outcomes, layer
selections, the run record and predictions, the run-folder writer, the failure record)."""
