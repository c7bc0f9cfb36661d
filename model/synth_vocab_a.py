"""Move vocabularies of house, hip-hop and ballet (see model/synth_moves.py for keys).

Each move pairs a footwork track (steps, kicks, knee lifts, turns, jumps, level changes)
with an arm/torso track. ``level`` 0 moves are for breaks and intros, 2 for drops and
fills.
"""

from __future__ import annotations

from typing import Any

from model.synth_moves import TAU, L, Move, U, move, seq, stance, sym

H = 0.5  # half a beat


def house() -> tuple[Move, ...]:
    pump_up = U(pitch=-0.08, hpitch=-0.15, **sym(0.14, 0.42, 0.12), lelb=0.5, relb=0.5)
    pump_dn = U(pitch=0.3, hpitch=0.2, **sym(0.12, -0.3, 0.3), lelb=0.7, relb=0.7)
    swing_l = U(twist=-0.3, roll=-0.08, lh=(0.0, -0.25, 0.35), rh=(-0.3, -0.3, -0.15), lelb=0.5)
    swing_r = U(twist=0.3, roll=0.08, rh=(0.0, -0.25, 0.35), lh=(0.3, -0.3, -0.15), relb=0.5)
    jack_in = U(pitch=0.32, hpitch=0.22, **sym(0.12, -0.38, 0.22), lelb=0.45, relb=0.45)
    jack_out = U(pitch=-0.1, hpitch=-0.05, **sym(0.08, -0.48, 0.05))
    wide = U(**sym(0.5, 0.05, 0.05), lelb=0.2, relb=0.2, hpitch=-0.1)
    return (
        move("jack", 2, seq(L(dy=-0.1, **stance(0.06), knees=0.3), L(dy=-0.02, knees=0.3), step=H),
             seq(jack_in, jack_out, step=H), uper=1),
        move("step_touch", 4,
             seq(L(dy=-0.05, **stance(0.0)), L(dy=-0.1, rf=(-0.24, 0.0, 0.0), sh=(-0.12, 0.0)),
                 L(dy=-0.04, lf=(-0.3, 0.05, 0.03), sh=(-0.26, 0.0)), L(dy=-0.1, lf=(0.0, 0.0, 0.0), sh=(-0.12, 0.0))),
             seq(U(**sym(0.1, -0.4, 0.2), lelb=0.4, relb=0.4), swing_r, U(**sym(0.05, -0.1, 0.35), lelb=0.9, relb=0.9),
                 swing_l)),
        move("side_shuffle", 8,
             seq(L(dy=-0.05, **stance(0.0)), L(dy=-0.1, go=(-0.22, 0.0), rf=(0.0, 0.0, 0.0), sh=(-0.08, 0.0)),
                 L(dy=-0.04, lf=(0.0, 0.0, 0.0)), L(dy=-0.1, go=(-0.22, 0.0), rf=(0.0, 0.0, 0.0), sh=(-0.08, 0.0)),
                 L(dy=-0.04, lf=(0.0, 0.0, 0.0)), L(dy=-0.1, go=(0.22, 0.0), lf=(0.0, 0.0, 0.0), sh=(0.08, 0.0)),
                 L(dy=-0.04, rf=(0.0, 0.0, 0.0)), L(dy=-0.1, go=(0.22, 0.0), lf=(0.0, 0.0, 0.0), sh=(0.08, 0.0))),
             seq(wide, U(**sym(0.2, -0.3, 0.25), lelb=0.6, relb=0.6, pitch=0.15), wide,
                 U(**sym(0.2, -0.3, 0.25), lelb=0.6, relb=0.6, pitch=0.15)), level=1, tags=("travel",), uper=4),
        move("kick_change", 4,
             seq(L(dy=-0.07, lf=(0.0, 0.0, 0.04)), L(dy=-0.01, lf=(0.03, 0.27, 0.4), sh=(-0.05, 0.0)),
                 L(dy=-0.08, lf=(0.0, 0.0, -0.12), sh=(0.0, -0.03)), L(dy=-0.06, rf=(0.0, 0.0, 0.04)),
                 L(dy=-0.01, rf=(-0.03, 0.27, 0.4), sh=(0.05, 0.0)), L(dy=-0.08, rf=(0.0, 0.0, -0.12), sh=(0.0, -0.03)),
                 start=0.0, step=1.0)[:1] + ((1.0, L(dy=-0.01, lf=(0.03, 0.27, 0.4), sh=(-0.05, 0.0))),
                 (1.5, L(dy=-0.08, lf=(0.0, 0.0, -0.12))), (2.0, L(dy=-0.06, rf=(0.0, 0.0, 0.04))),
                 (3.0, L(dy=-0.01, rf=(-0.03, 0.27, 0.4), sh=(0.05, 0.0))), (3.5, L(dy=-0.08, rf=(0.0, 0.0, -0.12)))),
             seq(pump_dn, U(pitch=-0.12, lh=(0.1, -0.45, -0.15), rh=(-0.05, -0.2, 0.35), relb=0.5), pump_dn,
                 U(pitch=-0.12, rh=(-0.1, -0.45, -0.15), lh=(0.05, -0.2, 0.35), lelb=0.5)), level=2, tags=("kick",)),
        move("spin", 4,
             seq(L(dy=-0.08, lf=(-0.11, 0.0, 0.0), rf=(-0.05, 0.0, 0.0)),
                 L(dy=-0.02, turn=TAU / 2, rf=(0.06, 0.14, 0.05), sh=(0.05, 0.0)),
                 L(dy=-0.06, turn=TAU / 2, rf=(0.0, 0.0, 0.0)), L(dy=-0.1, lf=(0.0, 0.0, 0.0))),
             seq(U(**sym(0.12, -0.3, 0.25), pitch=0.1), U(**sym(0.2, -0.05, 0.25), lelb=1.0, relb=1.0),
                 wide, pump_dn), level=2, tags=("turn",)),
        move("half_turn", 4,
             seq(L(dy=-0.08, lf=(-0.11, 0.0, 0.0)), L(dy=-0.03, turn=TAU / 4, rf=(0.0, 0.1, 0.0)),
                 L(dy=-0.08, turn=TAU / 4, rf=(0.0, 0.0, 0.0)), L(dy=-0.04, lf=(0.0, 0.0, 0.0))),
             seq(swing_l, wide, swing_r, pump_dn), level=1, tags=("turn",)),
        move("jumping_jack", 2,
             ((0.0, L(dy=-0.1, **stance(0.0))), (H, L(air=1.0, **stance(0.12, 0.1))), (1.0, L(dy=-0.12, **stance(0.22))),
              (1 + H, L(air=1.0, **stance(0.1, 0.1)))),
             seq(U(**sym(0.08, -0.45, 0.1)), U(**sym(0.3, 0.3, 0.05)), U(**sym(0.2, 0.45, 0.05), hpitch=-0.2),
                 U(**sym(0.3, 0.0, 0.1)), step=H), level=2, tags=("jump",)),
        move("knee_lift", 2,
             seq(L(dy=-0.02, lf=(0.0, 0.3, 0.22), sh=(-0.04, 0.0)), L(dy=-0.08, lf=(0.0, 0.0, 0.0)),
                 L(dy=-0.02, rf=(0.0, 0.3, 0.22), sh=(0.04, 0.0)), L(dy=-0.08, rf=(0.0, 0.0, 0.0)), step=H),
             seq(U(pitch=0.15, lh=(0.1, -0.45, -0.2), rh=(-0.05, 0.1, 0.35), relb=0.8), pump_dn,
                 U(pitch=0.15, rh=(-0.1, -0.45, -0.2), lh=(0.05, 0.1, 0.35), lelb=0.8), pump_dn, step=H),
             level=2, tags=("kick",)),
        move("cross_walk", 8,
             seq(L(dy=-0.05, **stance(0.0)), L(dy=-0.1, go=(0.0, 0.16), lf=(-0.12, 0.0, 0.0)),
                 L(dy=-0.05, go=(0.0, 0.16), rf=(0.0, 0.0, 0.0)), L(dy=-0.1, go=(0.0, 0.16), lf=(-0.12, 0.0, 0.0)),
                 L(dy=-0.05, rf=(0.0, 0.0, 0.0), lf=(0.0, 0.0, 0.0)), L(dy=-0.1, go=(0.0, -0.16), rf=(0.12, 0.0, 0.0)),
                 L(dy=-0.05, go=(0.0, -0.16), lf=(0.0, 0.0, 0.0)), L(dy=-0.1, go=(0.0, -0.16), rf=(0.0, 0.0, 0.0))),
             seq(swing_r, jack_out, swing_l, jack_out), tags=("travel",), uper=4),
        move("toe_taps", 4,
             seq(L(dy=-0.06, lf=(0.03, 0.03, 0.25), sh=(-0.04, 0.0)), L(dy=-0.09, lf=(0.0, 0.0, 0.0)),
                 L(dy=-0.06, rf=(-0.03, 0.03, 0.25), sh=(0.04, 0.0)), L(dy=-0.09, rf=(0.0, 0.0, 0.0))),
             seq(pump_up, pump_dn, step=1.0), uper=2),
        move("sway", 4, seq(L(dy=-0.03, lf=(0.15, 0.0, 0.0), sh=(0.07, 0.0)), L(dy=-0.05, lf=(0.03, 0.0, 0.02), sh=(-0.02, 0.0)),
                            step=2.0),
             seq(U(roll=0.06, **sym(0.1, -0.45, 0.12), hroll=0.1), U(roll=-0.06, **sym(0.1, -0.45, 0.12), hroll=-0.1),
                 step=2.0), level=0),
        move("rock_step", 4,  # (variety data sets only, see model/synth_plan.py)
             seq(L(dy=-0.04, lf=(0.0, 0.0, 0.12), sh=(0.0, 0.05)), L(dy=-0.07),
                 L(dy=-0.04, lf=(0.0, 0.0, -0.08), sh=(0.0, -0.04)), L(dy=-0.07, lf=(0.0, 0.0, 0.0))),
             seq(U(pitch=0.06, **sym(0.08, -0.3, 0.3), lelb=0.8, relb=0.8), U(**sym(0.12, -0.42, 0.15), lelb=0.5, relb=0.5),
                 U(pitch=-0.04, **sym(0.1, -0.35, 0.05), lelb=0.6, relb=0.6), U(**sym(0.12, -0.42, 0.15), lelb=0.5, relb=0.5)),
             level=0, tags=("variety",)),
    )


