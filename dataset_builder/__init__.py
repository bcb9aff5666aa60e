"""Queries → LLM-written documents at graded relevance levels → a versioned HF dataset.

Other stages import only :mod:`dataset_builder.schema` (the data contract).
"""
