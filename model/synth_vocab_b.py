"""Move vocabularies of popping, locking and contemporary (see model/synth_moves.py).

Popping and locking run on the "hit" / "snap" easing: a hold, then a fast move that
stops on the beat; the choreographer adds the popping hit (a fast tense-and-release of
chest, arms and knees) on top. Contemporary flows, with level changes and spirals.
"""

from __future__ import annotations

from model.synth_moves import TAU, L, Move, U, move, seq, stance, sym

H = 0.5


def popping() -> tuple[Move, ...]:
    box = U(**sym(0.12, -0.28, 0.28), lelb=0.9, relb=0.9, pitch=0.08)
    return (
        move("fresno", 4,
             seq(L(dy=-0.04, **stance(0.02)), L(dy=-0.07, lf=(0.16, 0.0, 0.0), sh=(0.1, 0.0)),
                 L(dy=-0.04, lf=(0.02, 0.0, 0.0), sh=(0.0, 0.0)), L(dy=-0.07, rf=(-0.16, 0.0, 0.0), sh=(-0.1, 0.0))),
             seq(box, U(roll=-0.12, lh=(0.3, 0.26, 0.0), lelb=1.3, rh=(-0.12, -0.3, 0.18), hyaw=0.4), box,
                 U(roll=0.12, rh=(-0.3, 0.26, 0.0), relb=1.3, lh=(0.12, -0.3, 0.18), hyaw=-0.4))),
        move("robot", 4, seq(L(dy=-0.03, **stance(0.06)), L(dy=-0.06), step=2.0),
             seq(U(lh=(0.12, -0.28, 0.28), rh=(-0.2, 0.08, 0.18), relb=1.2, twist=0.3, hyaw=0.5), box,
                 U(rh=(-0.12, -0.28, 0.28), lh=(0.2, 0.08, 0.18), lelb=1.2, twist=-0.3, hyaw=-0.5), box), level=0),
        move("arm_wave", 4, seq(L(dy=-0.03, **stance(0.08), sh=(0.04, 0.0)), L(dy=-0.06, sh=(-0.04, 0.0)), step=2.0),
             seq(U(lh=(0.52, 0.08, 0.0), rh=(-0.12, 0.0, 0.15), relb=1.2, roll=0.1, hroll=0.2),
                 U(lh=(0.45, 0.0, 0.1), rh=(-0.45, 0.0, 0.1), lelb=0.6, relb=0.6),
                 U(rh=(-0.52, 0.08, 0.0), lh=(0.12, 0.0, 0.15), lelb=1.2, roll=-0.1, hroll=-0.2),
                 U(lh=(0.45, 0.0, 0.1), rh=(-0.45, 0.0, 0.1), lelb=0.6, relb=0.6)), level=0, ease="flow"),
        move("dime_stop", 8,
             seq(L(**stance(0.0)), L(go=(0.2, 0.0), lf=(0.0, 0.0, 0.0), sh=(-0.06, 0.0)), L(dy=-0.05, rf=(0.0, 0.0, 0.0)),
                 L(dy=-0.02), L(go=(-0.2, 0.0), rf=(0.0, 0.0, 0.0), sh=(0.06, 0.0)), L(dy=-0.05, lf=(0.0, 0.0, 0.0)),
                 L(dy=-0.02), L(dy=-0.06)),
             seq(box, U(lh=(0.45, -0.1, 0.1), rh=(0.1, -0.2, 0.3), twist=-0.2, hyaw=0.6),
                 U(**sym(0.15, -0.25, 0.2), pitch=0.18), U(**sym(0.1, -0.35, 0.25), hpitch=0.2),
                 U(rh=(-0.45, -0.1, 0.1), lh=(-0.1, -0.2, 0.3), twist=0.2, hyaw=-0.6),
                 U(**sym(0.15, -0.25, 0.2), pitch=0.18), U(**sym(0.1, -0.35, 0.25), hpitch=0.2), box),
             tags=("travel",)),
        move("tick_hits", 2, seq(L(dy=-0.08, rf=(0.0, 0.06, 0.1)), L(dy=-0.02, rf=(0.0, 0.0, 0.0))),
             seq(U(pitch=0.14, **sym(0.1, -0.2, 0.3), lelb=0.9, relb=0.9), U(**sym(0.16, -0.36, 0.14), hpitch=0.15))),
        move("boogaloo", 4,
             seq(L(dy=-0.06, **stance(0.14), sh=(0.07, 0.0), knees=0.6), L(dy=-0.12, sh=(0.0, 0.06), knees=0.2),
                 L(dy=-0.06, sh=(-0.07, 0.0), knees=0.6), L(dy=-0.02, sh=(0.0, -0.06), knees=0.2)),
             seq(U(roll=0.15, **sym(0.2, -0.3, 0.12)), U(pitch=0.12, **sym(0.15, -0.25, 0.2), hroll=0.2),
                 U(roll=-0.15, **sym(0.2, -0.3, 0.12)), U(pitch=-0.12, **sym(0.15, -0.35, 0.05), hroll=-0.2)),
             ease="smooth"),
        move("twist_o_flex", 8,
             seq(L(**stance(0.04)), L(turn=TAU / 4, dy=-0.06), L(turn=-TAU / 4), L(turn=-TAU / 4, dy=-0.06),
                 L(turn=TAU / 4), L(dy=-0.08, lf=(0.12, 0.0, 0.0)), L(dy=-0.02, lf=(0.04, 0.0, 0.0)), L(dy=-0.08)),
             seq(box, U(lh=(0.4, 0.1, 0.1), rh=(-0.1, -0.2, 0.3), relb=1.1), box,
                 U(rh=(-0.4, 0.1, 0.1), lh=(0.1, -0.2, 0.3), lelb=1.1), box, U(**sym(0.45, 0.0, 0.1)), box,
                 U(**sym(0.1, 0.3, 0.2), lelb=1.2, relb=1.2)), level=2, tags=("turn",)),
        move("pop_walk", 8,
             seq(L(**stance(0.02)), L(dy=-0.06, go=(0.0, 0.15), lf=(0.0, 0.0, 0.0)),
                 L(dy=-0.02, go=(0.0, 0.15), rf=(0.0, 0.0, 0.0)), L(dy=-0.06, go=(0.0, 0.15), lf=(0.0, 0.0, 0.0)),
                 L(dy=-0.02, rf=(0.0, 0.0, 0.0)), L(dy=-0.06, go=(0.0, -0.15), lf=(0.0, 0.0, 0.0)),
                 L(dy=-0.02, go=(0.0, -0.15), rf=(0.0, 0.0, 0.0)), L(dy=-0.06, go=(0.0, -0.15), lf=(0.0, 0.0, 0.0))),
             seq(box, U(twist=0.25, lh=(-0.05, -0.2, 0.35), rh=(-0.2, -0.45, -0.1), lelb=1.0), box,
                 U(twist=-0.25, rh=(0.05, -0.2, 0.35), lh=(0.2, -0.45, -0.1), relb=1.0)), tags=("travel",), uper=4),
        move("knee_pops", 2, seq(L(dy=-0.1, **stance(0.08), knees=0.5), L(dy=-0.02, knees=0.1), step=H),
             seq(box, U(**sym(0.3, -0.1, 0.25), lelb=1.2, relb=1.2, pitch=-0.05), U(lh=(0.4, 0.25, 0.0), lelb=1.2), box, step=H),
             uper=2),
        move("hit_squat", 4,
             seq(L(dy=-0.04, **stance(0.16)), L(dy=-0.32, knees=0.7), L(dy=-0.3, knees=0.7), L(dy=-0.06)),
             seq(box, U(pitch=0.3, **sym(0.35, -0.3, 0.25), lelb=1.0, relb=1.0, hpitch=0.2),
                 U(pitch=0.2, lh=(0.45, 0.1, 0.1), rh=(-0.1, -0.3, 0.3)), U(**sym(0.2, 0.2, 0.2), lelb=1.2, relb=1.2)),
             level=2, tags=("level",)),
    )