def hiphop() -> tuple[Move, ...]:
    bent: dict[str, Any] = {"lelb": 0.8, "relb": 0.8}
    rock_a = U(roll=0.16, hpitch=0.25, **sym(0.15, -0.25, 0.25), **bent)
    rock_b = U(roll=-0.16, hpitch=-0.05, **sym(0.12, -0.3, 0.22), **bent)
    swing_a = U(twist=-0.4, lh=(-0.25, -0.15, 0.35), rh=(-0.15, -0.45, -0.2), hyaw=-0.3, lelb=0.6)
    swing_b = U(twist=0.4, rh=(0.25, -0.15, 0.35), lh=(0.15, -0.45, -0.2), hyaw=0.3, relb=0.6)
    mid = U(pitch=0.12, **sym(0.1, -0.35, 0.15))
    return (
        move("bounce_rock", 2, seq(L(dy=-0.12, lf=(0.13, 0.0, 0.0), sh=(0.05, 0.0)), L(dy=-0.04, lf=(0.02, 0.0, 0.03), sh=(-0.03, 0.0))),
             seq(rock_a, rock_b), level=0),
        move("two_step", 4,
             seq(L(dy=-0.12, **stance(0.04)), L(dy=-0.05, rf=(-0.22, 0.0, 0.06), sh=(-0.09, 0.0)),
                 L(dy=-0.12, rf=(-0.04, 0.0, 0.0), sh=(0.0, 0.0)), L(dy=-0.05, lf=(0.22, 0.0, 0.06), sh=(0.09, 0.0))),
             seq(mid, U(twist=0.35, lh=(-0.15, -0.2, 0.35), rh=(-0.2, -0.45, -0.1), hpitch=0.2), mid,
                 U(twist=-0.35, rh=(0.15, -0.2, 0.35), lh=(0.2, -0.45, -0.1), hpitch=0.2))),
        move("kick_out", 4,
             seq(L(dy=-0.12, **stance(0.04)), L(dy=-0.05, lf=(0.32, 0.16, 0.05), sh=(-0.05, 0.0)),
                 L(dy=-0.12, lf=(0.04, 0.0, 0.0)), L(dy=-0.05, rf=(-0.32, 0.16, 0.05), sh=(0.05, 0.0))),
             seq(U(hpitch=0.2, **sym(0.12, -0.3, 0.2)), U(roll=-0.15, lh=(0.5, -0.05, 0.1), rh=(-0.1, -0.25, 0.3)),
                 U(hpitch=0.2, **sym(0.12, -0.3, 0.2)), U(roll=0.15, rh=(-0.5, -0.05, 0.1), lh=(0.1, -0.25, 0.3))),
             level=2, tags=("kick",)),
        move("walk_it_out", 8,
             seq(L(dy=-0.1, **stance(0.03)), L(dy=-0.04, go=(0.0, 0.14), lf=(0.0, 0.0, 0.0), sh=(0.04, 0.0)),
                 L(dy=-0.1, go=(0.0, 0.14), rf=(0.0, 0.0, 0.0), sh=(-0.04, 0.0)),
                 L(dy=-0.04, go=(0.0, 0.14), lf=(0.0, 0.0, 0.0), sh=(0.04, 0.0)),
                 L(dy=-0.1, go=(0.0, -0.14), rf=(0.0, 0.0, 0.0), sh=(-0.04, 0.0)),
                 L(dy=-0.04, go=(0.0, -0.14), lf=(0.0, 0.0, 0.0), sh=(0.04, 0.0)),
                 L(dy=-0.1, go=(0.0, -0.14), rf=(0.0, 0.0, 0.0), sh=(-0.04, 0.0)), L(dy=-0.04, lf=(0.0, 0.0, 0.0))),
             seq(swing_a, mid, swing_b, mid), tags=("travel",), uper=4),
        move("shoulder_bounce", 2, seq(L(dy=-0.13, **stance(0.1)), L(dy=-0.05), step=1.0),
             seq(U(pitch=0.25, hpitch=0.3, **sym(0.05, -0.15, 0.25), lelb=1.0, relb=1.0),
                 U(pitch=0.05, **sym(0.08, -0.05, 0.2), lelb=1.0, relb=1.0)), level=0),
        move("running_man", 2,
             seq(L(dy=-0.04, lf=(0.0, 0.3, 0.2)), L(dy=-0.12, lf=(0.0, 0.0, 0.1), rf=(0.0, 0.06, -0.16)),
                 L(dy=-0.04, rf=(0.0, 0.3, 0.2)), L(dy=-0.12, rf=(0.0, 0.0, 0.1), lf=(0.0, 0.06, -0.16)), step=H),
             seq(U(pitch=0.2, **sym(0.12, -0.2, 0.3), **bent), U(pitch=0.05, **sym(0.15, -0.4, -0.05)), step=H),
             level=2, tags=("kick",), uper=1),
        move("spin_drop", 4,
             seq(L(dy=-0.1, lf=(-0.11, 0.0, 0.0)), L(dy=-0.03, turn=TAU / 2, rf=(0.06, 0.12, 0.04)),
                 L(dy=-0.1, turn=TAU / 2, **stance(0.2)), L(dy=-0.36, knees=0.6)),
             seq(mid, U(**sym(0.18, -0.05, 0.25), lelb=1.0, relb=1.0), U(**sym(0.4, -0.2, 0.2)),
                 U(pitch=0.35, hpitch=0.3, **sym(0.2, -0.55, 0.3), lelb=0.6, relb=0.6)), level=2, tags=("turn", "level")),
        move("hop_squat", 4,
             ((0.0, L(dy=-0.12, **stance(0.05))), (H, L(air=1.0, **stance(0.14, 0.1))),
              (1.0, L(dy=-0.3, **stance(0.24), knees=0.6)), (2.0, L(dy=-0.34, knees=0.6)),
              (3.0, L(dy=-0.08, lf=(0.05, 0.0, 0.0)))),
             seq(mid, U(pitch=0.3, **sym(0.3, -0.35, 0.3), **bent), U(pitch=0.4, hpitch=0.3, **sym(0.2, -0.5, 0.3)),
                 swing_a), level=2, tags=("jump", "level")),
        move("cross_rock", 4,
             seq(L(dy=-0.1, **stance(0.05)), L(dy=-0.06, lf=(-0.2, 0.0, 0.16), sh=(-0.03, 0.05)),
                 L(dy=-0.1, lf=(0.05, 0.0, 0.0)), L(dy=-0.06, rf=(0.2, 0.0, 0.16), sh=(0.03, 0.05))),
             seq(U(**sym(0.35, -0.2, 0.2)), swing_b, U(**sym(0.35, -0.2, 0.2)), swing_a)),
        move("dougie", 4,
             seq(L(dy=-0.08, **stance(0.12), sh=(0.08, 0.0)), L(dy=-0.12, sh=(0.0, 0.0)),
                 L(dy=-0.08, sh=(-0.08, 0.0)), L(dy=-0.12, sh=(0.0, 0.0))),
             seq(U(roll=-0.25, lh=(0.05, 0.45, 0.05), rh=(-0.15, -0.3, 0.2), relb=0.7), mid,
                 U(roll=0.25, rh=(-0.05, 0.45, 0.05), lh=(0.15, -0.3, 0.2), lelb=0.7), mid)),
        move("arm_swing", 4, seq(L(dy=-0.1, lf=(0.12, 0.0, 0.05)), L(dy=-0.03, lf=(0.03, 0.0, 0.0)),
                                 L(dy=-0.1, rf=(-0.12, 0.0, 0.05)), L(dy=-0.03, rf=(-0.03, 0.0, 0.0))),
             seq(swing_a, mid, swing_b, mid), level=0, uper=4),
    )


