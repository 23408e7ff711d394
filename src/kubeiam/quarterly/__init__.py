"""The quarterly stages around an audit: configuration, owners, suppressions, the baseline, the report folder."""
