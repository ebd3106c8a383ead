"""Stage 4, policy: from scores to decisions: dunning scenario and next action per invoice,
collectors' priority, credit review, reasons in plain words, portfolio KPIs and cash forecast."""
