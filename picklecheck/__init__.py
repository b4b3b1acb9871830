"""Find pickled code in a model file without loading it: no torch, no Django, nothing of ours."""
