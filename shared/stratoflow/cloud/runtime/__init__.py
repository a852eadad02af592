"""The execution lifecycle on AWS: starting runs, Step Functions status events, control, flow retries,
callbacks, SLA timers and the metrics and alerts of an execution's end."""
