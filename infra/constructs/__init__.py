"""One construct per concern of the Stratoflow stack."""
