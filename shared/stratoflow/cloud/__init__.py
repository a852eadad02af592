"""The cloud side of Stratoflow: settings read by the Lambda handlers, and AWS wiring (boto3 lives here)."""
