# DanceMuse make targets.

PYTHON ?= python3
DANCEMUSE = $(PYTHON) -m live.cli

.PHONY: default-model bootstrap-model export-model

# The shipped model: the phrase-level synthetic choreography (6 styles, real-instrument MIDI
# music) plus the CMU mocap takes (salsa, breaking, freestyle) with accompaniment on the
# dancers' own beat grid, trained from scratch on two CPU threads (a 50-minute budget, see
# models/default_train.toml), then fine-tuned from that checkpoint for 45 more minutes at the
# end of the curriculum (models/default_finetune.toml). The fine-tuned final checkpoint is
# exported once per frame (plus the numpy offline weights) and once in blocks of 16.
default-model:
	$(DANCEMUSE) dataset synth --out data/synth_v4 --minutes 30 --seed 0
	$(DANCEMUSE) dataset import mocap ../shared/mocap --out data/mocap
	OMP_NUM_THREADS=2 $(DANCEMUSE) train --data data/synth_v4 data/mocap --out runs/default --train-config models/default_train.toml
	OMP_NUM_THREADS=2 $(DANCEMUSE) train --data data/synth_v4 data/mocap --out runs/default_ft --train-config models/default_finetune.toml --init runs/default/final.pt
	OMP_NUM_THREADS=1 $(DANCEMUSE) export runs/default_ft/final.pt -o models/default.onnx
	OMP_NUM_THREADS=1 $(DANCEMUSE) export runs/default_ft/final.pt -o models/default_b16.onnx --block 16

# Export a checkpoint: make export-model CKPT=runs/mine/best.pt OUT=models/mine.onnx
CKPT ?= runs/default/best.pt
OUT ?= models/default.onnx
export-model:
	OMP_NUM_THREADS=1 $(DANCEMUSE) export $(CKPT) -o $(OUT)

# The small bootstrap model (8 minutes of synthetic data, 1000 steps, about 15 minutes on
# one CPU thread): synthesis, training, export and parity in one seeded script.
bootstrap-model:
	OMP_NUM_THREADS=1 $(PYTHON) -m export.default_model --minutes 8 --steps 1000 --out models/default.onnx

# The beat/downbeat activation network (model/beat_train.py; needs data/beat_corpus/train from
# bench/beat_corpus.py; about 30 minutes on one core), then its whole-sequence copy for offline features.
beats-model:
	nice -n 10 env OMP_NUM_THREADS=1 $(PYTHON) -m model.beat_train --out runs/beats --export models/beats.onnx --minutes 13 --extra 70 --extra-minutes 30
	$(PYTHON) -m export.beats_seq
