"""The Stratoflow CDK app: one stack of the platform, one construct per concern."""
