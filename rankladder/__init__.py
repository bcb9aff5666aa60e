"""rankladder: graded-relevance synthetic retrieval data and list-wise retrievers, released on the Hub.

The stages are subpackages: ``rankladder.dataset_builder`` (queries → LLM documents → dataset; the data
contract is ``rankladder.dataset_builder.schema``), ``rankladder.training`` (graded list-wise losses),
``rankladder.eval`` (mteb) and ``rankladder.model_cards`` (cards, Hub publishing). ``rankladder.core``
is what they share. The functions below are the Python API (``help(rankladder.generate)``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rankladder")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

from rankladder.api import build, evaluate, generate, judge, mine, publish, train  # noqa: E402

__all__ = ["__version__", "build", "evaluate", "generate", "judge", "mine", "publish", "train"]
