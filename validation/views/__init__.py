"""Views of the validation app, split by feature."""
