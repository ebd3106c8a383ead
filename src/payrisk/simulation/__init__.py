"""The policy simulator: dunning policies played in a generated world (common random numbers)."""
