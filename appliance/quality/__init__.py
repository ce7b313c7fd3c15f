"""Quality and utility of synthetic data: diversity, correctness, naturalness, a quality filter, downstream task
models (TF-IDF + LR, an MLP over sentence embeddings with label smoothing and SunGen-style learned weights), the
PROMPTING zero-shot baseline, evaluation on real labelled data and a report (terminal, JSON, self-contained HTML).
"""

# Task models `appliance evaluate` trains, and the training-set fractions of its accuracy-vs-size curve (kept here so
# the CLI can name them without importing torch).
TASK_MODELS = ("tfidf_lr", "tfidf_lr_sungen", "mlp", "mlp_ls", "mlp_sungen")
SIZES = (0.1, 0.25, 0.5, 1.0)
