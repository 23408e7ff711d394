"""The vocabulary every part shares: the model, findings, policy semantics, what a rule is, what providers declare."""
