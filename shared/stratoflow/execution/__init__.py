"""The execution core: admission, control, the end of an execution, flow retries, SLAs, lineage and the
task runner. `local/` and `cloud/` are its two adapters; it imports neither."""
