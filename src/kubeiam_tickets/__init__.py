"""`kubeiam tickets`: keep Jira issues, GitHub issues or Security Hub findings in step with a JSON report.

The report (the contract in docs/report.md) is read as JSON, never as the core's Python objects, so
this package depends only on the standard library, the trackers' client libraries (the `tickets`
extra) and `kubeiam.errors`. Layout:

- `report`: read and check the report (a file, or the latest run of a `--report-dir`);
- `render`: what a ticket says (title, labels, body for GitHub markdown or Jira wiki markup);
- `plan`: pure: the report plus the tickets that exist -> create / update / close / reopen / comment;
- `execute`: carry a plan out against a tracker, with a journal that makes a re-run converge;
- `jira`, `github`, `securityhub`: the trackers, each through its maintained client library;
- `cli`: `add_tickets_parser` and `run_tickets`.
"""
