"""Run records, tables and figures."""
