"""The music data: chorale extraction, MIDI melodies, cache, split, tokens, n-grams."""

import numpy as np
import pretty_midi
import pytest
from music21 import chord, corpus, note, stream, tie

from applications.music import data, ngrams
from applications.music.data import REST, Piece

# The soprano of BWV 66.6 as notated (music21's bach/bwv66.6.mxl, part
# "Soprano"): the pickup C#5 B4 in eighths; bar 1 A4 B4 C#5 (fermata) E5;
# bar 2 C#5 B4 A4 (fermata) C#5; bar 3 A4 B4 in eighths, G#4 F#4 (fermata)
# A4, all quarters but the eighths.
BWV66_6_OPENING = [
    (73, 0.5), (71, 0.5),
    (69, 1.0), (71, 1.0), (73, 1.0), (76, 1.0),
    (73, 1.0), (71, 1.0), (69, 1.0), (73, 1.0),
    (69, 0.5), (71, 0.5), (68, 1.0), (66, 1.0), (69, 1.0),
]  # fmt: skip


def test_bwv66_6_soprano_opening_matches_the_score():
    score = corpus.parse("bach/bwv66.6")
    events = data.part_events(data.soprano_part(score))
    assert list(events[: len(BWV66_6_OPENING)]) == BWV66_6_OPENING


def _part(part_id, pitches):
    part = stream.Part(id=part_id)
    for pitch in pitches:
        part.append(note.Note(pitch, quarterLength=1))
    return part


def test_soprano_is_picked_by_part_id_not_position():
    score = stream.Score([_part("Alto", ["C4"]), _part("Soprano", ["E5"])])
    assert data.soprano_part(score).id == "Soprano"
    # Humdrum chorales number spines from the bass up.
    spines = stream.Score([_part("spine_3", ["E5"]), _part("spine_0", ["C3"])])
    assert data.soprano_part(spines).id == "spine_3"
    assert data.soprano_part(stream.Score([_part("Violin", ["C4"])])) is None


def test_part_events_merge_ties_and_rests_and_keep_the_top_of_chords():
    part = stream.Part()
    tied = note.Note("G4", quarterLength=1)
    tied.tie = tie.Tie("start")
    held = note.Note("G4", quarterLength=2)
    held.tie = tie.Tie("stop")
    part.append([tied, held, note.Rest(quarterLength=1), note.Rest(quarterLength=0.5)])
    part.append(chord.Chord(["C4", "E4", "A4"], quarterLength=0.5))
    assert data.part_events(part) == ((67, 3.0), (REST, 1.5), (69, 0.5))


def test_cache_round_trips_and_is_read_instead_of_parsing(tmp_path):
    pieces = (
        Piece("bwv1", ((60, 1.0), (REST, 0.5), (62, 1.0 / 3))),
        Piece("bwv2", ((72, 4.0),)),
    )
    path = data.chorale_cache_path(tmp_path)
    data.save_pieces(pieces, path)
    assert data.load_pieces(path) == pieces
    assert data.load_chorales(tmp_path) == pieces  # from the cache, no parsing


def _melody(rng, length):
    return tuple(
        (int(p), float(d))
        for p, d in zip(
            rng.integers(60, 72, length), rng.choice([0.5, 1.0, 2.0], length)
        )
    )


def test_split_shares_no_piece_and_keeps_transposed_tunes_together():
    rng = np.random.default_rng(1)
    pieces = [Piece(f"p{i}", _melody(rng, 20)) for i in range(40)]
    pieces += [data.transpose(Piece(f"q{i}", pieces[i].events), 5) for i in range(8)]
    splits = data.split_pieces(pieces)
    names = [{p.name for p in part} for part in (splits.train, splits.validation,
                                                 splits.test)]  # fmt: skip
    assert sum(map(len, names)) == len(pieces)
    assert not (names[0] & names[1] or names[0] & names[2] or names[1] & names[2])
    for i in range(8):
        assert [f"p{i}" in n for n in names] == [f"q{i}+5" in n for n in names]
    assert data.split_pieces(pieces) == splits  # seeded


def test_augment_shifts_pitches_not_rests():
    piece = Piece("a", ((60, 1.0), (REST, 1.0), (126, 0.5)))
    shifted = data.augment([piece])
    assert [p.name for p in shifted] == ["a-3", "a-2", "a-1", "a", "a+1"]
    assert shifted[0].events == ((57, 1.0), (REST, 1.0), (123, 0.5))


def test_packed_rows_hold_every_piece_once_each_from_start():
    rng = np.random.default_rng(2)
    pieces = [Piece(f"p{i}", _melody(rng, int(n))) for i, n in
              enumerate(rng.integers(3, 30, 25))]  # fmt: skip
    vocabulary = data.Vocabulary.fit(pieces, min_count=1)
    inputs, targets = data.packed_token_arrays(pieces, vocabulary)
    assert inputs.shape[1] == 29 and len(inputs) < len(pieces)
    assert (inputs == data.START).sum() == len(pieces)
    assert (targets != data.PAD).sum() == sum(len(p.events) for p in pieces)
    # Inputs are the targets shifted by one, <start> where a piece begins.
    boundary = np.isin(inputs[:, 1:], [data.START, data.PAD])
    shifted = np.where(boundary, targets[:, :-1], inputs[:, 1:])
    assert np.array_equal(shifted, targets[:, :-1])
    one_a_row, _ = data.token_arrays(pieces, vocabulary)
    assert one_a_row.shape == (25, 29) and (one_a_row[:, 0] == data.START).all()


