"""Quality and utility of synthetic data: diversity, correctness, naturalness, a quality filter, downstream task
models (TF-IDF + LR, an MLP over sentence embeddings with label smoothing and SunGen-style learned weights), the
PROMPTING zero-shot baseline, evaluation on real labelled data and a report (terminal, JSON, self-contained HTML).
"""

# The training-set fractions of `appliance evaluate`'s accuracy-vs-size curve (kept here so the CLI can name them
# without importing torch; the task models are ``taskmodels.TASK_MODELS``).
SIZES = (0.1, 0.25, 0.5, 1.0)
