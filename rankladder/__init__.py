"""rankladder: graded-relevance synthetic retrieval data and list-wise retrievers, released on the Hub.

The stages live in the top-level packages ``dataset_builder``, ``training``, ``eval`` and
``model_cards``; this package holds only what all of them share (errors, atomic file writes,
manifests) and the ``rankladder`` console command.
"""

__version__ = "0.1.0"
