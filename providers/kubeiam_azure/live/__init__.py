"""Live Azure collection (the SDK is imported here, never by the evidence reader).

`collect(request, inventory)` writes the Azure files of EVIDENCE.md into `request.output` and returns
what it could not read as `CoverageError`s. docs/azure-live.md lists the calls and permissions.
"""

from __future__ import annotations

from kubeiam_azure.live.collector import collect

__all__ = ["collect"]