def locking() -> tuple[Move, ...]:
    lock = U(pitch=0.25, hpitch=0.2, **sym(0.08, -0.08, 0.28), lelb=1.1, relb=1.1)
    open_ = U(pitch=-0.1, **sym(0.45, 0.1, 0.1), lelb=0.2, relb=0.2, hpitch=-0.1)
    point_l = U(roll=-0.15, lh=(0.38, 0.32, 0.25), rh=(-0.1, -0.1, 0.3), relb=1.0, lelb=0.0, hyaw=0.5)
    point_r = U(roll=0.15, rh=(-0.38, 0.32, 0.25), lh=(0.1, -0.1, 0.3), lelb=1.0, relb=0.0, hyaw=-0.5)
    return (
        move("point", 4,
             seq(L(dy=-0.1, **stance(0.04)), L(dy=-0.04, lf=(0.14, 0.0, 0.1), sh=(0.05, 0.03)),
                 L(dy=-0.1, lf=(0.04, 0.0, 0.0)), L(dy=-0.04, rf=(-0.14, 0.0, 0.1), sh=(-0.05, 0.03))),
             seq(lock, point_l, lock, point_r)),
        move("lock", 4, seq(L(dy=-0.18, **stance(0.12), knees=0.5), L(dy=-0.18, knees=0.5), L(dy=-0.02), L(dy=-0.06)),
             seq(lock, lock, open_, U(**sym(0.04, -0.1, 0.4), lelb=0.9, relb=0.9)), tags=("accent",)),
        move("wrist_roll", 2,
             seq(L(dy=-0.08, lf=(0.06, 0.0, 0.0), sh=(0.04, 0.0)), L(dy=-0.08, rf=(-0.06, 0.0, 0.0), sh=(-0.04, 0.0)), step=1.0),
             seq(U(**sym(0.1, -0.1, 0.32), lelb=1.0, relb=1.0), U(**sym(0.12, 0.02, 0.3), lelb=1.0, relb=1.0),
                 U(**sym(0.14, -0.05, 0.22), lelb=1.0, relb=1.0), U(**sym(0.12, -0.16, 0.28), lelb=1.0, relb=1.0), step=H),
             level=0, ease="smooth"),
        move("scooby_doo", 2,
             seq(L(dy=-0.04, lf=(0.0, 0.32, 0.18)), L(dy=-0.1, lf=(0.0, 0.0, 0.0)), L(dy=-0.02, rf=(0.0, 0.22, 0.4)),
                 L(dy=-0.1, rf=(0.0, 0.0, 0.0)), step=H),
             seq(U(pitch=0.1, lh=(0.2, -0.2, -0.2), rh=(-0.2, -0.2, -0.2)), lock, U(pitch=-0.1, **sym(0.3, 0.3, 0.2)), lock,
                 step=H), level=2, tags=("kick",)),
        move("stop_and_go", 8,
             seq(L(dy=-0.08, **stance(0.02)), L(dy=-0.04, go=(0.0, 0.15), lf=(0.0, 0.0, 0.0)),
                 L(dy=-0.08, go=(0.0, 0.15), rf=(0.0, 0.0, 0.0)), L(dy=-0.2, **stance(0.12), knees=0.5),
                 L(dy=-0.04, go=(0.0, -0.15), lf=(0.0, 0.0, 0.0)), L(dy=-0.08, go=(0.0, -0.15), rf=(0.0, 0.0, 0.0)),
                 L(dy=-0.2, **stance(0.12), knees=0.5), L(dy=-0.06, **stance(0.02))),
             seq(open_, point_l, open_, lock, point_r, open_, lock, open_), tags=("travel", "accent")),
        move("knee_drop", 4,
             seq(L(dy=-0.06, **stance(0.04)), L(dy=-0.45, rf=(0.0, 0.0, -0.2), lf=(0.0, 0.0, 0.12), knees=0.3),
                 L(dy=-0.45, knees=0.3), L(dy=-0.05, **stance(0.04))),
             seq(open_, U(pitch=0.3, lh=(0.4, -0.4, 0.2), rh=(-0.1, -0.1, 0.3), relb=1.0),
                 U(pitch=0.1, lh=(0.1, 0.45, 0.1), rh=(-0.4, 0.2, 0.1)), lock), level=2, tags=("level",)),
        move("up_lock", 4, seq(L(dy=-0.04, **stance(0.08)), L(dy=0.0), L(dy=-0.16, knees=0.5), L(dy=-0.16, knees=0.5)),
             seq(lock, U(**sym(0.25, 0.45, 0.1), lelb=0.1, relb=0.1, hpitch=-0.25, pitch=-0.12),
                 lock, U(**sym(0.06, -0.2, 0.3), lelb=1.2, relb=1.2, pitch=0.3)), tags=("accent",)),
        move("skeeter_rabbit", 2,
             ((0.0, L(dy=-0.1, **stance(0.02))), (H, L(air=1.0, lf=(0.0, 0.22, 0.3), rf=(0.0, 0.1, -0.05))),
              (1.0, L(dy=-0.1, **stance(0.02))), (1 + H, L(air=1.0, rf=(0.0, 0.22, 0.3), lf=(0.0, 0.1, -0.05)))),
             seq(lock, U(pitch=-0.1, lh=(0.3, 0.2, 0.3), rh=(-0.3, -0.3, -0.1)), lock,
                 U(pitch=-0.1, rh=(-0.3, 0.2, 0.3), lh=(0.3, -0.3, -0.1)), step=H), level=2, tags=("jump", "kick")),
        move("pacing", 4, seq(L(dy=-0.06, lf=(0.0, 0.0, 0.06)), L(dy=-0.06, rf=(0.0, 0.0, 0.06)), step=2.0),
             seq(U(twist=0.2, lh=(0.05, -0.4, 0.2), rh=(-0.05, -0.45, -0.15)),
                 U(twist=-0.2, rh=(-0.05, -0.4, 0.2), lh=(0.05, -0.45, -0.15)), step=2.0), level=0, ease="smooth"),
        move("lock_turn", 4,
             seq(L(dy=-0.08, lf=(-0.11, 0.0, 0.0)), L(dy=-0.02, turn=TAU / 2, rf=(0.05, 0.1, 0.04)),
                 L(dy=-0.2, rf=(0.0, 0.0, 0.0), knees=0.5), L(dy=-0.2, knees=0.5)),
             seq(open_, U(**sym(0.2, 0.0, 0.25), lelb=1.0, relb=1.0), lock, lock), level=2, tags=("turn", "accent")),
        move("clap_point", 4,
             seq(L(dy=-0.1, **stance(0.06)), L(dy=-0.03), L(dy=-0.1), L(dy=-0.03, lf=(0.1, 0.0, 0.08)), step=1.0),
             seq(U(**sym(0.03, -0.05, 0.38), lelb=0.9, relb=0.9, pitch=0.15), point_l,
                 U(**sym(0.03, -0.05, 0.38), lelb=0.9, relb=0.9, pitch=0.15), U(lh=(0.3, -0.4, 0.3), rh=(-0.1, 0.4, 0.2)))),
    )


