"""The publish stage's typed configs: one per kind (``rankladder publish dataset|model|results``).

Every option of a kind is a field of its model, under the name its flag (``--dataset-repo``), the API
keyword (``rankladder.publish("model", ..., dataset_repo=...)``) and the release YAML key share, with
its one default. What is given per call is not: the folder (the positional argument), the repo
(``--repo``; ``--model-repo`` for results), the dry run's folder (``--out``) and ``--overwrite``. The
entry function is :func:`rankladder.model_cards.publish.run`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import Field, field_validator

from rankladder.core.cli_model import cli
from rankladder.core.config import StrictModel
from rankladder.model_cards.licenses import license_problem


class PublishOptions(StrictModel):
    """What every kind of publishing shares."""

    dry_run: bool = Field(
        False, description="print the plan and write the exact folder that would be uploaded (to --out); upload nothing"
    )


class TaggedPublishOptions(PublishOptions):
    """A versioned release (dataset, model): a repo of its own, one commit, tagged vX.Y.Z."""

    license: Optional[str] = Field(
        None,
        description="Hub license id for the card, e.g. apache-2.0, mit, cc-by-4.0 (default: the one already in README.md)",
    )
    private: bool = Field(False, description="create the repo as private (if it does not exist)")
    force: bool = Field(False, description="move the tag vX.Y.Z if it already exists")

    @field_validator("license")
    @classmethod
    def _hub_license(cls, value: Optional[str]) -> Optional[str]:
        problem = None if value is None else license_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class VersionedPublishOptions(TaggedPublishOptions):
    version: str = Field(..., description="semantic version X.Y.Z; the release is tagged vX.Y.Z")


class DatasetPublishConfig(VersionedPublishOptions):
    """``rankladder publish dataset DATASET_DIR --repo ORG/NAME``."""

    trained_models: list[str] = Field(
        default_factory=list,
        description="model repos trained on this dataset (the card links each one that is on the Hub)",
        json_schema_extra=cli(metavar="ORG/NAME"),
    )


class ModelPublishConfig(VersionedPublishOptions):
    """``rankladder publish model CHECKPOINT_DIR --repo ORG/NAME``."""

    dataset_repo: Optional[str] = Field(
        None, description="Hub id of the training dataset (default: from the train manifest)"
    )
    results: Optional[Path] = Field(
        None,
        description="also put these eval results in the card (the model evaluated from CHECKPOINT_DIR)",
        json_schema_extra=cli(metavar="RESULTS_DIR"),
    )
    base_model: Optional[str] = Field(
        None,
        description="Hub id of the base model, when the train manifest records a local folder rankladder "
        "cannot map to one (the packaged all-MiniLM-L6-v2 is recognised)",
        json_schema_extra=cli(metavar="ORG/NAME"),
    )


class ResultsPublishConfig(PublishOptions):
    """``rankladder publish results RESULTS_DIR --model-repo ORG/NAME``."""

    model: Optional[str] = Field(None, description="model name in summary.json (needed when it holds several models)")
    create_pr: bool = Field(False, description="open a pull request instead of committing to main")
    bundle_dir: Optional[Path] = Field(
        None,
        description="leaderboard bundle folder (default: ./release/leaderboard/ORG__NAME)",
        json_schema_extra=cli(metavar="DIR"),
    )


PUBLISH_CONFIGS: dict[str, type[PublishOptions]] = {
    "dataset": DatasetPublishConfig,
    "model": ModelPublishConfig,
    "results": ResultsPublishConfig,
}
