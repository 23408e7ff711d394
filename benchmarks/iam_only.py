"""kubeiam's IAM judgement alone, as a command: read one account's `iam.json` and judge every role in it.

This is the part of an audit that does the same work as `cloudsplaining scan` and `parliament
--auth-details-file` on the same file: no Kubernetes objects, no trust per ServiceAccount, no
findings per ServiceAccount. `bench_analysis.py` times it in its own process beside them, so the
like-for-like ratio can be read next to the end-to-end one.

    python benchmarks/iam_only.py ESTATE_DIR     # prints the number of roles judged
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

from kubeiam_aws.evidence.iam import read_account_iam
from kubeiam_aws.judge.profile import analyse_role
from kubeiam_aws.view import AwsView

from kubeiam.pipeline.evidence import Evidence


def main() -> None:
    evidence = Evidence(Path(sys.argv[1]))
    gc.disable()  # as `kubeiam audit` reads and analyses (kubeiam.pipeline.gcpause)
    judged = 0
    for account in evidence.children("aws"):
        read = read_account_iam(evidence, account)
        if read is None:
            continue
        roles = read.roles
        view = AwsView(roles={r.arn: r for r in roles}, accounts=frozenset({account}), oidc_providers={})
        for role in roles:
            analyse_role(view, role)
        judged += len(roles)
    print(judged)


if __name__ == "__main__":
    main()
