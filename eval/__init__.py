"""rankladder evaluation: mteb retrieval tasks for local collections, results in mteb's layout.

Modules (each small, read top to bottom):

- ``tasks``: local BEIR folders and built datasets as mteb ``AbsTaskRetrieval`` tasks; task resolution.
- ``models``: load a model and give it its own name/revision for mteb's result layout.
- ``run``: ``run_eval`` — the ``rankladder eval`` pipeline (mteb.evaluate, BM25 row, summary, manifest).
- ``summary``: read result folders (mteb ResultCache layout) into tables, JSON and a bar chart.
- ``level_order``: mean Kendall τ / nDCG of graded level orders (torch-free, reusable).
- ``cli``: the ``rankladder eval`` subcommand.
"""
