# DanceMuse make targets.

PYTHON ?= python3
DANCEMUSE = $(PYTHON) -m live.cli

.PHONY: default-model bootstrap-model export-model variety-data

# The shipped model (v16, built on v8 and v12): the phrase-level synthetic choreography (6 styles, real-instrument
# MIDI music; a second set where every song is danced in three styles, so the style input and
# not the music picks the dance) plus the CMU mocap takes (salsa, breaking, freestyle) with
# accompaniment on the dancers' own beat grid. v6 trained from scratch on two CPU threads in one
# 75-minute stage (models/default_train.toml; v5's two stages: models/v5_*.toml), then two
# fine-tunes on one thread: the style critic (models/v7_style.toml; the shipped run was stopped
# at step 1750 of its time-scheduled 3000, so --steps 1750 here gives a faster-decaying learning
# rate than that run had) and the motion amount (models/v7_amount.toml, 38 minutes); v8 is v7
# fine-tuned once more with the motion amount taken per window (models/v8_amount.toml, 40
# minutes), then calibrated: per style the energy at which it moves as much as its data (one
# minute). v12 (shipped, session 25) is v8 fine-tuned 20 minutes at a low learning rate on the
# features of beat network v11 (make beats-model), so that training and the show hear the same
# beat; it starts from the exported v8 itself (train --init models/default.onnx). v16 (shipped,
# session 28) is v12 fine-tuned 28 minutes on the varied choreography (dataset synth --variety 1,
# the default), calibrated on it (energy, smoothing and, since session 30, the groove's beat
# profile per style; since session 33 `calibrate` also dances the clips through the live engine
# and sets the energy scales there; since session 36 freestyle's groove dips 0.1, not 0.4: its
# motion capture has no pulse, and beaten into one it reads as another style; since session 37 it also
# measures each style's spread, the floor of the novelty guard, live.novelty; since session 38 locking is
# fed twice the style strength, calibrated alone on top of the others; since session 39 popping likewise; since session 41 freestyle's energy is
# calibrated on the other styles' music, `--other-music`). v29 (shipped, session 44) is v16
# fine-tuned 24 minutes on two threads with the motion capture retargeted to the show's skeleton
# (`dataset import mocap`'s default since session 44; the steps before it read the takes as
# captured, --keep-build, into data/kb/mocap) and the bone term weighted 3, then calibrated the
# same way, with house fed 0.7 of the style strength (it held poses for seconds at 1). The
# final checkpoint is exported once per frame (plus the numpy offline weights) and in blocks of 16,
# and since session 53 the energy ceiling per style is measured on the export and written into
# all three files (`calibrate --ceiling`), its classifier trained on what `evaluate`'s is (without
# synth_x5, with which it reads ballet danced big more leniently: ceiling 5 instead of 4); since
# session 64 each style's footwork (the data's feet-apart speed, `calibrate --footwork`) as well. Since
# session 65 popping is fed 2.5x the style strength (2x before) and hip-hop 1.25x, each calibrated
# alone at it (their energy ceilings measured again), so both are recognised with a margin. Since
# session 68 each style's footwork step spread (`calibrate --steps`: the spread at which the shown
# feet move apart as fast as the data's, danced on the other styles' music) too.
default-model:
	$(DANCEMUSE) dataset synth --out data/synth_v4 --minutes 30 --seed 0 --variety 0 --stance 0
	$(DANCEMUSE) dataset synth --out data/synth_x --minutes 20 --seed 1 --styles-per-song 3 --variety 0 --stance 0
	$(DANCEMUSE) dataset import mocap ../shared/mocap --out data/kb/mocap --keep-build
	OMP_NUM_THREADS=2 $(DANCEMUSE) train --data data/synth_v4 data/synth_x data/kb/mocap --out runs/v6 --train-config models/default_train.toml
	OMP_NUM_THREADS=1 $(DANCEMUSE) train --data data/synth_v4 data/synth_x data/kb/mocap --out runs/v7s --init runs/v6/final.pt --train-config models/v7_style.toml --steps 1750
	OMP_NUM_THREADS=1 $(DANCEMUSE) train --data data/synth_v4 data/synth_x data/kb/mocap --out runs/v7b --init runs/v7s/last.pt --train-config models/v7_amount.toml
	OMP_NUM_THREADS=1 $(DANCEMUSE) train --data data/synth_v4 data/synth_x data/kb/mocap --out runs/v8 --init runs/v7b/final.pt --train-config models/v8_amount.toml
	OMP_NUM_THREADS=1 $(DANCEMUSE) calibrate runs/v8/final.pt --data data/synth_v4 data/synth_x data/kb/mocap
	OMP_NUM_THREADS=1 $(DANCEMUSE) export runs/v8/final.pt -o models/default.onnx
	OMP_NUM_THREADS=1 $(DANCEMUSE) train --data data/synth_v4 data/synth_x data/kb/mocap --out runs/v12 --init models/default.onnx --train-config models/v12_beats.toml
	OMP_NUM_THREADS=1 $(DANCEMUSE) calibrate runs/v12/final.pt --data data/synth_v4 data/synth_x data/kb/mocap
	OMP_NUM_THREADS=1 $(DANCEMUSE) export runs/v12/final.pt -o models/default.onnx
	$(DANCEMUSE) dataset synth --out data/synth_v5 --minutes 30 --seed 0 --stance 0
	$(DANCEMUSE) dataset synth --out data/synth_x5 --minutes 20 --seed 1 --styles-per-song 3 --stance 0
	OMP_NUM_THREADS=1 $(DANCEMUSE) train --data data/synth_v5 data/synth_x5 data/kb/mocap --out runs/v16 --init models/default.onnx --train-config models/v16_variety.toml
	OMP_NUM_THREADS=1 $(DANCEMUSE) calibrate runs/v16/final.pt --data data/synth_v5 data/synth_x5 data/kb/mocap --groove-floor freestyle=0.1
	OMP_NUM_THREADS=1 $(DANCEMUSE) calibrate runs/v16/final.pt --data data/synth_v5 data/synth_x5 data/kb/mocap --style-gain locking=2 --only locking
	OMP_NUM_THREADS=1 $(DANCEMUSE) calibrate runs/v16/final.pt --data data/synth_v5 data/synth_x5 data/kb/mocap --style-gain popping=2 --only popping
	OMP_NUM_THREADS=1 $(DANCEMUSE) calibrate runs/v16/final.pt --data data/synth_v5 data/synth_x5 data/kb/mocap --only freestyle --other-music freestyle
	OMP_NUM_THREADS=1 $(DANCEMUSE) export runs/v16/final.pt -o models/default.onnx
	$(DANCEMUSE) dataset import mocap ../shared/mocap --out data/mocap
	OMP_NUM_THREADS=2 $(DANCEMUSE) train --data data/synth_v5 data/synth_x5 data/mocap --out runs/v29 --init models/default.onnx --train-config models/v29_build.toml
	OMP_NUM_THREADS=1 $(DANCEMUSE) calibrate runs/v29/final.pt --data data/synth_v5 data/synth_x5 data/mocap --groove-floor freestyle=0.1
	OMP_NUM_THREADS=1 $(DANCEMUSE) calibrate runs/v29/final.pt --data data/synth_v5 data/synth_x5 data/mocap --style-gain locking=2 --only locking
	OMP_NUM_THREADS=1 $(DANCEMUSE) calibrate runs/v29/final.pt --data data/synth_v5 data/synth_x5 data/mocap --style-gain popping=2.5 --only popping
	OMP_NUM_THREADS=1 $(DANCEMUSE) calibrate runs/v29/final.pt --data data/synth_v5 data/synth_x5 data/mocap --only freestyle --other-music freestyle
	OMP_NUM_THREADS=1 $(DANCEMUSE) calibrate runs/v29/final.pt --data data/synth_v5 data/synth_x5 data/mocap --style-gain house=0.5 --only house
	OMP_NUM_THREADS=1 $(DANCEMUSE) calibrate runs/v29/final.pt --data data/synth_v5 data/synth_x5 data/mocap --style-gain hiphop=1.25 --only hiphop
	OMP_NUM_THREADS=1 $(DANCEMUSE) export runs/v29/final.pt -o models/default.onnx
	OMP_NUM_THREADS=1 $(DANCEMUSE) export runs/v29/final.pt -o models/default_b16.onnx --block 16
	OMP_NUM_THREADS=1 $(DANCEMUSE) calibrate --ceiling models/default.onnx --data data/synth_v5 data/mocap
	OMP_NUM_THREADS=1 $(DANCEMUSE) calibrate --footwork models/default.onnx --data data/synth_v5 data/synth_x5 data/mocap
	OMP_NUM_THREADS=1 $(DANCEMUSE) calibrate --steps models/default.onnx --data data/synth_v5 data/mocap

