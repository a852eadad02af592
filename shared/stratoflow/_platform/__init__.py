"""The platform packaged with the library: the CDK app and the Lambda handlers (see setup.py)."""
