"""GCC settings: the bucket's region follows the usual AWS variables unless GCC_S3_REGION is set."""

from __future__ import annotations

import pytest

from gcc.settings import Settings


@pytest.fixture(autouse=True)
def no_region_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GCC_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


def test_region_defaults_to_us_east_1() -> None:
    assert Settings().s3_region == "us-east-1"


def test_region_comes_from_aws_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert Settings().s3_region == "eu-west-1"


def test_region_comes_from_aws_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    assert Settings().s3_region == "eu-central-1"


def test_gcc_s3_region_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("GCC_S3_REGION", "ap-south-1")
    assert Settings().s3_region == "ap-south-1"