def ballet() -> tuple[Move, ...]:
    first: dict[str, Any] = {"lf": (-0.06, 0.0, 0.03), "rf": (0.06, 0.0, 0.03)}
    bras_bas = U(**sym(0.1, -0.45, 0.15), lelb=0.5, relb=0.5, hpitch=0.15)
    first_pos = U(**sym(0.12, -0.22, 0.32), lelb=0.6, relb=0.6, pitch=0.05)
    second = U(**sym(0.5, -0.05, 0.08), lelb=0.3, relb=0.3)
    fifth = U(**sym(0.1, 0.5, 0.08), lelb=0.5, relb=0.5, hpitch=-0.25, pitch=-0.12)
    return (
        move("port_de_bras", 6, seq(L(dy=-0.06, **first, knees=0.6), L(dy=0.0, knees=0.6), step=3.0),
             seq(bras_bas, first_pos, U(**sym(0.5, -0.05, 0.08), hyaw=0.35, roll=0.1), fifth,
                 U(**sym(0.5, 0.0, 0.05), hyaw=-0.35, roll=-0.12), U(**sym(0.14, -0.35, 0.2), pitch=0.25, hpitch=0.2)),
             level=0),
        move("balance", 6,
             seq(L(dy=-0.1, lf=(0.2, 0.0, 0.0), sh=(0.12, 0.0)), L(dy=0.0, rf=(0.12, 0.04, -0.06), sh=(0.08, 0.0)),
                 L(dy=-0.03, lf=(0.2, 0.0, 0.03)), L(dy=-0.1, rf=(-0.2, 0.0, 0.0), sh=(-0.12, 0.0)),
                 L(dy=0.0, lf=(-0.12, 0.04, -0.06), sh=(-0.08, 0.0)), L(dy=-0.03, rf=(-0.2, 0.0, 0.03))),
             seq(U(roll=0.12, lh=(0.5, -0.05, 0.1), rh=(-0.12, -0.25, 0.3), hyaw=0.35),
                 U(roll=0.08, lh=(0.5, 0.05, 0.1), rh=(-0.12, -0.2, 0.3)), U(roll=0.04, lh=(0.45, 0.0, 0.1), rh=(-0.15, -0.25, 0.28)),
                 U(roll=-0.12, rh=(-0.5, -0.05, 0.1), lh=(0.12, -0.25, 0.3), hyaw=-0.35),
                 U(roll=-0.08, rh=(-0.5, 0.05, 0.1), lh=(0.12, -0.2, 0.3)), U(roll=-0.04, rh=(-0.45, 0.0, 0.1), lh=(0.15, -0.25, 0.28)))),
        move("arabesque", 6,
             seq(L(dy=-0.06, lf=(-0.06, 0.0, 0.0), sh=(0.0, 0.0), knees=0.4), L(rf=(0.0, 0.14, -0.25), sh=(-0.05, 0.0), knees=0.4),
                 L(rf=(0.02, 0.38, -0.45), sh=(-0.1, 0.04), knees=0.4), L(rf=(0.02, 0.42, -0.45), sh=(-0.1, 0.04), knees=0.4),
                 L(rf=(0.0, 0.15, -0.2), sh=(-0.05, 0.0), knees=0.4), L(dy=-0.08, rf=(0.05, 0.0, 0.0), knees=0.4)),
             seq(first_pos, U(pitch=0.15, lh=(0.05, 0.1, 0.45), rh=(-0.45, 0.0, 0.0)),
                 U(pitch=0.38, lh=(0.05, 0.25, 0.5), rh=(-0.5, 0.05, -0.1), hpitch=-0.3),
                 U(pitch=0.42, lh=(0.05, 0.3, 0.5), rh=(-0.5, 0.1, -0.1), hpitch=-0.35),
                 U(pitch=0.15, lh=(0.3, -0.05, 0.3), rh=(-0.35, -0.1, 0.1)), bras_bas), tags=("kick",)),
        move("pirouette", 3,
             seq(L(dy=-0.12, lf=(-0.11, 0.0, 0.02), rf=(-0.02, 0.0, -0.1), knees=0.6),
                 L(dy=0.02, turn=TAU, rf=(0.09, 0.38, 0.06), knees=0.7), L(dy=-0.06, rf=(0.0, 0.0, 0.02), knees=0.6)),
             seq(first_pos, U(**sym(0.1, -0.15, 0.3), lelb=0.8, relb=0.8), second), level=2, tags=("turn",)),
        move("soutenu", 6,
             seq(L(dy=-0.08, lf=(-0.11, 0.0, 0.0)), L(dy=0.02, turn=TAU / 4, rf=(0.0, 0.05, 0.0)),
                 L(dy=0.02, turn=TAU / 4, rf=(0.02, 0.04, 0.02)), L(dy=-0.08, rf=(0.0, 0.0, 0.0)),
                 L(dy=0.02, turn=-TAU / 4, lf=(0.0, 0.05, 0.0)), L(dy=0.02, turn=-TAU / 4, lf=(0.0, 0.0, 0.0))),
             seq(first_pos, fifth, fifth, second, fifth, bras_bas), tags=("turn",)),
        move("tendu", 6,
             seq(L(**first, knees=0.5), L(rf=(0.0, 0.045, 0.38), knees=0.5), L(dy=-0.06, rf=(0.06, 0.0, 0.03), knees=0.5),
                 L(rf=(-0.36, 0.045, 0.0), knees=0.5), L(dy=-0.06, rf=(0.06, 0.0, 0.03), knees=0.5),
                 L(rf=(0.0, 0.06, -0.38), knees=0.5)),
             seq(second, U(**sym(0.5, 0.0, 0.05), hyaw=-0.2), second, U(roll=0.08, **sym(0.5, 0.0, 0.05), hyaw=-0.4),
                 second, U(pitch=0.1, lh=(0.1, 0.5, 0.08), rh=(-0.5, 0.0, 0.05)))),
        move("plie_releve", 3,
             seq(L(dy=-0.2, **stance(0.12), knees=0.8), L(dy=0.05, **stance(0.12, 0.05), knees=0.5),
                 L(dy=-0.02, **stance(0.12), knees=0.6)),
             seq(first_pos, fifth, second), level=0, tags=("level",)),
        move("grand_jete", 6,
             ((0.0, L(dy=-0.05, **stance(0.0))), (1.0, L(dy=-0.14, go=(0.0, 0.1), rf=(0.0, 0.0, 0.0))),
              (1.5, L(air=1.0, go=(0.0, 0.2), lf=(0.0, 0.25, 0.38), rf=(0.0, 0.3, -0.4))),
              (2.0, L(dy=-0.12, lf=(0.0, 0.0, 0.0), rf=(0.0, 0.2, -0.3))), (3.0, L(dy=-0.02, rf=(0.0, 0.0, 0.0))),
              (4.0, L(dy=-0.05, go=(0.0, -0.15), lf=(0.0, 0.0, 0.0))), (5.0, L(dy=-0.03, go=(0.0, -0.15), rf=(0.0, 0.0, 0.0)))),
             seq(first_pos, first_pos, U(pitch=0.1, lh=(0.05, 0.3, 0.45), rh=(-0.5, 0.1, -0.1)), second, fifth, bras_bas),
             level=2, tags=("jump", "travel")),
        move("developpe", 6,
             seq(L(**first, knees=0.5), L(rf=(0.1, 0.32, 0.08), sh=(0.04, 0.0), knees=0.6),
                 L(rf=(-0.05, 0.5, 0.45), sh=(0.06, -0.04), knees=0.5), L(rf=(-0.05, 0.52, 0.47), sh=(0.06, -0.04), knees=0.5),
                 L(rf=(0.0, 0.15, 0.2), knees=0.5), L(dy=-0.08, rf=(0.06, 0.0, 0.03), knees=0.5)),
             seq(first_pos, U(**sym(0.12, -0.1, 0.35)), U(lh=(0.1, 0.5, 0.08), rh=(-0.5, 0.0, 0.05), hpitch=-0.2),
                 U(lh=(0.1, 0.5, 0.08), rh=(-0.5, 0.05, 0.05), hpitch=-0.25), second, bras_bas), tags=("kick",)),
        move("bourree", 2,
             seq(L(dy=0.03, lf=(0.0, 0.05, 0.04), rf=(0.0, 0.05, 0.0)), L(dy=0.03, rf=(-0.04, 0.06, 0.0)),
                 L(dy=0.03, lf=(0.04, 0.05, 0.0)), L(dy=0.03, rf=(0.0, 0.06, 0.04)), step=H),
             seq(fifth, second, step=1.0), level=1),
        move("glissade", 6,
             seq(L(dy=-0.1, **first), L(dy=0.0, go=(0.2, 0.0), lf=(0.0, 0.0, 0.0)), L(dy=-0.08, rf=(0.0, 0.0, 0.0)),
                 L(dy=-0.1, go=(-0.2, 0.0), rf=(0.0, 0.0, 0.0)), L(dy=0.0, lf=(0.0, 0.0, 0.0)), L(dy=-0.05, **first)),
             seq(first_pos, second, U(roll=0.1, lh=(0.5, 0.1, 0.1), rh=(-0.1, 0.5, 0.1)), first_pos, second,
                 U(roll=-0.1, rh=(-0.5, 0.1, 0.1), lh=(0.1, 0.5, 0.1))), tags=("travel",)),
    )
