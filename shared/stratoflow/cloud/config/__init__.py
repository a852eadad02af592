"""Settings and secrets of the platform functions, their boto3 clients, and the names of what a stack holds."""
