"""rankladder evaluation: mteb retrieval tasks for local collections, results in mteb's layout.

Modules (each small, read top to bottom):

- ``tasks``: ``--tasks`` entries → mteb tasks (local folder, built dataset, mteb name); loading.
- ``beir_task`` / ``built_task``: a local BEIR folder / a built dataset as an mteb ``AbsTaskRetrieval``.
- ``task_common``: ``TaskSource``, the checks on a split (``clean_split``), the document text mteb sees.
- ``models``: load a model and give it its own name/revision for mteb's result layout.
- ``config``: ``EvalConfig``, every option of the stage (flags, API keywords and YAML keys are its fields).
- ``run``: ``run(config, models, out)`` — the one entry of the stage (mteb.evaluate, BM25 row, summary, manifest).
- ``summary``: read result folders (mteb ResultCache layout) into tables, JSON and a bar chart.
- ``level_order``: mean Kendall τ / nDCG of graded level orders (metrics from ``rankladder.core.metrics``).
- ``cli``: the ``rankladder eval`` subcommand.
"""
