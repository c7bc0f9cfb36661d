"""Post-processing of generated poses, switchable live: mirror, root handling, one-euro
smoothing, projection onto the skeleton's bone lengths, planted feet, hold.

Order per frame: mirror -> root (center / bounded follow) -> one-euro smoothing ->
groove and dynamics -> repel (``live.repel``: pushed away from what was shown where the dance
comes back, live/novelty.py's ``Repel``) -> bone-length projection -> foot contact -> hold. Smoothing comes before projection so the
output always has the canonical bone lengths; root handling comes before smoothing so a
switch between ``center`` and ``follow`` glides instead of jumping.

Root. ``center`` keeps the mid-hip at x = z = 0 (height kept). ``follow`` keeps the
model's travel but bounds it to the stage: the displayed root integrates the model's
per-frame root motion while drifting back toward the centre (time constant
``return_s``, faster the further out it is), and is passed through a soft limit (the
identity up to half the radius, then ``k + (r - k) tanh((d - k) / (r - k))``, smooth in
value and slope) so it never leaves the ``stage_radius`` circle (minus the foot
correction's allowance): no jump at the edge, over any length of show.

Bones. ``project_bones`` puts every bone back to its canonical length, keeping its direction,
parents first from the root. A leg the model has folded is the exception: where it draws the
thigh or the shin shorter than ``LEG_FOLD_FROM`` of its length (breaking's floor work: down to
a sixth of a thigh on the test songs), the thigh's direction is unreliable, and keeping it swung
the whole leg (the foot moving 10 m/s along the floor, 99th percentile, where the model's moved 4.5).
So such a leg keeps its ankle where the model put it, relative to the hip (fully at
``LEG_FOLD_FULL`` and under, blended in with a smoothstep above), and two-bone IK bends its
knee toward the side the direction projection put it on: bones exact, no jump where the fold
begins. Measured (models/README.md, session 43): foot sliding in contact 0.35 -> 0.26 m/s over
the evaluation (breaking 1.5 -> 0.8, its data's 0.56), the styles as they were or better;
breaking sits lower in its floor work (where the model draws it, no longer lifted by the feet).
And in a folded leg the knee turns about the leg (the hip-ankle line) by at most
``KNEE_TURN_DEG_S`` (divided by the fold's weight, so no limit where the fold begins), from the
side it was shown on the frame before (``live.post_many.KneeTurn``, session 47): the short thigh's
direction turns with the model's frame-to-frame noise, and breaking's knees swung across their
legs in a frame (the median turn 43 deg where a knee moved over 6 m/s and 2.5x as fast as the model
drew it, 6.3 % of breaking's test-song frames; 3.0 % with the limit, jerk 366 -> 358 m/s^3 over
the evaluation, the styles as they were).
And in any leg, folded or not, the knee moves across its leg by turning about it at most
``KNEE_TURN_V`` m/s (session 57): where the model folds a leg tight (its ankle 10-25 cm from the
hip) the ankle circling near the hip swings the full-length knee round at 7-8 m/s where the
model's short thigh moved 2, in the fold's band (thigh at 0.6-0.85 of its length) where the
turn limit above is weak. The training data's knees turn that fast rarely (the 99th percentile
of that speed: breaking 4.2 m/s, ballet 4.3, freestyle 3.1, the other styles 1.1-2.8).

Feet. With ``foot_lock`` the feet stage first keeps the feet out of the floor: when the
lower ankle would be shown under ``FLOOR_Y`` (a standing ankle's height), or a knee, elbow or
wrist under ``LIMB_FLOOR_Y`` (breaking's floor work: a hand through the floor in 1 % of its
frames until session 43), the whole body is lifted rigidly by what it lacks (bones exact; the foot stops on the floor as it would), at
most ``LIFT_MAX_V`` fast (a foot plunging faster has its leg bent by two-bone IK to stand on
the floor), and the lift sinks back with time constant ``LIFT_RELEASE_S`` once it is no
longer needed (continuous, no pop). The lift may also go below zero, setting the body down by
what the bone projection raised the lower ankle (followed with time constant ``SET_DOWN_S``),
so a model that draws its legs longer than the skeleton's (v29's freestyle shin at 1.16 of its
length, v16's at 1.2) stands on the floor instead of hovering over it, while a jump the model
draws stays in the air; and a body drawn low (hips under ``SUPPORT_FROM``, fully under
``SUPPORT_FULL``) with nothing on the floor is set down onto what is nearest it (a foot, knee or
hand), as floor work rests on the floor. Measured (models/README.md, session 44, with v29): frames
with the whole body 12 cm off the floor 12.4 % -> 7.0 % (freestyle 45 % -> 20 %, breaking 26 % ->
11 %; their data 2.4 % and 0.3 %). And a body the model draws with both feet lifted but its hips
not risen with them is set down (session 45): in the training data's airborne stretches the hips
rise 0.8-1.3x the feet's clearance, in v29's 0.1x (freestyle: 189 such stretches in four dances of
67 s, its data 10 in 1.6 minutes): a hop without a jump, which no dancer can hold. Once the body
has stood, the clearance of its lowest support beyond ``HOP_RISE`` times its hips' rise over their
standing height (the hips' height when last on the floor, ``GROUND_Y``) sets it down onto that
support: partly from ``HOP_FROM`` (the contact band), fully from ``HOP_FULL``, followed with time
constant ``HOP_DOWN_S`` (as is floor work's set-down; the floor lift's slower release left short
hovers in the air). A jump, whose hips rise, and a tuck jump, whose feet rise twice as far, stay as
drawn. Measured in models/README.md, session 45. And a body whose lowest support has been off
the floor longer than a jump as high can last (a flight whose clearance peaks at ``c`` lasts
``2 sqrt(2 c / g)``; ``FLIGHT_SLACK_S`` more) is set down toward it over ``FLIGHT_DOWN_S`` (session
56): the model's hop rule above takes a body that rises whole for a jump, and breaking's model held
a crouch 20-30 cm over the floor for a second that way. Then a foot that is low (ankle under
``CONTACT_Y``) and slow (horizontal speed under ``CONTACT_V``: the model's own feet shuffle along
the floor at up to ~1 m/s where a dancer's stand) is planted: its horizontal position is locked where
it touched down. The body is translated (a rigid shift, so bone lengths stay exact) by the
mean of what the planted feet need, and a planted foot that still misses its lock
(two feet moving apart) gets its leg re-solved by two-bone IK (hip and bone lengths
kept). When no foot is planted the shift relaxes to zero within ``RELEASE_S``; when the
planted feet change (one of two lifts) the body glides to the shift the remaining lock needs
over ``RELEASE_S`` (that leg IK'd meanwhile), and a foot that lifts glides from where it was
shown to the model's foot over ``RELEASE_S`` (its leg IK'd): no jump at release.
A planted foot stands on the floor (session 66): the model draws a standing dancer's planted feet
hovering a few centimetres over it (the lower ankle's median 2-4 cm in every style but popping's
1 cm, the data's 0-2 cm; on a recording half or more of the still feet over 3 cm up, the data's
under a tenth), so a planted foot is shown
lowered by its steady hover (its lower envelope, ``PIN_ENV_S``) over ``PIN_S``, its leg IK'd: the
small lifts the model draws on top of it (a heel, a bounce) stay. The hips stay where they are and
the leg reaches the few centimetres down (lowering the whole body onto the lower planted foot
instead read popping as another style more often and made a quiet passage busier; session 65).
The shift shown follows the one the locks need through two one-pole stages of ``SHIFT_SMOOTH_S``
at the default smoothing (proportional to ``smoothing``, so none in a style calibrated to 0,
popping), and a planted foot the shown shift does not yet put on its lock gets its leg IK'd onto
it (session 47): the locks follow the model's planted feet, which slide and jitter frame by
frame, and the body shifted by that as it came shook with them (every style on every test song,
seed 0: the mid-hip's horizontal jerk 103 m/s^3, 42 with the feet stage off; the whole body's 390,
290 off; data 247). Shown through the stages: 58 and 342, the feet as planted as before
(models/README.md, session 47).
And a standing dancer's foot that is not planted and moves along the floor (the model draws steps
that skate: on the test songs freestyle's ankles moved over 0.5 m/s within 1 cm of the floor in
13.9 % of its contact frames, its data's in 1.1 %), with the other foot planted or slower to
stand on, is held over the floor by up to ``STEP_H`` (from ``STEP_V0`` to ``STEP_V1``, two stages of
``STEP_S``), its leg IK'd: it steps instead of skating. Floor work (hips under ``SUPPORT_FROM``)
sweeps the floor as drawn. Measured (session 47): freestyle's skating frames 13.9 -> 7.5 %, the
feet sliding in contact 0.177 -> 0.140 m/s over the evaluation (data 0.135).
How far the locks may hold the body off where the model and the root stage put it: ``MAX_SHIFT``
with ``root = "follow"``, never past the stage radius (the follow keeps ``FOLLOW_ROOM`` for it),
and ``CENTER_SHIFT`` with ``root = "center"``. Past it the locks give way and the feet go with the
model's. At 0.3 m in both (sessions 17-55) that happened often in a style whose model glides its
body over planted feet (the follow's drift back to the centre is such a glide too): freestyle's
planted feet slid 0.37 m/s on the test songs (its data 0.20), a quarter of its contact steps faster
than 0.3 m/s, because a lock had given way. Since session 56 the follow holds up to 0.45 m:
the feet slide 0.111 m/s in contact over the test songs' styles (0.146 before, data 0.110; freestyle
0.23, salsa 0.16, breaking 0.56 against their data's 0.20, 0.21, 0.56). 0.6 m slid less (0.098,
freestyle 0.18) but read hip-hop on the recordings 2 points worse over 24 seeds, the locks' IK
bending the legs further from the model's (models/README.md, session 56). A centred dancer keeps
0.3 m, so it stays within 0.3 m of the centre as before.
Steps (session 57). Where the model glides a standing body (hips over ``SUPPORT_FROM``) over
both its planted feet, the locks' need grows; held to the cap, both locks gave way there and
skated along the floor at the glide's speed (on the test songs 94 % of freestyle's skating
contact steps were planted feet whose locks had given way). Now, when the need (its growth
followed over ``STEP_RATE_S``) would pass the cap within ``STEP_T``, the foot that lags most
along it steps: it lifts (held ``STEP_H`` over the floor), is carried, as fast as it has risen
(time constant ``STEP_GLIDE_S``), toward ``STEP_TAKE`` of the way from its lock to the model's
foot (plus the shift), and lands after ``STEP_T`` where it is shown; the other foot holds the
body meanwhile (up to ``STEP_HOLD`` past the cap: a rigid shift, no leg bent for it), and the
feet take turns for as long as the glide goes on. Floor work and a body on one foot keep the cap
as before. The legs' IK in this stage bends each knee to the side the
model draws it on (its offset across the hip-ankle line as drawn, leaning ``KNEE_LEAN`` to the
front): taken from the knee as it stood, a step's ankle set down ahead put the knee behind the new
line, bent backward, and swung it there and back (popping's stepping knees, 6-9 m/s in a frame).
And any foot that touches down is locked where it was
shown on the frame before: until session 57 it was locked on the model's foot (plus the shift),
so a lifted foot still gliding back landed off where it was shown, in one frame (on the test
songs freestyle's median 1.7 cm, 1 in 10 landings 7 cm or more, the largest 19 cm).
Footwork (session 64). The model draws much of its footwork as a slow skate of one foot away from
or toward the other; the locks held such a foot where it touched down for as long as the model kept
the feet apart (the leg bent, or the body shifted half the way), and since the mean shift does not
grow, no step came (house's feet moved at 0.20x its hands' speed where the model's own move at
0.38x and its data's at 0.39x). Now, with both feet planted and the body standing, once the model
has moved them ``step_spread`` (``STEP_SPREAD``) apart or together from how they were locked, the
foot farther from where the model puts it steps there as above, if the other can hold the body
within the cap meanwhile; it lands on the first beat as shown (the groove's phase) at least
``STEP_BEAT_MIN`` after it lifts (``STEP_T`` without a beat). Where the moves are shown smaller (size
s from the dynamics and the energy) it takes ``step_spread / s`` (s at least ``STEP_SIZE_MIN``), so a
quiet passage keeps its feet planted; and the engine sets ``step_spread`` 0 for a style mix whose
training data keeps its feet planted (the model's ``footwork`` under ``FOOTWORK_MIN``: popping).
At 16 cm for every style the shown dance moved house's feet apart at 0.07 m/s against its data's
0.35 and locking's at 0.06 against 0.33, where ballet, hip-hop and contemporary came near their
data's (0.15-0.25); so a model calibrated with `dancemuse calibrate --steps` (session 68,
model/step_calib.py) carries each style's own spread, the one of 4-16 cm at which its shown
footwork comes nearest its data's, and the engine gives the post-processing the style mix's.
The glides on the beat (session 67, ``GLIDES_ON_GROOVE``). This stage moves the body and the feet
itself: the body glides to a new shift when a foot lifts or lands, a lifted foot glides back to the
model's, a step is carried and cleared, a planted foot is pinned, and the shown shift follows the
locks' through its stages. At a steady rate these motions fell on the beat as often as between, and
the shown dance's speed no longer dipped where the groove had put its dips (on three test songs,
every style: beat-align score 0.668 with the feet stage off, 0.587 on). Each of them now advances
on the groove's clock: its share per frame is the one it has at speed 1 taken ``s(phase)`` times
(``1 - (1 - k) ** s``), so it moves between the beats and settles on them, as the model's motion
does after the groove stage, and takes about as long over a beat as before. Without a beat (tempo
0, or ``groove`` 0) the clock runs at 1 and nothing changes. The floor lift's sink-back keeps its
steady rate: on the clock it took the feet's speed down against the hands' (foot / hand 0.421 ->
0.410 over the evaluation's test songs) for little beat (models/README.md, session 67). The
groove's own pull toward the model's pose (below) runs on the same clock.

Soft knees (session 69, ``SOFT_IK``). A leg the stage solves (a planted foot on its lock, pinned to
the floor, a foot gliding back or stepping) reaches its target with two-bone IK, and near full
length that is singular: the knee's offset across the leg grows as the square root of what the leg
lacks of its length, so a hip that bobs 3 mm over a foot held where a straight leg barely reaches
swings the knee centimetres and back in two frames. The pin set planted feet down where the model
draws them hovering (session 66) and asked legs drawn nearly straight for more than their length:
ballet's shown legs stood at 99 % of their length or more in 25 % of the leg-frames (popping 17 %;
their training data's never, ballet's 90th percentile 0.985), and its knees snapped across a
near-straight leg 4.5 times as often as its data's (popping's 6 times). A leg the stage solves or
plants now straightens softly over its last ``SOFT_IK``: it is shown at most at the soft length
``g(d)`` of :func:`_soft_sink`, never at full length. What a planted leg lacks of its target within
its reach (at most ``SOFT_IK / e``, 1.5 cm) the body takes up by sinking (the larger of the two legs'
needs), so the foot stays on the floor and both legs are then solved exactly; a free leg the stage
solves (a foot gliding back, a step, a foot held over the floor) and a target out of reach are
stopped short of at the soft length. The softness follows whether the leg is solved or planted
through two stages of ``SOFT_IK_S``, squared (near full length the knee's bend grows as the root of
it), and the body's share follows whether the foot is planted through one stage (ahead of the
softness), so a leg that lands, lifts or ends a glide bends or straightens gently; a free foot the
sink would take under the floor (or its step's clearance) is held there. Legs bent further than
``reach - SOFT_IK`` are solved as before, and ``SOFT_IK`` 0 is the path before to the bit.

Groove. The model's motion is re-timed inside each beat: the pose advances by
``s(phase) * (target_t - target_{t-1})`` plus a pull toward the target (``GROOVE_PULL`` of the gap
per frame at speed 1, ``1 - (1 - GROOVE_PULL) ** s`` on the groove's clock: ``GLIDES_ON_GROOVE``), with
``s = 1 - groove * cos(2 pi phase)`` (mean 1 over a beat, so the dancer travels as far per
beat as the model does): slow through the beat, fast between beats, so accents land on the
beat the tracker predicts (zero look-ahead). Frame ``i`` is shown at ``i / fps`` and the tracker's
phase is at the end of its hop, ``(i + 1) / fps``; the step into frame ``i`` is the motion of
``(i - 1/2) / fps``, so the speed is taken at that phase, shifted by ``offset_ms`` (a later
projector: negative). ``groove`` 0 = off. The engine gives a tempo of 0 (no groove) until the
beat tracker has found a pulse (model.beats.SURE_CONF): audio without one has no beat to re-time to.

The speed's shape through the beat can be a style's own (:meth:`PostProcessor.set_groove_profile`,
from ``dancemuse calibrate``, model/energy_calib.py): ``s = 1 + groove * shape(phase)`` with
``shape`` the Fourier series of the profile (a table of ``GROOVE_BINS`` steps over the beat,
interpolated), at least ``GROOVE_MIN_SPEED``: a house dancer also slows on the half beat, a
popper hits off the beat, a salsa dancer barely slows at all.

Dynamics. The music's loudness sizes the moves: a level follower on the frame RMS (dB, fast
attack, ~0.7 s release) against a reference that jumps up with the loudest passage and sinks
back over ``DYN_REF_S``; ``DYN_FREE_DB`` below the reference the moves are full size, from
there down to ``DYN_FLOOR_DB`` they shrink to ``1 - 0.75 * dynamics`` of their size around the
last second's mean pose. A break or a quiet verse calms the dancer; a drop brings it back.
``dynamics`` 0 = off. The ``energy`` control below 1 shrinks the moves to ``sqrt(energy)`` of
their size (energy 0.3: 0.55) around the mean pose of the last ``ENERGY_MEAN_S`` seconds (the
posture too, not just the last second's moves; that mean starts at the pose where energy went
below 1, so nothing jumps), so a low energy calms the dancer even where the model's own answer
to it is weak; above 1 the model alone makes the moves bigger (and nothing is tracked).
Both stages need the frame's cue (phase, tempo, RMS): without one a pose passes them unchanged.

The one-euro filter (Casiez et al., 2012) adapts its cut-off to the speed of each joint:
slow jitter is smoothed hard, a fast movement (a hit on the beat) passes with almost no
lag. ``smoothing`` in 0..1 sets the low-speed cut-off (0 = filter off).

Everything runs as one flat pass over plain Python floats (51 numbers a pose): for a
17 x 3 pose that is several times cheaper than ~130 small numpy calls, allocates no
arrays, and needs no compiler. Root offset, smoothing and groove share one loop over the
joints on the usual frame (the same arithmetic as the stages one by one). :meth:`PostProcessor.process_many` (offline generation)
runs the same stages over a whole dance one after the other, vectorised over frames
(``live.post_many``), and agrees with frame by frame to float32 rounding.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence

import numpy as np

from live import post_many as pm
from live.novelty import Repel
from model import skeleton as sk
from model.energy_calib import footwork_of, step_spread_of
from model.errors import ConfigError

ROOT_MODES = ("center", "follow")
_F32 = np.dtype(np.float32)
_TRIPLES = tuple((3 * j, 3 * j + 1, 3 * j + 2) for j in range(sk.NUM_JOINTS))
"""Each joint's (x, y, z) indices in a flat pose."""

