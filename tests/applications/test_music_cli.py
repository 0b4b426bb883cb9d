"""The music command line: a short real run on MIDI files, generation, bad input."""

import json

import numpy as np
import pretty_midi
import pytest

from applications.music import analysis, data
from applications.music.__main__ import main

TEMPO = analysis.DEFAULT_TEMPO


def run(argv, capsys):
    """`main(argv)`'s exit status, stdout and stderr lines; argparse exits count."""
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err.splitlines()


def _write_tune(path, rng):
    """A random one-octave tune of quarters and halves, with a rest."""
    events = [
        (int(p), float(d))
        for p, d in zip(rng.choice([60, 62, 64, 65, 67], 24), rng.choice([1, 2], 24))
    ]
    events[10] = (data.REST, 1.0)
    analysis.write_midi(events, path)


@pytest.fixture(scope="module")
def midi_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("midi")
    rng = np.random.default_rng(0)
    for i in range(8):
        _write_tune(directory / f"tune{i}.mid", rng)
    return directory


@pytest.fixture(scope="module")
def short_run(midi_dir, tmp_path_factory):
    output = tmp_path_factory.mktemp("music")
    argv = ["--midi-dir", str(midi_dir), "--epochs", "2", "--units", "8"]
    argv += ["--embedding-size", "4", "--k1", "4", "--k2", "8", "--cell", "gru"]
    assert main([*argv, "--output", str(output), "--verbose", "0"]) == 0
    return output


def test_short_run_reports_nll_against_the_ngram_models(short_run):
    metrics = json.loads((short_run / "metrics.json").read_text())
    assert metrics["cell"] == "gru" and (metrics["k1"], metrics["k2"]) == (4, 8)
    assert metrics["pieces"] == {
        "train": 6,
        "train_augmented": 42,
        "validation": 1,
        "test": 1,
    }
    nll = metrics["test_nll_per_token"]
    assert metrics["test_perplexity"] == pytest.approx(np.exp(nll))
    for name in ("unigram", "bigram", "trigram"):
        baseline = metrics["baselines"][name]
        assert baseline["perplexity"] == pytest.approx(
            np.exp(baseline["nll_per_token"])
        )
    assert metrics["nll_ratio_to_bigram"] == pytest.approx(
        nll / metrics["baselines"]["bigram"]["nll_per_token"]
    )
    assert metrics["test_tokens"] == 24
    assert 0 <= metrics["test_unknown_share"] < 0.2
    generated = metrics["generated"]
    assert 0 <= generated["pitch_class_histogram_distance"] <= 1
    assert 0 < generated["reference_in_key_share"] <= 1
    assert len(metrics["history"]["loss"]) == 2
    for name in ("sample.mid", "sample.png", "vocabulary.json", "model.keras"):
        assert (short_run / name).is_file()


def _midi_events(path):
    """The notes and rests of a one-track MIDI file, read with pretty_midi."""
    midi = pretty_midi.PrettyMIDI(str(path))
    (track,) = midi.instruments
    events, time = [], 0.0
    for note in sorted(track.notes, key=lambda n: n.start):
        if note.start - time > 1e-6:
            events.append((data.REST, round((note.start - time) * TEMPO / 60, 4)))
        events.append((note.pitch, round((note.end - note.start) * TEMPO / 60, 4)))
        time = note.end
    return events


def test_generate_writes_midi_that_reads_back_with_the_same_notes(
    short_run, tmp_path, capsys
):
    output = tmp_path / "out" / "melody.mid"
    argv = ["generate", "--model", str(short_run), "--length", "20"]
    argv += ["--temperature", "0.8", "--seed-notes", "C4:1", "E4:2", "--seed", "3"]
    status, out, err = run([*argv, "--output", str(output)], capsys)
    assert status == 0, err
    printed = [data.parse_note(text) for text in out[0].split()]
    assert printed[:2] == [(60, 1.0), (64, 2.0)] and len(printed) == 22
    # In the file, consecutive rests are one silence and a final one is gone.
    expected = []
    for pitch, duration in printed:
        if pitch == data.REST and expected and expected[-1][0] == data.REST:
            expected[-1] = (data.REST, expected[-1][1] + duration)
        else:
            expected.append((pitch, duration))
    while expected[-1][0] == data.REST:
        expected.pop()
    read = _midi_events(output)
    assert [p for p, _ in read] == [p for p, _ in expected]
    assert [d for _, d in read] == pytest.approx([d for _, d in expected], abs=0.01)
    assert output.with_suffix(".png").is_file()
    again, _, _ = run([*argv, "--output", str(tmp_path / "again.mid")], capsys)
    assert _midi_events(tmp_path / "again.mid") == _midi_events(output)  # seeded


def _lines(status_out_err):
    return status_out_err[0], status_out_err[2]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--k1", "8", "--k2", "4"], "--k2 (4) must be >= --k1 (8)"),
        (["--dropout", "1.5"], "expected a number in [0, 1), got '1.5'"),
        (["--midi-dir", "/no/such/dir"], "no such directory: /no/such/dir"),
        (["--units", "0"], "expected a positive integer, got 0"),
        (["generate", "--model", "/no/such/dir"], "no such directory"),
        (["generate", "--length", "0", "--model", "."], "positive integer, got 0"),
        (["generate", "--temperature", "0", "--model", "."], "positive number"),
        (["generate", "--model", ".", "--seed-notes", "H4:1"], "bad note 'H4:1'"),
    ],
)
def test_bad_flags_exit_2_with_one_line(argv, message, capsys):
    status, err = _lines(run(argv, capsys))
    assert status == 2 and len(err) == 1 and message in err[0], err


def test_seed_note_the_model_does_not_know_exits_2(short_run, capsys):
    argv = ["generate", "--model", str(short_run), "--seed-notes", "C4:0.25"]
    status, err = _lines(run(argv, capsys))
    assert status == 2 and len(err) == 1
    assert "C4:0.25 is not a (pitch, duration) the model knows" in err[0]


def test_generate_from_a_directory_without_a_model_exits_1(tmp_path, capsys):
    status, err = _lines(run(["generate", "--model", str(tmp_path)], capsys))
    assert status == 1 and len(err) == 1
    assert "no vocabulary.json; expected the output directory" in err[0]


@pytest.mark.parametrize("files", [(), ("broken.mid", "empty.mid")])
def test_midi_dir_without_a_usable_file_is_a_one_line_error(files, tmp_path, capsys):
    source = tmp_path / "midi"
    source.mkdir()
    for name in files:
        (source / name).write_bytes(b"" if name == "empty.mid" else b"MThd junk")
    argv = ["--midi-dir", str(source), "--output", str(tmp_path / "out")]
    status, err = _lines(run(argv, capsys))
    assert status == 1
    # One warning a file, then the error.
    assert len(err) == len(files) + 1
    assert [name in line for name, line in zip(files, err)] == [True] * len(files)
    expected = "none usable" if files else "no MIDI file"
    assert err[-1].startswith("python -m applications.music: error: --midi-dir")
    assert expected in err[-1]


def test_midi_dir_with_too_few_tunes_to_split_is_a_one_line_error(tmp_path, capsys):
    source = tmp_path / "midi"
    source.mkdir()
    for i in range(2):
        _write_tune(source / f"tune{i}.mid", np.random.default_rng(i))
    argv = ["--midi-dir", str(source), "--output", str(tmp_path / "out")]
    status, err = _lines(run(argv, capsys))
    assert status == 1 and len(err) == 1
    assert "2 piece(s) (or distinct melodies) are too few" in err[0]