def contemporary() -> tuple[Move, ...]:
    reach_up = U(pitch=-0.2, hpitch=-0.35, lh=(0.15, 0.52, 0.1), rh=(-0.4, 0.2, -0.1), lelb=0.2)
    curl = U(pitch=0.55, hpitch=0.45, **sym(0.1, -0.35, 0.3), lelb=0.9, relb=0.9, twist=0.1)
    wide = U(pitch=-0.15, **sym(0.52, 0.05, -0.05), lelb=0.2, relb=0.2, hpitch=-0.2)
    return (
        move("spiral", 4,
             seq(L(dy=-0.1, **stance(0.14), sh=(0.08, 0.0)), L(dy=-0.18, sh=(-0.08, 0.0), knees=0.4), step=2.0),
             seq(U(twist=0.7, hyaw=0.4, lh=(-0.1, 0.3, 0.4), rh=(-0.5, -0.1, -0.1), roll=-0.1),
                 U(twist=-0.7, hyaw=-0.4, rh=(0.1, 0.3, 0.4), lh=(0.5, -0.1, -0.1), roll=0.1), step=2.0)),
        move("contraction", 4, seq(L(dy=-0.2, **stance(0.1), knees=0.5), L(dy=-0.02), step=2.0),
             seq(curl, wide, step=2.0), tags=("level",)),
        move("lunge_reach", 4,
             seq(L(dy=-0.05, **stance(0.02)), L(dy=-0.3, lf=(0.32, 0.0, 0.1), sh=(0.16, 0.04), knees=0.2),
                 L(dy=-0.32, sh=(0.18, 0.04)), L(dy=-0.05, lf=(0.04, 0.0, 0.0), sh=(0.0, 0.0))),
             seq(U(**sym(0.15, -0.4, 0.1)), U(roll=-0.3, lh=(0.45, 0.35, 0.1), rh=(-0.25, -0.3, 0.2), hyaw=0.4),
                 U(roll=-0.35, lh=(0.35, 0.5, 0.05), rh=(-0.3, -0.2, 0.2), hyaw=0.5), curl), tags=("level",)),
        move("extension", 4,
             seq(L(dy=-0.06, **stance(0.0)), L(lf=(0.1, 0.3, 0.12), sh=(-0.05, 0.0)), L(lf=(0.42, 0.42, 0.02), sh=(-0.08, 0.0)),
                 L(dy=-0.08, lf=(0.04, 0.0, 0.0))),
             seq(curl, U(**sym(0.2, 0.1, 0.3)), U(roll=0.25, lh=(0.5, 0.1, 0.0), rh=(-0.15, 0.5, 0.05)), wide),
             tags=("kick",)),
        move("turn_swing", 4,
             seq(L(dy=-0.12, lf=(-0.11, 0.0, 0.02), rf=(-0.02, 0.0, 0.0)), L(dy=-0.02, turn=TAU, rf=(0.08, 0.3, 0.1)),
                 L(dy=-0.14, rf=(-0.12, 0.0, 0.05)), L(dy=-0.06, lf=(0.0, 0.0, 0.0))),
             seq(U(twist=-0.5, lh=(-0.1, -0.2, 0.4), rh=(-0.5, -0.1, -0.2)), wide, curl, reach_up), level=2, tags=("turn",)),
        move("fall_recover", 4,
             seq(L(dy=-0.04, **stance(0.1)), L(dy=-0.36, sh=(-0.14, 0.0), rf=(-0.25, 0.0, 0.05), knees=0.4),
                 L(dy=-0.38, sh=(-0.16, 0.0)), L(dy=-0.05, rf=(0.0, 0.0, 0.0), sh=(0.0, 0.0))),
             seq(reach_up, U(pitch=0.4, roll=0.35, lh=(0.3, -0.1, 0.3), rh=(-0.3, -0.5, 0.1)), curl, wide),
             tags=("level",)),
        move("floor_low", 4, seq(L(dy=-0.42, **stance(0.24), knees=0.6), L(dy=-0.46, sh=(0.06, 0.0), knees=0.6), step=2.0),
             seq(U(pitch=0.5, **sym(0.4, -0.5, 0.3), twist=0.3), U(pitch=0.35, **sym(0.5, -0.2, 0.1), twist=-0.3), step=2.0),
             level=0, tags=("level",)),
        move("leap", 8,
             ((0.0, L(dy=-0.05, **stance(0.0))), (1.0, L(dy=-0.08, go=(0.0, 0.15), lf=(0.0, 0.0, 0.0))),
              (2.0, L(dy=-0.15, go=(0.0, 0.15), rf=(0.0, 0.0, 0.0))),
              (2.5, L(air=1.0, go=(0.0, 0.2), lf=(0.0, 0.2, 0.35), rf=(0.0, 0.3, -0.35))),
              (3.0, L(dy=-0.14, lf=(0.0, 0.0, 0.0), rf=(0.0, 0.15, -0.2))), (4.0, L(dy=-0.04, rf=(0.0, 0.0, 0.0))),
              (5.0, L(go=(0.0, -0.17), lf=(0.0, 0.0, 0.0))), (6.0, L(go=(0.0, -0.17), rf=(0.0, 0.0, 0.0))),
              (7.0, L(dy=-0.06, go=(0.0, -0.16), **stance(0.0)))),
             seq(curl, U(**sym(0.3, -0.2, 0.3)), U(**sym(0.3, 0.1, 0.2)), wide, reach_up, U(**sym(0.3, -0.3, 0.1)),
                 U(**sym(0.3, -0.3, 0.1)), curl), level=2, tags=("jump", "travel")),
        move("swing", 4, seq(L(dy=-0.1, **stance(0.12), sh=(0.07, 0.0)), L(dy=-0.02, sh=(-0.07, 0.0)), step=2.0),
             seq(U(roll=0.1, lh=(0.5, 0.1, 0.1), rh=(0.15, -0.3, 0.2), twist=-0.3),
                 U(roll=-0.1, rh=(-0.5, 0.1, 0.1), lh=(-0.15, -0.3, 0.2), twist=0.3), step=2.0), level=0),
        move("walk_arc", 8,
             seq(L(dy=-0.05, **stance(0.0)), L(dy=-0.1, go=(0.12, 0.08), turn=0.3, lf=(0.0, 0.0, 0.0)),
                 L(dy=-0.04, go=(0.12, 0.08), turn=0.3, rf=(0.0, 0.0, 0.0)), L(dy=-0.12, go=(0.1, 0.05), lf=(0.0, 0.0, 0.0)),
                 L(dy=-0.04, turn=-0.6, rf=(0.0, 0.0, 0.0)), L(dy=-0.1, go=(-0.1, -0.05), lf=(0.0, 0.0, 0.0)),
                 L(dy=-0.04, go=(-0.12, -0.08), rf=(0.0, 0.0, 0.0)), L(dy=-0.1, go=(-0.12, -0.08), lf=(0.0, 0.0, 0.0))),
             seq(wide, U(**sym(0.2, -0.3, 0.3), twist=0.3), reach_up, curl), tags=("travel",), uper=4),
    )
