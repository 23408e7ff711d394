"""What an IAM role may do and who may take it: the action catalogue, conditions, trust, escalation
paths and the per-role profile. Pure: no evidence files, no SDK."""