_D_CUTOFF_HZ = 3.0
"""Cut-off of the speed estimate that drives the one-euro filter."""
_BETA = 8.0
"""Speed coefficient: how fast the cut-off rises with joint speed (per m/s)."""
STAGE_RADIUS = 1.5
RETURN_S = 6.0
CONTACT_Y = sk.ANKLE_HEIGHT + 0.05
"""A foot is low when its ankle is under this height (m); it lifts above ``RELEASE_Y``."""
RELEASE_Y = sk.ANKLE_HEIGHT + 0.09
CONTACT_V = 1.2
"""A foot is slow when its horizontal speed is under this (m/s); it slides above ``RELEASE_V``."""
RELEASE_V = 1.8
RELEASE_S = 0.25
"""Time constant of the foot correction relaxing to zero when no foot is planted."""
SHIFT_SMOOTH_S = 0.02
"""Time constant (s) at the default smoothing (0.5; proportional to ``smoothing``, so 0 at a
style calibrated to smoothing 0, popping) of each of the two one-pole stages the shown body shift
follows the planted feet's shift through (see Feet in the module docstring): ~1 frame of lag at
30 fps."""
STEP_H = 0.06
"""Clearance (m over ``FLOOR_Y``) a standing dancer's unplanted foot is held at while it moves
along the floor at ``STEP_V1`` and faster (smoothstep from ``STEP_V0``): the model draws steps
that skate along the floor (see Feet in the module docstring); 0 = off."""
STEP_V0 = 0.6
STEP_V1 = 1.5
STEP_S = 0.03
"""Time constant (s) of each of the two one-pole stages the step clearance follows."""
MAX_SHIFT = 0.45
"""Largest body shift (m) the foot contact may apply with ``root = "follow"``, less where the shown
hips would leave the stage radius (session 56: at 0.3 the planted feet of a style whose model glides
them, freestyle and salsa, gave way and slid; see Feet in the module docstring)."""
STEP_T = 0.45
"""How long (s) a foot the locks lift (a step instead of a skate: see Feet) stays in the air."""
STEP_TAKE = 0.75
"""What share of the body shift a step takes back: the stepping foot lands that share of the way
from its lock toward the model's foot (plus the shift); 0 = no steps, the locks skate."""
STEP_SPREAD = 0.16
"""When the model has moved two planted feet this far (m) apart or together from how they were
locked (footwork drawn as a skate), the foot that misses its lock most steps to where the model
puts it (the other foot holding the body, the body standing; session 64); 0 = off. A model whose
metadata holds each style's spread (``step_spread``, `dancemuse calibrate --steps`; session 68)
steps at that spread, at most this one."""
STEP_BEAT_MIN = 0.25
"""A footwork step (``STEP_SPREAD``) lands on the first beat at least this far away (s), so the
feet step on the beat (``STEP_T`` where no beat is known; session 64)."""
STEP_SIZE_MIN = 0.25
"""Where the moves are shown smaller (a quiet passage's dynamics, energy under 1: their size s) the
feet step only once the model has moved them ``STEP_SPREAD`` / s apart, s at least this: a calm
passage keeps its feet planted (session 64)."""
FOOTWORK_MIN = 0.15
"""A style (mix) whose training data moves a standing dancer's feet apart or together slower than
this (m/s; the model's ``footwork`` metadata, `dancemuse calibrate --footwork`) keeps its feet
planted: no ``STEP_SPREAD`` steps (the synthetic popping's data 0.10, the other styles 0.22-1.9;
stepping, popping was read as another style in 0.2 of its windows; session 64)."""
STEP_HOLD = 0.15
"""How much further (m) than the cap the foot left standing may hold the body while the other
steps (its lock gave way there during a step)."""
PIN_S = 0.05
"""Time constant (s) of a planted foot settling onto the floor (and of the pin letting go when it
lifts): the model draws a standing dancer's planted feet about 3 cm over the floor (the lower
ankle's median, `evaluate`'s floor gap; its data 1 cm), so a planted foot is shown lowered by its
steady hover (``PIN_ENV_S``), its leg IK'd to reach it (session 66); 0 = off."""
PIN_ENV_S = 0.5
"""A foot's steady hover over the floor is its lower envelope: its height over ``FLOOR_Y`` as the
model draws it, followed down at once and up with this time constant (s). Lowering a planted foot
by its envelope, not by its whole height, keeps the small lifts the model draws in place (a heel
or a bounce): pinning them all flat took a ninth of the feet's speed (session 65)."""
GLIDES_ON_GROOVE = True
"""The feet stage's own glides and the groove's pull run on the groove's clock (session 67): each advances
by the frame's groove speed, so they move between the beats and settle on them, as the model's motion
does after the groove."""
STEP_GLIDE_S = 0.1
"""Time constant (s) of a stepping foot's glide toward where it is set down (once it is up)."""
STEP_RATE_S = 0.1
"""Time constant (s) over which the feet stage follows how fast the locks' need grows: a step
begins when, at that rate, the need would pass the largest shift within ``STEP_T``, so the foot
left standing holds the body while the other is in the air."""
CENTER_SHIFT = 0.3
"""The same with ``root = "center"``: a centred dancer is held at most this far off the centre."""
FOLLOW_ROOM = 0.3
"""What the bounded follow leaves between its radius and the stage radius (m): the root travels
within ``stage_radius - FOLLOW_ROOM``, and the feet's shift may take the hips to the stage radius."""
FLOOR_Y = sk.ANKLE_HEIGHT
"""No ankle is shown under this height (m, a standing ankle's): the body is lifted rigidly."""
LIMB_FLOOR_Y = 0.04
"""No knee, elbow or wrist is shown under this height (m, a knee or hand resting on the floor):
the body is lifted as for the ankles."""
LIFT_RELEASE_S = 0.3
"""Time constant (s) of the floor lift sinking back once the feet no longer need it."""
LIFT_MAX_V = 2.0
"""Fastest the floor lift raises the body (m/s); a foot plunging faster has its leg bent (IK)."""
_FEET = ((sk.LEFT_FOOT, 13, 11), (sk.RIGHT_FOOT, 14, 12))  # ankle, knee, hip
_FEET_J = [sk.LEFT_FOOT, sk.RIGHT_FOOT]
_FEET_Y = (3 * sk.LEFT_FOOT + 1, 3 * sk.RIGHT_FOOT + 1)  # flat indices of the ankles' heights
_LIMBS_Y = tuple(3 * j + 1 for j in (7, 8, 9, 10, 13, 14))
"""Flat indices of the elbows', wrists' and knees' heights."""
_ALL_Y = tuple(3 * j + 1 for j in range(sk.NUM_JOINTS))
"""Flat indices of every joint's height (the soft knees' sink)."""
SET_DOWN_S = 0.08
"""Time constant (s) of the set-down's follow of what the bone projection raised the lower ankle
(see Feet in the module docstring); short, so the body is not bobbed by the model's frame-to-frame
leg lengths."""
SUPPORT_FROM = 0.7
"""A body drawn with its hips (mid-hip) lower than this (m) and nothing on the floor is set down
onto it, fully at ``SUPPORT_FULL`` and under (smoothstep between): floor work the model draws in
the air rests on the floor; a standing dancer's jump (hips at 0.8 m and up) stays in the air."""
SUPPORT_FULL = 0.5
HOP_RISE = 2.0
"""A body off the floor may be this many times as high over it as its hips rose over their standing
height (``GROUND_Y``): a jump lifts the hips, a tuck jump the feet about twice as far (the training
data's airborne stretches: the hips rise 0.8-1.3x the clearance, under half of it in a quarter of
them). Higher than that by ``HOP_FROM`` and more, the model has lifted both feet without jumping,
and the body is set down onto its lower foot (knee or hand), fully from ``HOP_FULL`` (smoothstep
between; see Feet in the module docstring)."""
HOP_FROM = CONTACT_Y - FLOOR_Y
"""(0.05 m: a foot that low counts as on the floor, see ``CONTACT_Y``.)"""
HOP_FULL = HOP_FROM + 0.06
GRAVITY = 9.81
"""m/s^2: how long a jump can last (``FLIGHT_SLACK_S``)."""
FLIGHT_SLACK_S = 0.1
"""A body whose lowest support (foot, knee or hand) has been off the floor (over ``GROUND_Y``)
longer than a jump as high lasts (``2 sqrt(2 c / g)`` for the highest clearance ``c`` it reached
in that time) plus this is set down toward the floor (to ``GROUND_Y``), fully ``FLIGHT_DOWN_S``
later (smoothstep between; followed with ``HOP_DOWN_S``): the model holds a crouch 20-30 cm over the
floor for a second, or stands a few centimetres over it for longer, and no jump lasts that long
(session 56). A jump the model draws is shorter than its flight time and stays as drawn."""
FLIGHT_DOWN_S = 0.15
HOP_DOWN_S = 0.15
"""Time constant (s) of a set-down past the projection's raise (a hop, floor work); the floor lift's
``LIFT_RELEASE_S`` would leave a short hover in the air."""
GROUND_Y = 0.03
"""The body stands on the floor while its lowest foot, knee or hand is within this of it (m); its
hip height then is the standing height a jump rises from."""
LEG_FOLD_FROM = 0.85
"""A leg whose thigh or shin the model draws shorter than this share of its length is folded:
its ankle is kept where the model put it (see Bones in the module docstring)."""
LEG_FOLD_FULL = 0.55
"""At this share and under, a folded leg's ankle is wholly the model's (a smoothstep between)."""
KNEE_LEAN = 0.03
"""How far (m) a fully folded leg's knee, and a knee the feet stage's IK bends, is pulled to the
body's front before its side is taken: the model's own bend decides, and a knee it draws on the
hip-ankle line bends forward."""
SOFT_IK = 0.04
"""How far short of its full length (m) a leg the feet stage solves or plants starts to straighten
softly: a hip-ankle distance ``d`` past ``reach - SOFT_IK`` is shown as ``reach - SOFT_IK *
exp((reach - SOFT_IK - d) / SOFT_IK)`` (a planted leg's body sinking by what that lacks), so the leg
never locks straight and its knee moves at most a few times as far as the hip (see Soft knees in the
module docstring; 0 = solved at full length, as before session 69)."""
SOFT_IK_S = 0.1
"""Time constant (s) of each of the two stages over which a leg that lands, lifts or stops being
solved takes its soft straightening in or lets it go (and of the one stage of the body's share), so
its knee bends and straightens gently."""
KNEE_TURN_DEG_S = 300.0
"""Fastest a fully folded knee turns about its leg (deg/s; see Bones in the module docstring)."""
KNEE_TURN_V = 3.0
"""Fastest (m/s) any knee moves across its leg by turning about it (see Bones in the module
docstring; the training data's 99th percentile 1.1-4.3 m/s by style)."""
GROOVE_BINS = 64
"""Steps of a groove profile's table over one beat (interpolated linearly between them)."""
GROOVE_MIN_SPEED = 0.05
"""Least speed a groove profile slows the motion to (the cosine at groove 1 reaches 0)."""
_GROOVE_GRID = np.linspace(0.0, 1.0, GROOVE_BINS + 1)
"""The beat phases of a groove table's steps."""
GROOVE_PULL = 0.05
"""Share of the gap to the model's pose closed each frame by the groove stage (bounds its lag)."""
DYN_FREE_DB = 3.0
"""Within this many dB of the reference level the moves keep their full size."""
DYN_FLOOR_DB = 24.0
"""At this many dB under the reference the moves reach their smallest size."""
DYN_REF_S = 20.0
"""Time constant (s) of the reference level sinking toward a quieter level."""
DYN_MEAN_S = 1.0
"""Time constant (s) of the mean pose the dynamics stage scales the moves around."""
ENERGY_SIZE_EXP = 0.5
"""Below energy 1 the moves shrink to energy ** ENERGY_SIZE_EXP of their size."""
ENERGY_MEAN_S = 4.0
"""Time constant (s) of the mean pose the energy control scales the moves around."""


