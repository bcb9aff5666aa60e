"""The publish stage's typed options (``rankladder publish`` flags, the release's ``publish:`` section)."""

from __future__ import annotations

from pydantic import Field, field_validator

from rankladder.core.config import StrictModel
from rankladder.model_cards.licenses import HUB_LICENSES


class PublishOptions(StrictModel):
    """How a release is pushed; repo ids and folders are given per call."""

    license: str = Field("apache-2.0", description="Hub license identifier")
    dry_run: bool = Field(True, description="write the folders that would be pushed instead of pushing")
    force: bool = Field(False, description="push even when the remote already has this version")
    private: bool = Field(False, description="create private repos")

    @field_validator("license")
    @classmethod
    def _hub_license(cls, value: str) -> str:
        if value not in HUB_LICENSES:
            raise ValueError(
                "not a Hugging Face Hub license identifier (e.g. apache-2.0, mit, cc-by-4.0; "
                "https://huggingface.co/docs/hub/repositories-licenses)"
            )
        return value
