# DanceMuse make targets.

PYTHON ?= python3
DANCEMUSE = $(PYTHON) -m live.cli

.PHONY: default-model

# The shipped model: 30 minutes of synthetic dance, trained from scratch on one CPU thread
# (about 45 minutes on a 2-core machine; see models/default_train.toml).
default-model:
	$(DANCEMUSE) dataset synth --out data/synth30 --minutes 30 --seed 0
	OMP_NUM_THREADS=1 $(DANCEMUSE) train --data data/synth30 --out runs/default --train-config models/default_train.toml
