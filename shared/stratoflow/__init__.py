"""Stratoflow: Kestra-style YAML flows compiled to AWS Step Functions, runnable on a laptop."""

__version__ = "0.1.0"
