"""The policy simulator: dunning policies played in a generated world, with common random numbers."""
