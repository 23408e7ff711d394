"""The GCP files of an evidence directory: one parser per file family, the reader that links them."""
