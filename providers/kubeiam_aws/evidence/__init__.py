"""Parsing the AWS evidence files (one module per file or file family), coverage, and the reader."""
