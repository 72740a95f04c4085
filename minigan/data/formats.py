"""The names of minigan's own file formats, written as ``"format"`` in each .npz archive's metadata.

Both kinds of file are .npz archives with a JSON ``meta`` entry; each reader recognises the
other's format, so a file given in the wrong place is named as what it is.
"""
CHECKPOINT = "minigan-checkpoint-1"    # minigan train's checkpoints and generator snapshots (train/checkpoint.py)
CLASSIFIER = "minigan-classifier-1"    # minigan train-classifier's files (metrics/classifier.py)
