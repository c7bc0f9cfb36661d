"""DanceMuse model side: numpy-only contracts (skeleton, features, beats, dataset, metrics)
and, in `network`/`train`/`synth_*`, the torch side. Nothing here imports `live`."""

__version__ = "0.1.0"