def min_cutoff_hz(smoothing: float) -> float:
    """Low-speed cut-off of the one-euro filter for a ``smoothing`` strength in (0, 1]."""
    s = min(max(float(smoothing), 0.0), 1.0)
    return 0.5 + 11.5 * (1.0 - s) ** 2


_BONE = 0
"""A bone whose parent is a joint (sk.ROOT and sk.NECK are negative)."""


def _order() -> list[int]:
    """Joints with every parent before its children (NECK after both shoulders)."""
    done: list[int] = []
    while len(done) < sk.NUM_JOINTS:
        for j in range(sk.NUM_JOINTS):
            p = sk.PARENTS[j]
            ready = p == sk.ROOT or (p == sk.NECK and 5 in done and 6 in done) or p in done
            if j not in done and ready:
                done.append(j)
    return done


class BoneProjector:
    """``model.skeleton.project_to_lengths`` for one pose: each bone keeps its direction
    and gets its canonical length, parents first, over plain floats (same result); then, with
    ``fold_legs``, a folded leg keeps its ankle (see Bones in the module docstring)."""

    def __init__(self, lengths: Sequence[float] | np.ndarray | None = None, *, fold_legs: bool = True,
                 turn: pm.KneeTurn | None = None) -> None:
        ref = sk.CANONICAL_BONE_LENGTHS if lengths is None else np.asarray(lengths, np.float32)
        self.fold_legs = bool(fold_legs)
        self.turn = turn
        """A folded knee's turn limit and last sides (``live.post_many.KneeTurn``), or None: none."""
        self.legs = tuple((hip, knee, ankle, float(ref[knee]), float(ref[ankle])) for ankle, knee, hip in _FEET)
        """Each leg's joints (hip, knee, ankle) and its thigh and shin lengths."""
        rest = sk.rest_pose().astype(np.float64)
        self.plan: list[tuple[int, int, float, float, float, float]] = []
        for j in _order():
            p = sk.PARENTS[j]
            if p == sk.ROOT:
                par = 0.5 * (rest[11] + rest[12])
            elif p == sk.NECK:
                par = 0.5 * (rest[5] + rest[6])
            else:
                par = rest[p]
            d = rest[j] - par
            d /= np.linalg.norm(d)
            self.plan.append((j, p, float(ref[j]), float(d[0]), float(d[1]), float(d[2])))
        self._out = [0.0] * (sk.NUM_JOINTS * 3)
        # the plan as runs of bones of one kind (joint parent / root / neck), each bone with
        # its flat indices, length and rest direction times length precomputed
        self._runs: list[tuple[int, list[tuple[int, int, int, int, int, int, float, float, float, float]]]] = []
        for j, p, length, ux, uy, uz in self.plan:
            kind = p if p in (sk.ROOT, sk.NECK) else _BONE
            q = 3 * max(p, 0)
            bone = (3 * j, 3 * j + 1, 3 * j + 2, q, q + 1, q + 2, length, ux * length, uy * length, uz * length)
            if self._runs and self._runs[-1][0] == kind:
                self._runs[-1][1].append(bone)
            else:
                self._runs.append((kind, [bone]))

    def flat(self, x: list[float], o: list[float]) -> None:
        """Project the flat pose ``x`` (51 floats) into ``o`` (51 floats, not ``x``)."""
        sqrt = math.sqrt
        rx = 0.5 * (x[33] + x[36])
        ry = 0.5 * (x[34] + x[37])
        rz = 0.5 * (x[35] + x[38])
        for kind, bones in self._runs:
            if kind == _BONE:  # the parent is a joint (already placed in o)
                for c0, c1, c2, q0, q1, q2, length, ul0, ul1, ul2 in bones:
                    dx, dy, dz = x[c0] - x[q0], x[c1] - x[q1], x[c2] - x[q2]
                    n = sqrt(dx * dx + dy * dy + dz * dz)
                    if n > 1e-8:
                        s = length / n
                        o[c0], o[c1], o[c2] = o[q0] + dx * s, o[q1] + dy * s, o[q2] + dz * s
                    else:
                        o[c0], o[c1], o[c2] = o[q0] + ul0, o[q1] + ul1, o[q2] + ul2
                continue
            if kind == sk.ROOT:
                ax, ay, az, bx, by, bz = rx, ry, rz, rx, ry, rz
            else:  # the neck: mid-shoulder, in x and as placed in o
                ax, ay, az = 0.5 * (x[15] + x[18]), 0.5 * (x[16] + x[19]), 0.5 * (x[17] + x[20])
                bx, by, bz = 0.5 * (o[15] + o[18]), 0.5 * (o[16] + o[19]), 0.5 * (o[17] + o[20])
            for c0, c1, c2, _q0, _q1, _q2, length, ul0, ul1, ul2 in bones:
                dx, dy, dz = x[c0] - ax, x[c1] - ay, x[c2] - az
                n = sqrt(dx * dx + dy * dy + dz * dz)
                if n > 1e-8:
                    s = length / n
                    o[c0], o[c1], o[c2] = bx + dx * s, by + dy * s, bz + dz * s
                else:
                    o[c0], o[c1], o[c2] = bx + ul0, by + ul1, bz + ul2
        if self.fold_legs:
            turn = self.turn
            for i, leg in enumerate(self.legs):
                r = _fold_leg(x, o, *leg)
                if turn is not None:
                    h, k, a = 3 * leg[0], 3 * leg[1], 3 * leg[2]
                    new = turn.apply(i, o[h], o[h + 1], o[h + 2], o[k], o[k + 1], o[k + 2], o[a], o[a + 1], o[a + 2], r)
                    if new is not None:
                        o[k], o[k + 1], o[k + 2] = new

    def __call__(self, pose: np.ndarray, out: np.ndarray) -> np.ndarray:
        """pose [shape=(17, 3)] -> ``out`` [shape=(17, 3)] (may alias ``pose``)."""
        self.flat(np.asarray(pose, np.float64).ravel().tolist(), self._out)
        out.reshape(-1)[:] = self._out
        return out


