"""What is written never leaks a secret and never injects: redaction and escaping of evidence strings."""
