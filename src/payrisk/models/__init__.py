"""Stage 3, models: labels with censoring, estimators, the registered scorer, time-based
training and evaluation, and the registry gate that decides which model becomes champion."""