# The varied choreography (dataset synth --variety 1, the default since session 27) in the
# v4 recipes; models/v16_variety.toml fine-tunes v12 on it (models/README.md, "Session 27").
variety-data:
	$(DANCEMUSE) dataset synth --out data/synth_v5 --minutes 30 --seed 0 --stance 0
	$(DANCEMUSE) dataset synth --out data/synth_x5 --minutes 20 --seed 1 --styles-per-song 3 --stance 0

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
# bench/beat_corpus.py; about 45 minutes of data building and 62 of training on one core): v3 from
# scratch, v4 fine-tuned from it, then v10 in two fine-tunes on 350 more songs of
# the grooves it read off the beat, then v11 (the shipped one: v10 20 more minutes with the
# loss inside breaks counted three times), then its numpy weights and its whole-sequence copy.
# v10's extra songs: the grooves v4 read off the beat (techno, trance, hip-hop, ...), then those
# the first fine-tune still did (dance-pop, salsa, disco, funk, ...) among the other club and latin ones
BEAT_GENRES_1 = techno,techno,trance,hiphop,hiphop,funk,metal,house,disco
BEAT_GENRES_2 = dancepop,dancepop,salsa,salsa,disco,disco,funk,funk,mambo,reggaeton,ska,ukgarage,boneym,bvfunk,8beat,softrock,rb,merengue,chacha,samba,techno,hiphop
beats-model:
	nice -n 10 env OMP_NUM_THREADS=1 $(PYTHON) -m model.beat_train --out runs/beats --export models/beats.onnx --minutes 13 --extra 70 --extra-minutes 30
	cp runs/beats/best.pt runs/beats/v3.pt
	nice -n 10 env OMP_NUM_THREADS=1 $(PYTHON) -m model.beat_train --out runs/beats --export models/beats.onnx --minutes 9 --extra 100 --extra-minutes 12 --init runs/beats/v3.pt --lr 1e-3
	cp runs/beats/best.pt runs/beats/v4.pt
	nice -n 10 env OMP_NUM_THREADS=1 $(PYTHON) -m model.beat_train --out runs/beats --data-only --extra 200 --extra-start 5000 --extra-minutes 30 --extra-genres $(BEAT_GENRES_1)
	nice -n 10 env OMP_NUM_THREADS=1 $(PYTHON) -m model.beat_train --out runs/beats --export models/beats.onnx --minutes 20 --init runs/beats/v4.pt --lr 1e-3 --seed 4
	cp runs/beats/best.pt runs/beats/v10a.pt
	nice -n 10 env OMP_NUM_THREADS=1 $(PYTHON) -m model.beat_train --out runs/beats --data-only --extra 150 --extra-start 5200 --extra-minutes 30 --extra-genres $(BEAT_GENRES_2)
	nice -n 10 env OMP_NUM_THREADS=1 $(PYTHON) -m model.beat_train --out runs/beats --export models/beats.onnx --minutes 20 --init runs/beats/v10a.pt --lr 1e-3 --seed 6
	cp runs/beats/best.pt runs/beats/v10.pt
	nice -n 10 env OMP_NUM_THREADS=1 $(PYTHON) -m model.beat_train --out runs/beats --export models/beats.onnx --minutes 20 --init runs/beats/v10.pt --lr 1e-3 --seed 8 --break-weight 2
	$(PYTHON) -m export.beats_seq