def _fold_leg(x: list[float], o: list[float], hip: int, knee: int, ankle: int, l1: float, l2: float) -> float:
    """One leg of :meth:`BoneProjector.flat` (joints ``hip``, ``knee``, ``ankle``; ``l1``,
    ``l2`` thigh and shin): when the model's ``x`` folds it, its ankle in ``o`` moves toward
    where the model put it (relative to the hip) and :func:`_two_bone_ik` places the knee on the
    side of the projected one. ``live.post_many.fold_legs`` is the same over many poses.
    Returns the shorter of the model's thigh and shin as a share of its length."""
    sqrt = math.sqrt
    a, b, c = 3 * hip, 3 * knee, 3 * ankle
    t0, t1, t2 = x[b] - x[a], x[b + 1] - x[a + 1], x[b + 2] - x[a + 2]
    s0, s1, s2 = x[c] - x[b], x[c + 1] - x[b + 1], x[c + 2] - x[b + 2]
    r = min(sqrt(t0 * t0 + t1 * t1 + t2 * t2) / l1, sqrt(s0 * s0 + s1 * s1 + s2 * s2) / l2)
    if r >= LEG_FOLD_FROM:
        return r
    f = min(1.0, (LEG_FOLD_FROM - r) / (LEG_FOLD_FROM - LEG_FOLD_FULL))
    w = f * f * (3.0 - 2.0 * f)
    px, py, pz = o[a], o[a + 1], o[a + 2]
    # the ankle's target: from the projected ankle toward the model's (hip-relative)
    tx = o[c] + w * (px + x[c] - x[a] - o[c])
    ty = o[c + 1] + w * (py + x[c + 1] - x[a + 1] - o[c + 1])
    tz = o[c + 2] + w * (pz + x[c + 2] - x[a + 2] - o[c + 2])
    vx, vy, vz = tx - px, ty - py, tz - pz
    d = sqrt(vx * vx + vy * vy + vz * vz)
    if d < 1e-9:
        return r
    ux, uy, uz = vx / d, vy / d, vz / d
    # the knee leans (by up to KNEE_LEAN m, with the fold) to the body's front, across the leg,
    # so a knee the model draws on the hip-ankle line does not flip
    fx, fy, fz = _front(o)
    fu = fx * ux + fy * uy + fz * uz
    fx, fy, fz = fx - fu * ux, fy - fu * uy, fz - fu * uz
    fn = sqrt(fx * fx + fy * fy + fz * fz)
    lean = w * KNEE_LEAN / fn if fn > 1e-9 else 0.0
    _two_bone_ik(o, hip, knee, ankle, tx, ty, tz, lean * fx, lean * fy, lean * fz)
    return r


def _alpha(cutoff_hz: float, fps: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau * fps)


