"""Reading the Azure files of an evidence directory: one parser per file family, the coverage of what is
absent, and `reader.read`, which turns them into links, identities, grants and the Azure view."""
