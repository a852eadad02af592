"""The AWS adapter of the execution core (boto3 lives here), in three rooms and one composition root:

- `config/`: settings read by the Lambda functions, secrets, boto3 clients, names of what a stack holds;
- `runtime/`: the execution lifecycle on AWS (starting runs, status events, control, retries, SLA timers);
- `deploy/`: the deploy pipeline, above `runtime/` (a redeploy may start missed schedules), never below;
- `assembly.py`: builds what each platform function runs; every handler, the cloud CLI and the cloud
  simulation build their objects there.
"""