def test_vocabulary_maps_rare_words_to_unknown_and_round_trips():
    pieces = [Piece("a", ((60, 1.0),) * 3 + ((61, 1.0),))]
    vocabulary = data.Vocabulary.fit(pieces)
    assert vocabulary.words == ((60, 1.0),) and len(vocabulary) == 4
    assert vocabulary.encode([(60, 1), (61, 1.0)]) == [3, data.UNKNOWN]
    again = data.Vocabulary.from_json(vocabulary.to_json())
    assert again.words == vocabulary.words
    with pytest.raises(ValueError, match="<unknown>"):
        vocabulary.decode([data.UNKNOWN])


@pytest.mark.parametrize(
    "text, event",
    [("C4:1", (60, 1.0)), ("C#5:0.5", (73, 0.5)), ("Bb3:2", (58, 2.0)),
     ("69:1.5", (69, 1.5)), ("R:1", (REST, 1.0)), ("c-1:1", (0, 1.0))],
)  # fmt: skip
def test_parse_note_reads_names_numbers_and_rests(text, event):
    assert data.parse_note(text) == event
    assert data.parse_note(data.format_event(event)) == event


@pytest.mark.parametrize("text", ["C4", "H4:1", "C4:0", "C4:x", "200:1", "C4:-1"])
def test_parse_note_rejects_bad_notes_naming_them(text):
    with pytest.raises(ValueError, match=f"bad note '{text}'"):
        data.parse_note(text)


def _write_two_voices(path):
    """At 120 bpm: E5 (1 beat), silence (1 beat), D5 (2 beats), over C3 C3."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    upper, lower = pretty_midi.Instrument(0), pretty_midi.Instrument(32)
    upper.notes += [
        pretty_midi.Note(80, 76, 0.0, 0.5),
        pretty_midi.Note(80, 74, 1.0, 2.0),
    ]
    lower.notes += [pretty_midi.Note(80, 48, t, t + 0.5) for t in (0.0, 1.0)]
    drums = pretty_midi.Instrument(0, is_drum=True)
    drums.notes.append(pretty_midi.Note(80, 99, 0.0, 0.25))
    midi.instruments += [upper, lower, drums]
    midi.write(str(path))


def test_midi_melody_is_the_highest_voice_with_rests(tmp_path):
    _write_two_voices(tmp_path / "a.mid")
    assert data.midi_events(tmp_path / "a.mid") == ((76, 1.0), (REST, 1.0), (74, 2.0))


def test_midi_dir_skips_corrupt_and_empty_files_naming_them(tmp_path, capsys):
    _write_two_voices(tmp_path / "good.mid")
    (tmp_path / "corrupt.mid").write_bytes(b"MThd\x00\x00 not midi at all")
    pretty_midi.PrettyMIDI().write(str(tmp_path / "empty.midi"))
    pieces = data.load_midi_dir(tmp_path)
    assert [p.name for p in pieces] == ["good.mid"]
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 2
    assert "corrupt.mid" in warnings[0] and "empty.midi: no notes" in warnings[1]


def test_ngram_unigram_is_add_one_and_each_order_sums_to_one():
    train = [[3, 4, 3, 5, 3], [4, 4, 3]]
    outcomes = 4  # tokens 2 (unknown) to 5
    unigram = ngrams.InterpolatedNGram(1, outcomes).fit(train, train)
    assert unigram.probability((), 3) == pytest.approx((4 + 1) / (8 + 4))
    for order in (2, 3):
        model = ngrams.InterpolatedNGram(order, outcomes).fit(train, [[3, 4, 3]])
        assert len(model.lambdas) == order - 1
        for context in [(data.START,) * (order - 1), (4, 3)[1 - order :]]:
            total = sum(model.probability(context, t) for t in range(2, 6))
            assert total == pytest.approx(1.0)
        # The bigram after 4 by hand: 4 is followed by 3 twice, 4 once.
        if order == 2:
            lam = model.lambdas[0]
            expected = lam * 2 / 3 + (1 - lam) * unigram.probability((), 3)
            assert model.probability((4,), 3) == pytest.approx(expected)


def test_melody_statistics_on_scales_with_known_answers():
    from applications.music import analysis

    c_major = [(p, 1.0) for p in (60, 62, 64, 65, 67, 69, 71, 72)]
    assert analysis.estimate_key(c_major + [(60, 2.0), (67, 1.0)]) == (0, "major")
    assert analysis.in_key_share(c_major) == 1.0
    with_sharps = c_major + [(61, 1.0), (REST, 1.0), (66, 1.0)]
    assert analysis.in_key_share(with_sharps) == pytest.approx(8 / 10)
    # Steps 2 2 1 2 2 2 1, then 72 -> 61 -> (rest) 66.
    assert analysis.mean_interval(with_sharps) == pytest.approx((12 + 11 + 5) / 9)
    same = analysis.melody_statistics([c_major], [c_major])
    assert same["pitch_class_histogram_distance"] == 0.0
    disjoint = analysis.melody_statistics([[(61, 1.0)]], [c_major])
    assert disjoint["pitch_class_histogram_distance"] == pytest.approx(1.0)
