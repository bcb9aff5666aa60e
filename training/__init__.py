"""rankladder training: graded list-wise fine-tuning of SentenceTransformer models.

DATASET_DIR / Hub id → per-query document lists (``data``) → groups of G documents resampled every
epoch (``grouping``) → graded list-wise losses (``losses``) → ``SentenceTransformerTrainer`` (``trainer``).
``metrics`` holds graded nDCG@k and the level-ordering metric (mean Kendall τ), reusable elsewhere.
"""