def groove_table(shape: Sequence[float] | np.ndarray) -> np.ndarray:
    """A groove profile's coefficients (see :meth:`PostProcessor.set_groove_profile`) as its
    table over one beat [shape=(GROOVE_BINS + 1,)]. Raises ConfigError for an odd count or a
    number that is not finite."""
    c = np.asarray(shape, np.float64).reshape(-1)
    if len(c) % 2 or not np.all(np.isfinite(c)):
        raise ConfigError(f"a groove profile needs pairs of finite numbers, got {len(c)} values")
    tab = np.zeros(GROOVE_BINS + 1)
    for k in range(len(c) // 2):
        w = 2.0 * math.pi * (k + 1) * _GROOVE_GRID
        tab += c[2 * k] * np.cos(w) + c[2 * k + 1] * np.sin(w)
    return tab


class PostProcessor:
    """Per-frame post-processing with live switches.

    Parameters
    ----------
    fps : frames per second of the stream (sets the filters' time step).
    smoothing : one-euro strength 0..1 (0 = off).
    mirror : mirror the dancer left/right.
    root : "center" keeps the mid-hip at x = z = 0 (height kept, so floor contact stays);
        "follow" keeps the generated travel, bounded to the stage (see the module docstring).
    project_bones : snap every pose onto the canonical bone lengths.
    stage_radius : metres the root may travel from the centre in "follow".
    return_s : time constant (s) of the drift back toward the centre in "follow".
    foot_lock : plant feet that are low and slow (no foot sliding).
    groove : 0..1, how strongly motion slows on the beat and hurries between beats.
    dynamics : 0..1, how much quiet passages shrink the moves.
    energy : 0..2, the energy control: below 1 the moves shrink to sqrt(energy) of their size.
    offset_ms : shift of the beat the groove lands on (negative: earlier, for a late display).
    repel : gain of the repel stage (live/novelty.py, ``Repel``): where the shown dance comes near
        what it showed before, its pose is pushed away from the pose shown then; 0 = off.
    """

    def __init__(
        self,
        *,
        fps: float,
        smoothing: float = 0.5,
        mirror: bool = False,
        root: str = "center",
        project_bones: bool = True,
        stage_radius: float = STAGE_RADIUS,
        return_s: float = RETURN_S,
        foot_lock: bool = True,
        groove: float = 0.0,
        dynamics: float = 0.0,
        energy: float = 1.0,
        offset_ms: float = 0.0,
        repel: float = 0.0,
    ) -> None:
        if fps <= 0:
            raise ConfigError(f"fps must be positive, got {fps}")
        if stage_radius <= FOLLOW_ROOM:
            raise ConfigError(f"live.stage_radius {stage_radius} m is too small; use more than {FOLLOW_ROOM} m")
        if return_s <= 0:
            raise ConfigError(f"live.root_return_s {return_s} must be positive")
        self.fps = float(fps)
        self._clear_k = 1.0 / (1.0 + STEP_S * self.fps)  # the step clearance's stages, per frame
        self._step_k = 1.0 / (1.0 + STEP_GLIDE_S * self.fps)  # a step's glide to its lead, per frame
        self._pin_k = 1.0 / (1.0 + PIN_S * self.fps) if PIN_S > 0.0 else 0.0  # a planted foot's pin, per frame
        self._soft_k = 1.0 / (1.0 + SOFT_IK_S * self.fps)  # a planted leg's soft straightening, per frame
        self._env_k = 1.0 / (1.0 + PIN_ENV_S * self.fps)
        self.smoothing = float(smoothing)
        self.mirror = bool(mirror)
        self.root = root
        self.project_bones = bool(project_bones)
        self.stage_radius = float(stage_radius)
        self.return_s = float(return_s)
        self.foot_lock = bool(foot_lock)
        self.step_spread = STEP_SPREAD
        """How far (m) the model may move two planted feet apart or together before one steps (see
        ``STEP_SPREAD``; the engine sets the style mix's measured spread, :func:`steps_of`); 0: the
        locks hold them (the engine sets 0 for a style whose data keeps its feet planted,
        ``FOOTWORK_MIN``)."""
        self.groove = min(max(float(groove), 0.0), 1.0)
        self._gshape: list[float] | None = None
        """The groove's shape through the beat per unit groove (GROOVE_BINS + 1 steps), or None: -cos."""
        self._gshape_np = np.zeros(GROOVE_BINS + 1)
        self.dynamics = min(max(float(dynamics), 0.0), 1.0)
        self.energy = float(energy)
        self.offset_ms = float(offset_ms)
        self.hold = False
        self.set_root(root)
        n = sk.NUM_JOINTS * 3
        self._mirror_src = [3 * m + c for m in sk.MIRROR for c in range(3)]
        self._x = [0.0] * n  # filtered position
        self._dx = [0.0] * n  # filtered velocity, m/s
        self._proj = [0.0] * n
        self._gy = [0.0] * n  # groove output
        self._gt = [0.0] * n  # last target
        self._gm = [0.0] * n  # mean pose of the dynamics stage
        self._gl = [0.0] * n  # mean pose of the energy control (ENERGY_MEAN_S)
        self._cue: tuple[float, float, float] | None = None
        self._turn = pm.KneeTurn(math.radians(KNEE_TURN_DEG_S) / self.fps, (LEG_FOLD_FROM, LEG_FOLD_FULL),
                                 KNEE_TURN_V / self.fps)
        self._project = BoneProjector(turn=self._turn)
        self._batch_proj = pm.BatchProjector(self._project.plan, legs=self._project.legs if self._project.fold_legs else (),
                                             turn=self._turn,
                                             fold=(LEG_FOLD_FROM, LEG_FOLD_FULL, KNEE_LEAN))
        self._out = np.zeros((sk.NUM_JOINTS, 3), np.float32)
        self._out_flat = self._out.reshape(-1)
        self._last = self._out_flat
        """Where the last output was written (:meth:`process` with ``out``: the caller's row)."""
        self._pack51 = struct.Struct(f"={n}d").pack_into
        self._pack51f = struct.Struct(f"={n}f").pack_into
        self._f64 = np.zeros(n, np.float64)  # packed into through its buffer
        self.contact = [False, False]
        """Whether each foot (left, right) is planted on the last frame."""
        self._fo = [0.0] * n  # the feet stage's output
        self._sg_key: tuple[float, float] | None = None  # (fps, smoothing) of _sg_consts
        self._sg_consts = (0.0, 0.0, 0.0, 0.0, 0.0)
        self._feet_now = [0.0] * 4
        self._feet_prev = [0.0] * 4
        self.repel = Repel(self.fps, gain=repel)
        """The repel stage (``gain`` 0 = off: it then neither pushes nor records; the engine sets its
        guard's least spread as the novelty guard's)."""
        self.reset()
        self.hold = False

    def set_root(self, mode: str) -> None:
        if mode not in ROOT_MODES:
            raise ConfigError(f"root mode {mode!r} is unknown; use one of {list(ROOT_MODES)}")
        self.root = mode

    def reset(self) -> None:
        """Forget the filter, stage and contact state (the next pose passes unfiltered) and
        release hold."""
        self._primed = False
        self._have_output = False
        self.hold = False
        self._raw_root: tuple[float, float] | None = None  # model root (x, z) last frame
        self._stage = [0.0, 0.0]  # displayed root before the soft limit
        self._off = [0.0, 0.0]  # what is added to the pose's x, z
        self._shift = [0.0, 0.0]  # foot-contact body shift
        self._lock = [[0.0, 0.0], [0.0, 0.0]]
        self._shift_s = [0.0, 0.0]  # the shift after the first of the two stages (SHIFT_SMOOTH_S)
        self._shift_shown = [0.0, 0.0]  # the shift shown (after both)
        self._shift_on = False  # the stages hold a shift (the first frame starts them at it)
        self._absorb = [0.0, 0.0]  # the part of the body shift still gliding to what the locks need
        self._rel = [[0.0, 0.0], [0.0, 0.0]]  # a lifted foot's offset from the model's, gliding to 0
        self._step_t = [0.0, 0.0]  # seconds left of each foot's step (STEP_T), the locks' asking
        self._lead = [[0.0, 0.0], [0.0, 0.0]]  # where a stepping foot's offset glides to (m)
        self._need_n = -1.0  # the shift both planted feet needed last frame (m; -1: not both planted)
        self._need_v = 0.0  # how fast it grows (m/s, followed over STEP_RATE_S)
        self._have_prev = False  # self._feet_prev holds the last frame's feet (lx rx lz rz)
        self._fv = [0.0, 0.0]  # each foot's horizontal speed as drawn (m/s), this frame
        self._clear = [[0.0, 0.0], [0.0, 0.0]]  # each foot's step clearance after the first and second stage (STEP_S)
        self._pin = [0.0, 0.0]  # how far each foot is set down on the floor (0..1, followed over PIN_S)
        self._soft = [[0.0] * 3, [0.0] * 3]  # each leg's softness (two stages of SOFT_IK_S) and the share the body takes (one)
        self._tg = [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]  # each foot's target this frame, its leg's soft length
        self._solved = [False, False]  # each leg solved this frame
        self._env = [0.0, 0.0]  # each foot's lower envelope over the floor (m; up over PIN_ENV_S)
        self._lift = 0.0  # floor lift (m) added to every joint's height
        self._raised = 0.0  # what the bone projection raised this frame's lower ankle (m)
        self._size = 1.0  # this frame's size of the moves (dynamics x energy), as the steps read it
        self._gspeed = 1.0  # this frame's groove speed (1: none), the clock of the feet stage's glides
        self._beat_ph, self._beat_bpm = math.nan, 0.0  # this frame's beat phase and tempo (0: none), as the steps read them
        self._raised_s = 0.0  # the same, followed with time constant SET_DOWN_S
        self._hip_ground: float | None = None  # the hips' height (as drawn) when last on the floor
        self._air_t = 0.0  # seconds the lowest support has been off the floor (over GROUND_Y)
        self._air_peak = 0.0  # its highest clearance (m) in that time
        self._turn.reset()
        if hasattr(self, "repel"):
            self.repel.reset()
        self.contact = [False, False]
        self._g_primed = False
        self._gl_on = False  # the energy control's mean pose is tracked (only while energy < 1)
        self._level: float | None = None
        self._ref = 0.0

    def cue(self, phase: float, tempo: float, rms: float) -> None:
        """The music of the next frame: beat ``phase`` in [0, 1) (0 on the beat) at the end
        of its hop, ``tempo`` BPM and the frame's RMS (linear). Used by the next
        :meth:`process` only."""
        self._cue = (phase, tempo, rms)

    # -- one frame -------------------------------------------------------------------------
    def process(self, pose: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
        """Post-process one pose (with the music :meth:`cue` given for it, if any).

        pose: [shape=(17, 3)] absolute joints, metres, y up. Returns an internal buffer
        [shape=(17, 3)] float32 that the next call overwrites: copy what you keep. With
        ``out`` (float32 [shape=(51,)], e.g. a row of the caller's ring) the pose is written
        there instead (one copy less) and ``out`` is returned; while held, the last output is
        copied there.
        """
        given = out
        if out is None:
            out = self._out_flat
        if self.hold and self._have_output:
            self._cue = None
            if out is not self._last:
                out[:] = self._last
        else:
            x = self._step(pose.ravel().tolist() if type(pose) is np.ndarray else np.asarray(pose).ravel().tolist())
            if out.dtype == _F32 and out.flags.c_contiguous and out.size == len(x):
                try:  # straight into the float32 row: struct's float cast is numpy's
                    self._pack51f(out, 0, *x)  # type: ignore[arg-type]  # an ndarray is a writable buffer
                except OverflowError:  # a value past float32's range: numpy's cast (inf) below
                    self._copy_out(out, x)
            else:
                self._copy_out(out, x)
            self._have_output = True
            self._last = out
        return self._out if given is None else out

    def _copy_out(self, out: np.ndarray, x: list[float]) -> None:
        """``x`` into ``out`` through a float64 buffer and numpy's cast (any layout)."""
        self._pack51(self._f64, 0, *x)  # type: ignore[arg-type]  # an ndarray is a writable buffer
        np.copyto(out, self._f64)

    def process_many(self, poses: np.ndarray, cues: np.ndarray | None = None) -> np.ndarray:
        """The same pass over a whole dance: poses [shape=(t, 17, 3)] -> new float32 array
        [shape=(t, 17, 3)] (what ``process`` would return frame by frame); ``cues``
        [shape=(t, 3)]: each frame's (phase, tempo, rms) as given to :meth:`cue`.

        The first frame goes through :meth:`process` (it primes the filters), the rest
        stage by stage over all frames (``live.post_many``); while held, frame by frame."""
        t = len(poses)
        if t == 0:  # nothing to pass (a dance cut to nothing): nothing changes
            return np.zeros((0, sk.NUM_JOINTS, 3), np.float32)
        c64 = None if cues is None else np.asarray(cues, np.float64).reshape(t, 3)
        if self.hold or t < 2:
            return self._process_loop(poses, c64)
        first = self._process_loop(poses[:1], None if c64 is None else c64[:1])
        out = np.empty((t, sk.NUM_JOINTS, 3), np.float32)
        out[0] = first[0]
        out[1:] = self._many(np.asarray(poses[1:], np.float64).reshape(t - 1, sk.NUM_JOINTS, 3),
                             None if c64 is None else c64[1:])
        self._out[...] = out[-1]
        self._last = self._out_flat
        return out

    def _process_loop(self, poses: np.ndarray, cues: np.ndarray | None) -> np.ndarray:
        """process_many frame by frame (held frames, the first frame)."""
        flat = np.asarray(poses).reshape(len(poses), -1).tolist()
        cl = None if cues is None else cues.tolist()
        rows: list[list[float]] = []
        last = self._last.tolist()
        for i, row in enumerate(flat):
            if cl is not None:
                self._cue = (cl[i][0], cl[i][1], cl[i][2])
            if not (self.hold and self._have_output):
                last = list(self._step(row))
                self._have_output = True
            else:
                self._cue = None
            rows.append(last)
        out = np.asarray(rows, np.float32).reshape(len(poses), sk.NUM_JOINTS, 3)
        if len(out):
            self._out[...] = out[-1]
            self._last = self._out_flat
        return out

    def _many(self, p: np.ndarray, cues: np.ndarray | None) -> np.ndarray:
        """Frames after the first (the filters primed) stage by stage: p [shape=(t, 17, 3)]
        float64 (a copy, changed in place) -> [shape=(t, 17, 3)] float64."""
        nj = sk.NUM_JOINTS
        fps = self.fps
        self._cue = None
        if self.mirror:
            p = p[:, sk.MIRROR]
            p[..., 0] *= -1.0
        rx = 0.5 * (p[:, 11, 0] + p[:, 12, 0])
        rz = 0.5 * (p[:, 11, 2] + p[:, 12, 2])
        if self.root == "center":
            ox, oz = -rx, -rz
            self._stage[0] = self._stage[1] = 0.0
            self._raw_root = (float(-rx[-1] if self.mirror else rx[-1]), float(rz[-1]))
        else:
            tx, tz, self._raw_root = pm.follow_root(
                rx.tolist(), rz.tolist(), mirror=self.mirror, stage=self._stage, raw=self._raw_root,
                radius=self.stage_radius - FOLLOW_ROOM, return_s=self.return_s, fps=fps)
            ox, oz = np.asarray(tx) - rx, np.asarray(tz) - rz
        self._off[0], self._off[1] = float(ox[-1]), float(oz[-1])
        p[..., 0] += ox[:, None]
        p[..., 2] += oz[:, None]
        if self.smoothing <= 0.0:
            x = p
            self._x[:] = p[-1].ravel().tolist()
            self._dx[:] = [0.0] * len(self._dx)
            self._primed = True
        else:
            f = np.asarray(self._x, np.float64).reshape(nj, 3)
            v = np.asarray(self._dx, np.float64).reshape(nj, 3)
            x = pm.one_euro(p, f, v, fps=fps, alpha_d=_alpha(_D_CUTOFF_HZ, fps),
                            min_cutoff=min_cutoff_hz(self.smoothing), beta=_BETA)
            self._x[:] = f.ravel().tolist()
            self._dx[:] = v.ravel().tolist()
        sizes = speeds = None
        if cues is not None and self._sizes_moves() and self._level is not None:
            x, sizes, speeds = self._groove_many(x, cues)
        if self.repel.gain > 0.0:  # frame by frame: each push follows what was shown before it
            return self._many_repel(x, cues, sizes, speeds)
        raised = None
        if self.project_bones:
            drawn = x
            x = self._batch_proj(x)
            raised = (x[:, _FEET_J, 1].min(axis=1) - drawn[:, _FEET_J, 1].min(axis=1)).tolist()
        if self.foot_lock:  # frame by frame: the floor lift and the locks are sequential
            flat = x.reshape(len(x), -1).tolist()
            if cues is not None:
                beat_ph, beat_bpm = cues[:, 0].tolist(), cues[:, 1].tolist()
            feet = self._feet
            rows = []
            for i, row in enumerate(flat):
                if raised is not None:
                    self._raised = raised[i]
                self._size = 1.0 if sizes is None else sizes[i]
                self._gspeed = 1.0 if speeds is None else speeds[i]
                if cues is not None:
                    self._beat_ph, self._beat_bpm = beat_ph[i], beat_bpm[i]
                rows.append(feet(row)[:])
            x = np.asarray(rows, np.float64).reshape(x.shape)
        self._have_output = True
        return x

    @property
    def energy(self) -> float:
        """The energy control (0..2); below 1 it shrinks the moves (see the module docstring)."""
        return self._energy

    @energy.setter
    def energy(self, value: float) -> None:
        self._energy = min(max(float(value), 0.0), 2.0)
        self._energy_size = min(self._energy, 1.0) ** ENERGY_SIZE_EXP

    def set_groove_profile(self, shape: Sequence[float] | np.ndarray | None) -> None:
        """The groove's speed through the beat: Fourier coefficients (a1, b1, a2, b2, ...) of
        ``speed - 1`` per unit of ``groove``, so ``speed = 1 + groove * sum_k (a_k cos(2 pi k
        phase) + b_k sin(2 pi k phase))`` (at least GROOVE_MIN_SPEED); None: the plain
        ``1 - groove cos(2 pi phase)``. Tabulated here, not per frame."""
        if shape is None:
            self._gshape = None
            return
        self.set_groove_table(groove_table(shape))

    def set_groove_table(self, table: np.ndarray) -> None:
        """The groove's shape already tabulated (:func:`groove_table`, or a weighted sum of
        such tables: the table is linear in the coefficients), copied in place."""
        self._gshape_np[:] = table
        self._gshape = self._gshape_np.tolist()

    def share_groove_profile(self, other: PostProcessor) -> None:
        """Use ``other``'s groove profile (its tables themselves, not a copy: an ensemble's
        dancers follow the lead's each frame without allocating; a post that shares must not
        be given a table of its own afterwards, it would write into ``other``'s)."""
        self._gshape, self._gshape_np = other._gshape, other._gshape_np

    def _groove_speed(self, ph: float) -> float:
        """The groove's speed at beat phase ``ph`` (any real; see :meth:`set_groove_profile`)."""
        tab = self._gshape
        if tab is None:
            return 1.0 - self.groove * math.cos(2.0 * math.pi * ph)
        u = (ph - math.floor(ph)) * GROOVE_BINS
        i = int(u)
        i = i if i < GROOVE_BINS else GROOVE_BINS - 1
        s = 1.0 + self.groove * (tab[i] + (u - i) * (tab[i + 1] - tab[i]))
        return s if s > GROOVE_MIN_SPEED else GROOVE_MIN_SPEED

    def _sizes_moves(self) -> bool:
        return self.groove > 0.0 or self.dynamics > 0.0 or self._energy_size != 1.0

    def _groove_many(self, x: np.ndarray, cues: np.ndarray) -> tuple[np.ndarray, list[float], list[float]]:
        """:meth:`_groove` over frames (primed): x [shape=(t, 17, 3)] -> (the re-timed poses, each
        frame's size of the moves: the dynamics' times the energy's, and its groove speed, as the
        feet stage reads them)."""
        t, nj = len(x), sk.NUM_JOINTS
        fps = self.fps
        size, self._level, self._ref = pm.loudness(
            cues[:, 2].tolist(), fps=fps, level=float(self._level or 0.0), ref=self._ref,
            free_db=DYN_FREE_DB, floor_db=DYN_FLOOR_DB, ref_s=DYN_REF_S, dynamics=self.dynamics)
        phase, tempo = cues[:, 0], cues[:, 1]
        ok = (tempo > 0.0) & (tempo == tempo) & (phase == phase)
        with np.errstate(invalid="ignore"):
            ph = phase - (self.offset_ms * 1e-3 + 1.5 / fps) * tempo / 60.0
            if self._gshape is None:
                speed = np.where(ok, 1.0 - self.groove * np.cos(2.0 * math.pi * ph), 1.0)
            else:
                shaped = 1.0 + self.groove * np.interp(ph - np.floor(ph), _GROOVE_GRID, self._gshape_np)
                speed = np.where(ok, np.maximum(shaped, GROOVE_MIN_SPEED), 1.0)
        km = 1.0 / (DYN_MEAN_S * fps)
        kl, es = 1.0 / (ENERGY_MEAN_S * fps), self._energy_size
        xf = x.reshape(t, nj * 3)
        if es != 1.0:  # from the pose where energy went below 1, as frame by frame
            lm = pm.linear_recursion(kl * xf, 1.0 - kl, np.asarray(self._gl, np.float64) if self._gl_on else xf[0])
            xf = lm + es * (xf - lm)
            self._gl[:] = lm[-1].tolist()
        self._gl_on = es != 1.0
        m = pm.linear_recursion(km * xf, 1.0 - km, np.asarray(self._gm, np.float64))
        tgt = m + np.asarray(size)[:, None] * (xf - m)
        step = np.empty_like(tgt)
        step[0] = tgt[0] - np.asarray(self._gt, np.float64)
        np.subtract(tgt[1:], tgt[:-1], out=step[1:])
        if GLIDES_ON_GROOVE:  # the pull on the groove's clock too (session 67)
            keep = (1.0 - GROOVE_PULL) ** speed
            u = keep[:, None] * speed[:, None] * step + (1.0 - keep)[:, None] * tgt
            y = pm.varying_recursion(u, keep, np.asarray(self._gy, np.float64))
        else:
            pull = GROOVE_PULL
            u = (1.0 - pull) * speed[:, None] * step + pull * tgt
            y = pm.linear_recursion(u, 1.0 - pull, np.asarray(self._gy, np.float64))
        self._gm[:] = m[-1].tolist()
        self._gt[:] = tgt[-1].tolist()
        self._gy[:] = y[-1].tolist()
        return y.reshape(t, nj, 3), [float(s) * es for s in size], speed.tolist()

    def _many_repel(self, x: np.ndarray, cues: np.ndarray | None, sizes: list[float] | None,
                    speeds: list[float] | None) -> np.ndarray:
        """The rest of :meth:`_many` with the repel stage on: the push, the bone projection and
        the feet stage frame by frame, as :meth:`_step` runs them."""
        flat = x.reshape(len(x), -1).tolist()
        if cues is not None:
            beat_ph, beat_bpm = cues[:, 0].tolist(), cues[:, 1].tolist()
        repel, rows = self.repel, []
        for i, row in enumerate(flat):
            self._size = 1.0 if sizes is None else sizes[i]
            self._gspeed = 1.0 if speeds is None else speeds[i]
            if cues is not None:
                self._beat_ph, self._beat_bpm = beat_ph[i], beat_bpm[i]
            y = self._bones_and_feet(repel.apply(row))
            repel.record(y)
            rows.append(y[:])
        self._have_output = True
        return np.asarray(rows, np.float64).reshape(x.shape)

    def _step(self, p: list[float]) -> list[float]:
        if self.mirror:
            src = self._mirror_src
            p = [p[i] for i in src]
            for c in range(0, len(p), 3):
                p[c] = -p[c]
        ox, oz = self._root(p)
        cue, self._cue = self._cue, None
        if cue is None:
            self._beat_ph, self._beat_bpm = math.nan, 0.0
        else:
            self._beat_ph, self._beat_bpm = cue[0], cue[1]
        self._size = 1.0
        self._gspeed = 1.0
        if cue is not None and self._sizes_moves():
            size, speed = self._loudness_and_speed(*cue)
            self._size = size * self._energy_size
            self._gspeed = speed
            if (self._primed and self._g_primed and self.smoothing > 0.0 and self._energy_size == 1.0
                    and not self._gl_on):  # the usual frame: smoothing and groove in one pass
                x = self._smooth_groove(p, ox, oz, size, speed)
            else:
                x = self._groove(self._smooth(p, ox, oz), size, speed)
        else:
            x = self._smooth(p, ox, oz)
        repel = self.repel
        if repel.gain > 0.0:
            x = repel.apply(x)
        x = self._bones_and_feet(x)
        if repel.gain > 0.0:
            repel.record(x)
        return x

    def _bones_and_feet(self, x: list[float]) -> list[float]:
        if self.project_bones:
            o = self._proj
            self._project.flat(x, o)
            ly, ry = _FEET_Y
            self._raised = (o[ly] if o[ly] < o[ry] else o[ry]) - (x[ly] if x[ly] < x[ry] else x[ry])
            x = o
        if self.foot_lock:
            x = self._feet(x)
        return x

    def _root(self, p: list[float]) -> tuple[float, float]:
        """Where ``p`` goes on the stage (centred, or the bounded follow): the (x, z) offset
        the next stage adds to every joint."""
        rx = 0.5 * (p[33] + p[36])
        rz = 0.5 * (p[35] + p[38])
        sx = -rx if self.mirror else rx  # the model's own root: travel is tracked in its frame,
        if self.root == "center":  # so toggling mirror flips the direction, never the place
            self._raw_root = (sx, rz)
            self._stage[0] = self._stage[1] = 0.0
            tx = tz = 0.0
        else:
            st = self._stage
            if self._raw_root is None:  # a new stream starts where the model puts it
                st[0], st[1] = rx, rz
            else:
                dx = sx - self._raw_root[0]
                st[0] += -dx if self.mirror else dx
                st[1] += rz - self._raw_root[1]
            self._raw_root = (sx, rz)
            # drift back toward the centre, faster when far out (bounded over any length)
            r = self.stage_radius - FOLLOW_ROOM
            d2 = (st[0] * st[0] + st[1] * st[1]) / (r * r)
            k = min(1.0, (1.0 + 4.0 * d2) / (self.return_s * self.fps))
            st[0] -= k * st[0]
            st[1] -= k * st[1]
            d = math.sqrt(st[0] * st[0] + st[1] * st[1])
            knee = 0.5 * r  # soft limit: identity inside the knee, then a smooth roll-off below r
            g = (knee + (r - knee) * math.tanh((d - knee) / (r - knee))) / d if d > knee else 1.0
            tx, tz = st[0] * g, st[1] * g
        ox, oz = tx - rx, tz - rz
        self._off[0], self._off[1] = ox, oz
        return ox, oz

    def _smooth(self, p: list[float], ox: float, oz: float) -> list[float]:
        """The one-euro filter of ``p`` moved by (ox, 0, oz): -> the filter state (a list)."""
        xf, dxf = self._x, self._dx
        if self.smoothing <= 0.0 or not self._primed:
            xf[:] = p
            for c in range(0, len(xf), 3):
                xf[c] += ox
                xf[c + 2] += oz
            for i in range(len(dxf)):
                dxf[i] = 0.0
            self._primed = True
            return xf
        fps = self.fps
        ad = _alpha(_D_CUTOFF_HZ, fps)
        bd = 1.0 - ad
        mc = min_cutoff_hz(self.smoothing)
        kk = fps / (2.0 * math.pi)
        sqrt = math.sqrt
        for c in range(0, len(p), 3):
            x0, x1, x2 = p[c] + ox, p[c + 1], p[c + 2] + oz
            f0, f1, f2 = xf[c], xf[c + 1], xf[c + 2]
            v0 = bd * dxf[c] + ad * (x0 - f0) * fps
            v1 = bd * dxf[c + 1] + ad * (x1 - f1) * fps
            v2 = bd * dxf[c + 2] + ad * (x2 - f2) * fps
            dxf[c], dxf[c + 1], dxf[c + 2] = v0, v1, v2
            a = 1.0 / (1.0 + kk / (mc + _BETA * sqrt(v0 * v0 + v1 * v1 + v2 * v2)))
            xf[c], xf[c + 1], xf[c + 2] = f0 + a * (x0 - f0), f1 + a * (x1 - f1), f2 + a * (x2 - f2)
        return xf

    def _smooth_groove(self, p: list[float], ox: float, oz: float, size: float, speed: float) -> list[float]:
        """:meth:`_smooth` then :meth:`_groove` (primed, energy 1) in one pass over the joints
        (the same arithmetic, so the same numbers) -> the groove output (a list)."""
        xf, dxf, y, tp, m = self._x, self._dx, self._gy, self._gt, self._gm
        fps = self.fps
        key = (fps, self.smoothing)
        if key != self._sg_key:  # the filter's constants, made when fps or smoothing change
            ad = _alpha(_D_CUTOFF_HZ, fps)
            self._sg_consts = (ad, 1.0 - ad, min_cutoff_hz(self.smoothing), fps / (2.0 * math.pi),
                               1.0 / (DYN_MEAN_S * fps))
            self._sg_key = key
        ad, bd, mc, kk, km = self._sg_consts
        pull, beta = (_clocked(GROOVE_PULL, speed) if GLIDES_ON_GROOVE else GROOVE_PULL), _BETA
        sqrt = math.sqrt
        for c, c1, c2 in _TRIPLES:
            f0, f1, f2 = xf[c], xf[c1], xf[c2]
            d0, d1, d2 = p[c] + ox - f0, p[c1] - f1, p[c2] + oz - f2  # the step to the new pose
            v0 = bd * dxf[c] + ad * d0 * fps
            v1 = bd * dxf[c1] + ad * d1 * fps
            v2 = bd * dxf[c2] + ad * d2 * fps
            dxf[c], dxf[c1], dxf[c2] = v0, v1, v2
            a = 1.0 / (1.0 + kk / (mc + beta * sqrt(v0 * v0 + v1 * v1 + v2 * v2)))
            x0, x1, x2 = f0 + a * d0, f1 + a * d1, f2 + a * d2
            xf[c], xf[c1], xf[c2] = x0, x1, x2
            m0, m1, m2 = m[c], m[c1], m[c2]
            m0, m1, m2 = m0 + km * (x0 - m0), m1 + km * (x1 - m1), m2 + km * (x2 - m2)
            m[c], m[c1], m[c2] = m0, m1, m2
            t0, t1, t2 = m0 + size * (x0 - m0), m1 + size * (x1 - m1), m2 + size * (x2 - m2)
            y0 = y[c] + speed * (t0 - tp[c])
            y1 = y[c1] + speed * (t1 - tp[c1])
            y2 = y[c2] + speed * (t2 - tp[c2])
            y[c], y[c1], y[c2] = y0 + pull * (t0 - y0), y1 + pull * (t1 - y1), y2 + pull * (t2 - y2)
            tp[c], tp[c1], tp[c2] = t0, t1, t2
        return y

    def _loudness_and_speed(self, phase: float, tempo: float, rms: float) -> tuple[float, float]:
        """The groove's per-frame numbers (see the module docstring): the loudness follower
        moves on (state) and gives the dynamics' size of the moves; the speed of the motion
        through the beat at the time the pose is shown. Returns (size, speed)."""
        fps = self.fps
        db = 20.0 * math.log10(rms + 1e-6) if rms == rms and rms >= 0.0 else -120.0
        lv = self._level
        if lv is None:
            lv = self._ref = db
        else:
            lv += (min(1.0, 10.0 / fps) if db > lv else min(1.0, 1.5 / fps)) * (db - lv)
            self._ref = lv if lv > self._ref else self._ref + (lv - self._ref) / (DYN_REF_S * fps)
        self._level = lv
        depth = (self._ref - lv - DYN_FREE_DB) / (DYN_FLOOR_DB - DYN_FREE_DB)
        size = 1.0 - 0.75 * self.dynamics * min(1.0, max(0.0, depth))
        if tempo > 0.0 and tempo == tempo and phase == phase:
            ph = phase - (self.offset_ms * 1e-3 + 1.5 / fps) * tempo / 60.0
            speed = self._groove_speed(ph)
        else:
            speed = 1.0
        return size, speed

    def _groove(self, x: list[float], size: float, speed: float) -> list[float]:
        """Groove and dynamics (see the module docstring) with this frame's ``size`` and
        ``speed`` (:meth:`_loudness_and_speed`): ``x`` -> the internal buffer."""
        y, tp, m, lm = self._gy, self._gt, self._gm, self._gl
        fps = self.fps
        km = 1.0 / (DYN_MEAN_S * fps)
        es = self._energy_size
        if es != 1.0 and not self._gl_on:  # energy went below 1: its mean pose starts here
            lm[:] = x
        self._gl_on = es != 1.0
        if not self._g_primed:
            m[:] = x
            y[:] = x
            tp[:] = x
            self._g_primed = True
            return y
        pull = _clocked(GROOVE_PULL, speed) if GLIDES_ON_GROOVE else GROOVE_PULL
        if es != 1.0:
            kl = 1.0 / (ENERGY_MEAN_S * fps)
            for c in range(len(x)):
                xc = x[c]
                lc = lm[c] + kl * (xc - lm[c])
                lm[c] = lc
                xc = lc + es * (xc - lc)
                mc = m[c] + km * (xc - m[c])
                m[c] = mc
                t = mc + size * (xc - mc)
                yc = y[c] + speed * (t - tp[c])
                y[c] = yc + pull * (t - yc)
                tp[c] = t
            return y
        for c in range(len(x)):
            mc = m[c] + km * (x[c] - m[c])
            m[c] = mc
            t = mc + size * (x[c] - mc)
            yc = y[c] + speed * (t - tp[c])
            y[c] = yc + pull * (t - yc)
            tp[c] = t
        return y

    def _to_beat(self) -> float:
        """How long a footwork step stays in the air (s): until the next beat as shown at least
        ``STEP_BEAT_MIN`` away, so that it lands on the beat; ``STEP_T`` without a beat."""
        ph, tempo = self._beat_ph, self._beat_bpm
        if not (tempo > 0.0 and ph == ph):
            return STEP_T
        period = 60.0 / tempo
        ph -= (self.offset_ms * 1e-3 + 1.5 / self.fps) * tempo / 60.0  # as the groove shows it
        left = (1.0 - (ph - math.floor(ph))) * period
        while left < STEP_BEAT_MIN:
            left += period
        return left

    def _feet(self, x: list[float]) -> list[float]:
        """The floor and planted feet: lift the body so no ankle is under ``FLOOR_Y`` (and no knee,
        elbow or wrist under ``LIMB_FLOOR_Y``), or set it down by what the projection raised the
        lower ankle (``self._raised``, set by the caller for this frame), shift
        it so planted feet stay, then IK a leg whose foot still misses its lock. Returns an
        internal buffer (``x`` is not changed)."""
        fps = self.fps
        out = self._fo
        gs = self._gspeed if GLIDES_ON_GROOVE else 1.0  # the glides' clock (GLIDES_ON_GROOVE)
        ly, ry = x[3 * _FEET[0][0] + 1], x[3 * _FEET[1][0] + 1]
        need = FLOOR_Y - (ly if ly < ry else ry)
        for c in _LIMBS_Y:  # nor a knee, elbow or wrist under LIMB_FLOOR_Y (floor work)
            v = LIMB_FLOOR_Y - x[c]
            if v > need:
                need = v
        # set down: the body may sink (need < 0) by what the bone projection raised the lower ankle
        down = self._raised_s = self._raised_s + (self._raised - self._raised_s) / (1.0 + SET_DOWN_S * fps)
        hip = 0.5 * (x[34] + x[37])
        release = LIFT_RELEASE_S
        proj = down if down > 0.0 else 0.0
        clear = -need - proj  # what the lowest support lacks of the floor once set down by the projection's raise
        if clear <= GROUND_Y:  # on the floor: the height a jump rises from
            self._hip_ground = hip
            self._air_t = self._air_peak = 0.0
        else:  # in the air: how long, and how high the lowest support has been (a flight's clock)
            self._air_t += 1.0 / fps
            if clear > self._air_peak:
                self._air_peak = clear
        if need < 0.0:
            # and a body drawn low (floor work) down to what it rests on
            f = (SUPPORT_FROM - hip) / (SUPPORT_FROM - SUPPORT_FULL)
            if f > 0.0:
                f = 1.0 if f >= 1.0 else f * f * (3.0 - 2.0 * f)
                if -need * f > down:
                    down = -need * f
            # and both feet lifted without a jump (the hips not risen with them) down onto the lower
            # (once the body has stood: before that no standing height is known, nor the floor)
            if self._hip_ground is not None:
                hip_rise = hip - self._hip_ground
                f = (clear - (HOP_RISE * hip_rise if hip_rise > 0.0 else 0.0) - HOP_FROM) / (HOP_FULL - HOP_FROM)
                if f > 0.0:
                    f = 1.0 if f >= 1.0 else f * f * (3.0 - 2.0 * f)
                    if proj + clear * f > down:
                        down = proj + clear * f
                # and a body longer in the air than a jump as high can stay there (a flight of
                # peak clearance c lasts 2 sqrt(2 c / g)) comes down: the model hovers, no dancer does
                f = (self._air_t - FLIGHT_SLACK_S - 2.0 * math.sqrt(2.0 * self._air_peak / GRAVITY)) / FLIGHT_DOWN_S
                if f > 0.0:
                    f = 1.0 if f >= 1.0 else f * f * (3.0 - 2.0 * f)
                    if proj + (clear - GROUND_Y) * f > down:  # (to GROUND_Y: none left when it lands)
                        down = proj + (clear - GROUND_Y) * f
            if down > proj:  # set down past the projection's raise (floor work, a hop): promptly
                release = HOP_DOWN_S
            need = 0.0 if down <= 0.0 else (need if need > -down else -down)
        lift = self._lift
        if need >= lift:  # the lowest foot would go under the floor: the body rises (at most
            rise = LIFT_MAX_V / fps  # LIFT_MAX_V; a faster plunge bends the leg instead, below)
            lift = need if need - lift <= rise else lift + rise
        else:  # sink back smoothly toward what the feet need
            lift += (need - lift) / (1.0 + release * fps)
        self._lift = lift
        feet, prev = self._feet_now, self._feet_prev
        for i, (a, _, _) in enumerate(_FEET):
            feet[i], feet[i + 2] = x[3 * a], x[3 * a + 2]
        first = not self._have_prev  # (no output yet to land from)
        if first:
            prev[:] = feet
            self._have_prev = True
        self._feet_now, self._feet_prev = prev, feet  # next frame's prev is this frame's feet
        sh, ab, rel, shown = self._shift, self._absorb, self._rel, self._shift_shown
        need_x = need_z = 0.0
        planted = 0
        changed = False
        lifted = 0
        for i, (a, _, _) in enumerate(_FEET):
            y = x[3 * a + 1] + lift
            v = math.hypot(feet[i] - prev[i], feet[i + 2] - prev[i + 2]) * fps
            self._fv[i] = v
            was = self.contact[i]
            now = (y < RELEASE_Y and v < RELEASE_V) if was else (y < CONTACT_Y and v < CONTACT_V)
            lk = self._lock[i]
            st = self._step_t[i]
            if st > 0.0:  # a step the locks asked for (below): in the air until it is over
                st -= 1.0 / fps
                if st > 1e-9:
                    self._step_t[i] = st
                    now = False
                else:
                    self._step_t[i] = 0.0
                    if not now:  # not set down where it stepped to: back to the model's foot
                        self._lead[i][0] = self._lead[i][1] = 0.0
            if now and not was:  # touch down where the foot was shown (out: the last frame's output)
                if first:
                    lk[0], lk[1] = feet[i] + shown[0], feet[i + 2] + shown[1]
                else:
                    lk[0], lk[1] = out[3 * a], out[3 * a + 2]
                rel[i][0] = rel[i][1] = 0.0
                self._lead[i][0] = self._lead[i][1] = 0.0
            elif was and not now:  # lift off from where it is shown (out: the last frame's output)
                rel[i][0], rel[i][1] = out[3 * a] - feet[i], out[3 * a + 2] - feet[i + 2]
                lifted |= 1 << i
            changed = changed or now != was
            self.contact[i] = now
            hov = y - FLOOR_Y if y > FLOOR_Y else 0.0  # the foot's lower envelope: its steady hover
            e = self._env[i]
            self._env[i] = hov if hov < e else e + self._env_k * (hov - e)
            if now:
                need_x += lk[0] - feet[i]
                need_z += lk[1] - feet[i + 2]
                planted += 1
        tx = tz = 0.0
        # the largest shift: MAX_SHIFT, less what would take the hips past the stage radius
        top = CENTER_SHIFT if self.root == "center" else MAX_SHIFT
        room = self.stage_radius - math.hypot(0.5 * (x[33] + x[36]), 0.5 * (x[35] + x[38]))
        cap = top if room > top else (room if room > 0.0 else 0.0)
        if planted:
            tx, tz = need_x / planted, need_z / planted
            n = math.hypot(tx, tz)
            # how fast the locks' need grows while both feet stay planted (m/s, followed over STEP_RATE_S)
            if planted == 2 and not changed and self._need_n >= 0.0:
                self._need_v += (((n - self._need_n) * fps) - self._need_v) / (1.0 + STEP_RATE_S * fps)
            else:
                self._need_v = 0.0
            self._need_n = n if planted == 2 else -1.0
            grow = self._need_v if self._need_v > 0.0 else 0.0
            i, dur = -1, STEP_T
            if planted == 2 and STEP_TAKE > 0.0 and 0.5 * (x[34] + x[37]) + lift > SUPPORT_FROM:
                if n > 1e-6 and n + grow * STEP_T > cap:
                    # a standing body the locks would hold past the cap steps instead of skating: the
                    # foot that lags most lifts for STEP_T and lands STEP_TAKE of the way to the model's
                    ux, uz = tx / n, tz / n
                    d0 = (self._lock[0][0] - feet[0]) * ux + (self._lock[0][1] - feet[2]) * uz
                    d1 = (self._lock[1][0] - feet[1]) * ux + (self._lock[1][1] - feet[3]) * uz
                    i = 0 if d0 >= d1 else 1
                elif self.step_spread > 0.0:
                    # the model moves its planted feet apart or together (footwork the locks would
                    # bend the legs for): the foot that misses its lock most steps to where the
                    # model puts it, if the other can hold the body alone meanwhile (within the cap)
                    n0x, n0z = self._lock[0][0] - feet[0], self._lock[0][1] - feet[2]
                    n1x, n1z = self._lock[1][0] - feet[1], self._lock[1][1] - feet[3]
                    sz = self._size if self._size > STEP_SIZE_MIN else STEP_SIZE_MIN
                    if math.hypot(n0x - n1x, n0z - n1z) * sz > self.step_spread:
                        d0, d1 = math.hypot(n0x, n0z), math.hypot(n1x, n1z)
                        if (d1 if d0 >= d1 else d0) < cap:
                            i = 0 if d0 >= d1 else 1
                            dur = self._to_beat()
            if i >= 0:
                a = _FEET[i][0]
                lk = self._lock[i]
                self.contact[i] = False
                self._step_t[i] = dur
                rel[i][0], rel[i][1] = out[3 * a] - feet[i], out[3 * a + 2] - feet[i + 2]
                lifted |= 1 << i
                changed = True
                need_x -= lk[0] - feet[i]
                need_z -= lk[1] - feet[i + 2]
                planted = 1
                tx, tz = need_x, need_z
                n = math.hypot(tx, tz)
                self._lead[i][0], self._lead[i][1] = -STEP_TAKE * tx, -STEP_TAKE * tz
            if planted == 1 and STEP_HOLD > 0.0 and self._step_t[0] + self._step_t[1] > 0.0:
                # the foot left standing while the other steps holds the body a little further (a
                # rigid shift: no leg is bent for it), never past the stage radius
                top += STEP_HOLD
                cap = top if room > top else (room if room > 0.0 else 0.0)
            if n > cap:  # give up part of the lock rather than leave the stage
                tx, tz = tx * cap / n, tz * cap / n
                for i in range(2):
                    if self.contact[i]:
                        self._lock[i][0], self._lock[i][1] = feet[i] + tx, feet[i + 2] + tz
        else:
            self._need_n, self._need_v = -1.0, 0.0
        # the shift the locks need can jump when a foot lifts: the body glides there instead
        k = _clocked(1.0 / (1.0 + RELEASE_S * fps), gs)
        if changed:
            ab[0], ab[1] = sh[0] - tx, sh[1] - tz
        ab[0] -= k * ab[0]
        ab[1] -= k * ab[1]
        if abs(ab[0]) + abs(ab[1]) < 1e-7:
            ab[0] = ab[1] = 0.0
        sx, sz = tx + ab[0], tz + ab[1]
        n = math.hypot(sx, sz)
        if n > cap:
            sx, sz = sx * cap / n, sz * cap / n
        sh[0], sh[1] = sx, sz
        # what is shown follows that shift through two short one-pole stages: the shift tracks the
        # model's planted feet, which slide and jitter, and taken as is it shook the whole body
        # (its horizontal jerk 2-4x the unlocked dance's); the planted feet keep their locks by IK
        sm = self._shift_s
        if self._shift_on:
            ks = _clocked(1.0 / (1.0 + SHIFT_SMOOTH_S * 2.0 * self.smoothing * fps), gs)
            sm[0] += ks * (sx - sm[0])
            sm[1] += ks * (sz - sm[1])
            shown[0] += ks * (sm[0] - shown[0])
            shown[1] += ks * (sm[1] - shown[1])
        else:
            sm[0] = shown[0] = sx
            sm[1] = shown[1] = sz
            self._shift_on = True
        sx, sz = shown[0], shown[1]
        kw = _clocked(self._step_k, gs)
        for i, (a, _, _) in enumerate(_FEET):  # a lifted foot glides from where it was shown to the model's (+ shift)
            if not self.contact[i]:
                r = rel[i]
                if self._step_t[i] > 0.0:  # a step: from where it was shown (out: the last frame's output)
                    # toward its lead, as fast as it has risen (lifted first, then carried)
                    w = kw * (self._clear[i][1] / STEP_H if STEP_H > 0.0 else 1.0)
                    ld = self._lead[i]
                    r[0] = out[3 * a] + w * (feet[i] + sx + ld[0] - out[3 * a]) - feet[i] - sx
                    r[1] = out[3 * a + 2] + w * (feet[i + 2] + sz + ld[1] - out[3 * a + 2]) - feet[i + 2] - sz
                    continue
                if lifted >> i & 1:
                    r[0] -= sx
                    r[1] -= sz
                r[0] -= k * r[0]
                r[1] -= k * r[1]
        for c, c1, c2 in _TRIPLES:
            out[c] = x[c] + sx
            out[c1] = x[c1] + lift
            out[c2] = x[c2] + sz
        standing = STEP_H > 0.0 and 0.5 * (out[34] + out[37]) > SUPPORT_FROM  # (the legs' IK keeps the hips)
        kc = _clocked(self._clear_k, gs)
        kp = _clocked(self._pin_k, gs)
        ks = self._soft_k
        solved = self._solved
        bx = by = bz = 0.0  # a knee the model draws on the leg's line bends to the front (KNEE_LEAN)
        fx, fy, fz = _front(out)
        fn = math.sqrt(fx * fx + fy * fy + fz * fz)
        if fn > 1e-9:
            bx, by, bz = KNEE_LEAN * fx / fn, KNEE_LEAN * fy / fn, KNEE_LEAN * fz / fn
        for i, (a, _, _) in enumerate(_FEET):
            y = out[3 * a + 1]
            cl = self._clear[i]
            want = 0.0
            # a standing dancer's foot that moves along the floor, the other planted or slower (the
            # support), steps over it: held STEP_H over the floor from STEP_V1 on (smoothstep from STEP_V0)
            if standing and self._step_t[i] > 0.0:
                want = STEP_H
            elif standing and not self.contact[i] and (self.contact[1 - i] or self._fv[1 - i] < self._fv[i]):
                f = (self._fv[i] - STEP_V0) / (STEP_V1 - STEP_V0)
                if f > 0.0:
                    want = STEP_H if f >= 1.0 else STEP_H * f * f * (3.0 - 2.0 * f)
            cl[0] += kc * (want - cl[0])
            cl[1] += kc * (cl[0] - cl[1])
            low = FLOOR_Y + cl[1]
            under = y < low
            if under:
                y = low
            # a planted foot stands on the floor where the model draws it hovering (PIN_S)
            pw = self._pin[i]
            pw += kp * ((1.0 if self.contact[i] else 0.0) - pw)
            self._pin[i] = pw
            e = self._env[i]
            if pw > 1e-4 and e > 1e-4:
                y -= pw * e
                if y < low:
                    y = low
                under = True
            if self.contact[i]:
                lx, lz = self._lock[i]
                solve = under or abs(out[3 * a] - lx) + abs(out[3 * a + 2] - lz) > 1e-4
            else:
                r = rel[i]
                solve = under or abs(r[0]) + abs(r[1]) > 1e-4
                if not solve:
                    r[0] = r[1] = 0.0
                lx, lz = out[3 * a] + r[0], out[3 * a + 2] + r[1]
            # a leg the stage solves or plants straightens softly (SOFT_IK); a planted one's lack the body
            # takes up (sinking), a free one's its ankle: taken in and let go over SOFT_IK_S
            sf = self._soft[i]
            sf[0] += ks * ((1.0 if solve or self.contact[i] else 0.0) - sf[0])
            sf[1] += ks * (sf[0] - sf[1])
            sf[2] += ks * ((1.0 if self.contact[i] else 0.0) - sf[2])  # (one stage: ahead of the softness)
            tg = self._tg[i]
            tg[0], tg[1], tg[2] = lx, y, lz
            solved[i] = solve or (sf[1] > 1e-3 and SOFT_IK > 0.0)
        # soft knees: the body sinks so that each solved leg reaches its target at the softened length
        sink = 0.0
        for i, (_, kn, hip) in enumerate(_FEET):
            if solved[i]:
                sf = self._soft[i]  # (squared: near full reach the knee's bend grows as the root of the softness)
                d, g = _soft_sink(out, hip, kn, self._tg[i], SOFT_IK * sf[1] * sf[1])
                self._tg[i][3] = g
                d *= sf[2]
                if d > sink:
                    sink = d
        if sink > 0.0:
            for c in _ALL_Y:
                out[c] -= sink
            for i, (a, _, _) in enumerate(_FEET):  # a free foot the sink takes under the floor (or its step's
                low = FLOOR_Y + self._clear[i][1]  # clearance) is held there
                if not solved[i] and out[3 * a + 1] < low:
                    tg = self._tg[i]
                    tg[0], tg[1], tg[2], tg[3] = out[3 * a], low, out[3 * a + 2], math.inf
                    solved[i] = True
        for i, (a, kn, hip) in enumerate(_FEET):
            if solved[i]:
                tg = self._tg[i]
                tx, ty, tz = tg[0], tg[1], tg[2]
                h = 3 * hip
                vx, vy, vz = tx - out[h], ty - out[h + 1], tz - out[h + 2]
                d = math.sqrt(vx * vx + vy * vy + vz * vz)
                if d > tg[3]:  # a target past the soft length: the ankle stops short of it
                    f = tg[3] / d
                    tx, ty, tz = out[h] + f * vx, out[h + 1] + f * vy, out[h + 2] + f * vz
                _two_bone_ik(out, hip, kn, a, tx, ty, tz, bx, by, bz, True)
        return out


def _clocked(k: float, speed: float) -> float:
    """A one-pole glide's share per frame ``k`` on a clock running at ``speed`` frames a frame
    (the groove's: GLIDES_ON_GROOVE): ``1 - (1 - k) ** speed``, ``k`` itself at speed 1."""
    return k if speed == 1.0 else 1.0 - (1.0 - k) ** speed


def steps_of(mix: np.ndarray, footwork: np.ndarray | None, spreads: np.ndarray | None = None) -> float:
    """The post-processing's ``step_spread`` for a style mix: 0 (the feet stay planted) where the
    mix's footwork (the model's ``footwork`` metadata) is under ``FOOTWORK_MIN``; else the mix's
    measured spread (the model's ``step_spread`` metadata, `dancemuse calibrate --steps`: the
    weighted mean of the styles it lists), at most ``STEP_SPREAD``; ``STEP_SPREAD`` for a model
    without the tables or a mix of styles they do not list (``STEP_SPREAD`` 0: no footwork steps)."""
    if footwork is not None and footwork_of(mix, footwork) < FOOTWORK_MIN:
        return 0.0
    if spreads is None:
        return STEP_SPREAD
    s = step_spread_of(mix, spreads)
    return s if s < STEP_SPREAD else STEP_SPREAD  # (NaN: not listed)


def _front(o: list[float]) -> tuple[float, float, float]:
    """The body's front in the flat pose ``o`` (not unit length): the hip line (to the left)
    crossed with the torso's up (mid-hip to mid-shoulder)."""
    ex, ey, ez = o[33] - o[36], o[34] - o[37], o[35] - o[38]
    hx = 0.5 * (o[15] + o[18] - o[33] - o[36])
    hy = 0.5 * (o[16] + o[19] - o[34] - o[37])
    hz = 0.5 * (o[17] + o[20] - o[35] - o[38])
    return ey * hz - ez * hy, ez * hx - ex * hz, ex * hy - ey * hx


def _soft_sink(o: list[float], hip: int, knee: int, t: list[float], soft: float) -> tuple[float, float]:
    """(how far (m) the body sinks, the length (m) the leg is shown at) for the leg ``hip``-``knee``
    (its ankle the next joint) of the flat pose ``o`` to reach ``t`` softly (SOFT_IK): a hip-target
    distance ``d`` past ``reach - soft`` is shown as ``g = reach - soft * exp((reach - soft - d) /
    soft)``, never the full reach. What the leg lacks within its reach (``d - g`` with ``d`` taken
    at most ``reach``: at most ``soft / e``) the hips take up by moving down (over the cosine of the
    leg's slope, at least 0.5; the caller takes the planted share of it); the rest, and a target
    further out, the ankle stops short of. (0, inf) where the leg is bent further or reaches up."""
    if soft <= 0.0:
        return 0.0, math.inf
    h, k = 3 * hip, 3 * knee
    a = k + 6  # the ankle: two joints after the knee (13 -> 15, 14 -> 16)
    ux, uy, uz = o[k] - o[h], o[k + 1] - o[h + 1], o[k + 2] - o[h + 2]
    wx, wy, wz = o[a] - o[k], o[a + 1] - o[k + 1], o[a + 2] - o[k + 2]
    reach = math.sqrt(ux * ux + uy * uy + uz * uz) + math.sqrt(wx * wx + wy * wy + wz * wz)
    vx, vy, vz = t[0] - o[h], t[1] - o[h + 1], t[2] - o[h + 2]
    d = math.sqrt(vx * vx + vy * vy + vz * vz)
    start = reach - soft
    if d <= start or vy >= 0.0:
        return 0.0, math.inf
    dc = d if d < reach else reach
    short = dc - reach + soft * math.exp((start - dc) / soft)  # what the leg lacks within its reach
    cos = -vy / d
    return short / (cos if cos > 0.5 else 0.5), reach - soft * math.exp((start - d) / soft)


def _two_bone_ik(o: list[float], hip: int, knee: int, ankle: int, tx: float, ty: float, tz: float,
                 bx: float = 0.0, by: float = 0.0, bz: float = 0.0, side: bool = False) -> None:
    """Move ``ankle`` to (tx, ty, tz) keeping thigh and shin lengths, the knee bending in the
    plane it bends in now (with ``side``: to the side it bends to now, its offset across the
    hip-ankle line as it is), leaning by (bx, by, bz) (in place, flat pose ``o``)."""
    h, k, a = 3 * hip, 3 * knee, 3 * ankle
    # with side: the knee's offset across the leg's line as drawn, kept where the ankle is moved
    # far (a step), so the knee does not end up behind the new line, bent backward, and flip
    kx, ky, kz = o[k] - o[h], o[k + 1] - o[h + 1], o[k + 2] - o[h + 2]
    vx, vy, vz = o[a] - o[h], o[a + 1] - o[h + 1], o[a + 2] - o[h + 2]
    vn = vx * vx + vy * vy + vz * vz
    if side and vn > 1e-12:
        dot = (kx * vx + ky * vy + kz * vz) / vn
        kx, ky, kz = kx - dot * vx, ky - dot * vy, kz - dot * vz
    kx, ky, kz = kx + bx, ky + by, kz + bz
    l1 = math.dist(o[h: h + 3], o[k: k + 3])
    l2 = math.dist(o[k: k + 3], o[a: a + 3])
    dx, dy, dz = tx - o[h], ty - o[h + 1], tz - o[h + 2]
    d = math.sqrt(dx * dx + dy * dy + dz * dz)
    reach = l1 + l2 - 1e-6
    if d > reach:  # out of reach: stretch toward the target
        s = reach / d
        dx, dy, dz, d = dx * s, dy * s, dz * s, reach
    d = max(d, abs(l1 - l2) + 1e-6)
    ux, uy, uz = dx / d, dy / d, dz / d
    # that side, minus its part along hip->target: the bend plane
    dot = kx * ux + ky * uy + kz * uz
    px, py, pz = kx - dot * ux, ky - dot * uy, kz - dot * uz
    pn = math.sqrt(px * px + py * py + pz * pz)
    if pn < 1e-9:  # straight leg: bend forward (+z)
        px, py, pz, pn = 0.0, 0.0, 1.0, 1.0
    px, py, pz = px / pn, py / pn, pz / pn
    along = (l1 * l1 - l2 * l2 + d * d) / (2.0 * d)
    up = math.sqrt(max(l1 * l1 - along * along, 0.0))
    o[k] = o[h] + ux * along + px * up
    o[k + 1] = o[h + 1] + uy * along + py * up
    o[k + 2] = o[h + 2] + uz * along + pz * up
    o[a], o[a + 1], o[a + 2] = o[h] + ux * d, o[h + 1] + uy * d, o[h + 2] + uz * d
