"""Live AWS collection (boto3): writes the AWS files of the evidence directory. See docs/aws-live.md."""

from __future__ import annotations

from kubeiam_aws.live.clients import CallCounter
from kubeiam_aws.live.collector import check_options, collect

__all__ = ["CallCounter", "check_options", "collect"]
