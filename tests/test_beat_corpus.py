"""bench/beat_corpus.py's held-out validation split: deterministic, and disjoint by seed from
the test, tune and training songs (so a choice made on it never saw the test split)."""

from __future__ import annotations

from bench import beat_corpus as bc


def test_val_songs_are_the_test_lists_genres_with_their_own_seeds() -> None:
    n = len(bc._TEST)
    specs = [bc.val_spec(k) for k in range(2 * n)]
    assert specs == [bc.val_spec(k) for k in range(2 * n)]  # same k, same song
    seeds = [s[3] for s in specs]
    assert len(set(seeds)) == 2 * n and len({s[4] for s in specs}) == 2 * n  # no two alike
    test_seeds = {bc.TEST_SEED0 + i for i in range(n)}
    assert not set(seeds) & test_seeds
    assert all(bc.VAL_SEED0 <= s < bc.TEST_SEED0 for s in seeds)  # above tune (70000+), below test
    assert all(s >= bc.TUNE_SEED0 + 20 * 1000 for s in seeds)  # build_tune(count=1000) draws < 20 x count seeds
    for k, (genre, bpm, tmap, _, _) in enumerate(specs):
        g0, bpm0, tmap0 = bc._TEST[k % n]
        assert genre == g0 and tmap is tmap0
        if k < n or tmap is not None:
            assert bpm == bpm0
        else:
            assert 0.94 * bpm0 <= bpm <= 1.06 * bpm0
