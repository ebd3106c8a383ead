"""Stage 1, data: the contract, loading and validating a data directory, importing ERP exports,
the synthetic sample history, and receivables arithmetic (open amounts, aged balance, DSO)."""
