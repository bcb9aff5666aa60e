"""The one BM25: the settings of eval's baseline row (mteb's ``mteb/baseline-bm25s``), usable by any stage.

``rankladder eval`` adds mteb's ``mteb/baseline-bm25s`` row on local tasks; mining (``rankladder mine
--method bm25``) must rank with the very same BM25, so both read their settings from here rather than
one stage importing the other. On an English task mteb's ``BM25Search`` (mteb/models/model_implementations/
bm25.py) uses: document text = ``title + "\\n" + text`` (the same tokens as the one join every stage uses,
``rankladder.core.metrics.document_text``: bm25s splits on word boundaries); ``bm25s.tokenize`` with the bm25s English stopword
list and PyStemmer's ``english`` Snowball stemmer, for documents and queries alike; ``bm25s.BM25`` with
``method="lucene", k1=1.5, b=0.75, delta=0.5``. ``tests/dataset_builder/test_mine.py`` checks that :class:`BM25Index`
ranks exactly as mteb's ``BM25Search`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

BM25_SETTINGS = {
    "method": "lucene",
    "k1": 1.5,
    "b": 0.75,
    "delta": 0.5,
    "stopwords": "en",
    "stemmer": "english",
    "document_text": "rankladder.core.metrics.document_text: (title + ' ' + text).strip()",
    "library": "bm25s",
}


class BM25Index:
    """A bm25s index over ``texts`` with :data:`BM25_SETTINGS`; :meth:`search` returns corpus positions."""

    def __init__(self, texts: Sequence[str], show_progress: bool = False):
        import logging

        import bm25s
        import Stemmer
        from bm25s.tokenization import STOPWORDS_EN

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its logger to DEBUG on import
        self.stopwords = list(frozenset(STOPWORDS_EN))
        self.stemmer = Stemmer.Stemmer(BM25_SETTINGS["stemmer"])
        self.show_progress = show_progress
        self.size = len(texts)
        tokens = bm25s.tokenize(
            list(texts), stopwords=self.stopwords, stemmer=self.stemmer, show_progress=show_progress
        )
        self.retriever = bm25s.BM25(
            method=BM25_SETTINGS["method"], k1=BM25_SETTINGS["k1"], b=BM25_SETTINGS["b"], delta=BM25_SETTINGS["delta"]
        )
        self.retriever.index(tokens, show_progress=show_progress)

    def search(self, queries: Sequence[str], k: int):
        """``(positions, scores)``: two ``(len(queries), min(k, corpus size))`` arrays, best first."""
        import bm25s

        tokens = bm25s.tokenize(list(queries), stopwords=self.stopwords, stemmer=self.stemmer, show_progress=False)
        return self.retriever.retrieve(tokens, k=min(k, self.size), show_progress=self.show_progress)
