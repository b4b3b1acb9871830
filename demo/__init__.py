"""Demo data (synthetic metal-surface defects) and the small demo detector trained on it."""

LABELS = ("scratch", "dent", "stain", "crack")
