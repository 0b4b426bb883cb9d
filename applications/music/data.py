"""Melodies as (pitch, duration) events: Bach chorales or MIDI files, split by piece.

An event is `(pitch, duration)`: `pitch` a MIDI note number (60 is middle C)
or `REST`, `duration` in quarter notes. Tied notes are one event, as are
consecutive rests. The tokens of a melody are its events, each
(pitch, duration) pair one word of a joint vocabulary (see `Vocabulary`).

The default data are the soprano lines of the 371 four-part chorales in
music21's corpus, parsed once (one to three minutes) and cached; the melody
of a MIDI file is its highest sounding note at each onset.

music21 and pretty_midi are imported where they are used: the command line
imports this module to parse its flags, and `--help` or a bad flag should
answer at once.
"""

import hashlib
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from applications.common.cli import AppError

REST = -1
Event = tuple[int, float]

DEFAULT_CACHE_DIR = Path("~/.cache/keras-bp/music")
# Bumped whenever the extraction changes, so an older cache is never read.
EXTRACTION_VERSION = 1

# The split is part of the data set's definition, not of a run: every seed
# and every optimizer is measured on the same test pieces.
SPLIT_SEED = 0
TEST_FRACTION = 0.1
VALIDATION_FRACTION = 0.1
TRANSPOSITIONS = tuple(range(-3, 4))

# Token ids below the (pitch, duration) words.
PAD, START, UNKNOWN = 0, 1, 2
SPECIAL_TOKENS = ("<pad>", "<start>", "<unknown>")
# A word rarer than this in the (augmented) training pieces is <unknown>,
# so that <unknown> is seen in training and a test piece's rare or new
# words cost what the model learnt they cost.
MIN_WORD_COUNT = 3

MIDI_SUFFIXES = (".mid", ".midi")
_NOTE_NAME = re.compile(r"^([A-Ga-g])([#b]*)(-?\d+)$")
_SEMITONES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}


@dataclass(frozen=True)
class Piece:
    """One melody: a name (the chorale's BWV number or the file) and its events."""

    name: str
    events: tuple[Event, ...]


@dataclass(frozen=True)
class PieceSplits:
    """Train, validation and test pieces; no piece is in two of them."""

    train: tuple[Piece, ...]
    validation: tuple[Piece, ...]
    test: tuple[Piece, ...]


# --- events ------------------------------------------------------------------


def quantize_duration(quarters: float) -> float:
    """The nearest multiple of a sixteenth or of an eighth-note triplet."""
    candidates = (round(quarters * 4) / 4, round(quarters * 3) / 3)
    best = min(candidates, key=lambda value: (abs(value - quarters), value))
    return round(best, 4)


def _append(events: list[Event], pitch: int, duration: float, tied: bool) -> None:
    """Add an event, merging it into the last one if tied or both are rests."""
    if events and events[-1][0] == pitch and (tied or pitch == REST):
        events[-1] = (pitch, round(events[-1][1] + duration, 4))
    else:
        events.append((pitch, round(duration, 4)))


def part_events(part) -> tuple[Event, ...]:
    """The events of a monophonic music21 part (a chord counts as its top note).

    Grace notes (no duration) are left out; a tie continues the last event.
    """
    events: list[Event] = []
    for element in part.flatten().notesAndRests:
        duration = float(element.quarterLength)
        if duration <= 0:
            continue
        if element.isRest:
            pitch = REST
        else:
            pitch = max(p.midi for p in element.pitches)
        tied = element.tie is not None and element.tie.type in ("stop", "continue")
        _append(events, pitch, duration, tied)
    return tuple(events)


def soprano_part(score):
    """The soprano part of a chorale, found by part id, or None.

    MusicXML chorales name it `Soprano` (or `Soprano 1`, ...); the Humdrum
    ones number their spines from the bass up (`spine_0` is the bass), so
    there the highest-numbered spine is the soprano.
    """
    parts = list(score.parts)
    for part in parts:
        if str(part.id).lower().startswith("soprano"):
            return part
    spines = [p for p in parts if re.fullmatch(r"spine_\d+", str(p.id))]
    if spines:
        return max(spines, key=lambda p: int(str(p.id).split("_")[1]))
    return None


def parse_note(text: str) -> Event:
    """An event from `NOTE:DURATION`, e.g. `C#5:1`, `Bb4:0.5`, `60:2`, `R:1`.

    NOTE is a note name with an octave (C4 is middle C, 60), a MIDI number
    0-127, or R for a rest; DURATION is in quarter notes.

    Raises:
        ValueError: naming `text` and the form expected.
    """
    expected = "expected NOTE:DURATION such as C5:1, F#4:0.5, 60:2 or R:1"
    note, sep, duration_text = text.partition(":")
    try:
        duration = float(duration_text)
    except ValueError:
        raise ValueError(f"bad note {text!r}: {expected}") from None
    if not sep or not 0 < duration < float("inf"):
        raise ValueError(f"bad note {text!r}: {expected} (a positive duration)")
    if note.upper() == "R":
        return REST, quantize_duration(duration)
    if note.isdigit():
        pitch = int(note)
    else:
        match = _NOTE_NAME.match(note)
        if match is None:
            raise ValueError(f"bad note {text!r}: {expected}")
        letter, accidentals, octave = match.groups()
        shift = accidentals.count("#") - accidentals.count("b")
        pitch = 12 * (int(octave) + 1) + _SEMITONES[letter.lower()] + shift
    if not 0 <= pitch <= 127:
        raise ValueError(f"bad note {text!r}: the pitch must be MIDI 0-127")
    return pitch, quantize_duration(duration)


def format_event(event: Event) -> str:
    """`NOTE:DURATION` as `parse_note` reads it, e.g. `C#5:1`."""
    pitch, duration = event
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    note = "R" if pitch == REST else f"{names[pitch % 12]}{pitch // 12 - 1}"
    return f"{note}:{duration:g}"


# --- the chorales and their cache ---------------------------------------------


def chorale_cache_path(cache_dir: Path) -> Path:
    """The cache file of the parsed chorales, keyed by what could change them."""
    key = json.dumps(
        {"extraction": EXTRACTION_VERSION, "music21": metadata.version("music21")}
    )
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    return cache_dir.expanduser() / f"chorales-{digest}.npz"


def save_pieces(pieces: Sequence[Piece], path: Path) -> None:
    """Write `pieces` to an `.npz` file (written aside, then renamed)."""
    lengths = np.array([len(p.events) for p in pieces], np.int64)
    events = [e for p in pieces for e in p.events]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as file:
        np.savez(
            file,
            names=np.array([p.name for p in pieces], dtype=str),
            lengths=lengths,
            pitches=np.array([e[0] for e in events], np.int16),
            durations=np.array([e[1] for e in events], np.float64),
        )
    partial.replace(path)


def load_pieces(path: Path) -> tuple[Piece, ...]:
    """The pieces `save_pieces` wrote to `path`."""
    with np.load(path, allow_pickle=False) as arrays:
        ends = np.cumsum(arrays["lengths"])
        starts = ends - arrays["lengths"]
        pitches, durations = arrays["pitches"].tolist(), arrays["durations"].tolist()
        return tuple(
            Piece(str(name), tuple(zip(pitches[s:e], durations[s:e], strict=True)))
            for name, s, e in zip(arrays["names"], starts, ends, strict=True)
        )


def parse_chorales() -> tuple[Piece, ...]:
    """The soprano lines of music21's Bach chorales (slow: minutes)."""
    from music21 import corpus

    pieces = []
    for name in corpus.chorales.Iterator(returnType="filename"):
        part = soprano_part(corpus.parse(name))
        if part is None:
            print(f"warning: no soprano part in {name}, skipped", file=sys.stderr)
            continue
        pieces.append(Piece(name.rsplit("/", 1)[-1], part_events(part)))
    return tuple(pieces)


def load_chorales(cache_dir: Path = DEFAULT_CACHE_DIR) -> tuple[Piece, ...]:
    """The chorales' soprano lines, from the cache or parsed and cached."""
    path = chorale_cache_path(cache_dir)
    if path.exists():
        return load_pieces(path)
    print(
        f"parsing the Bach chorales of music21's corpus (once; cached in {path})",
        file=sys.stderr,
    )
    pieces = parse_chorales()
    save_pieces(pieces, path)
    return pieces


# --- MIDI files ---------------------------------------------------------------


def midi_events(path: Path) -> tuple[Event, ...]:
    """The melody of a MIDI file: its highest note at each onset.

    Each note lasts until it ends or the next onset, whichever is first; a
    silence of a sixteenth or more becomes a rest. Times are read in beats
    (so tempo changes do not matter) and quantized by `quantize_duration`.
    Drum tracks are left out.
    """
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(path))
    top: dict[float, tuple[int, float]] = {}
    for instrument in midi.instruments:
        if instrument.is_drum:
            continue
        for note in instrument.notes:
            start = quantize_duration(midi.time_to_tick(note.start) / midi.resolution)
            end = quantize_duration(midi.time_to_tick(note.end) / midi.resolution)
            if start not in top or note.pitch > top[start][0]:
                top[start] = (note.pitch, end)
    events: list[Event] = []
    onsets = sorted(top)
    for start, following in zip(onsets, [*onsets[1:], None]):
        pitch, end = top[start]
        end = max(end, start + 0.25)
        if following is not None:
            end = min(end, following)
        _append(events, pitch, end - start, tied=False)
        if following is not None and following - end >= 0.25:
            _append(events, REST, following - end, tied=False)
    return tuple(events)


def load_midi_dir(directory: Path) -> tuple[Piece, ...]:
    """The melodies of the MIDI files in `directory` (and below), by file name.

    A file that cannot be read or holds no notes is skipped with a warning
    naming it.

    Raises:
        AppError: when no file gives a melody.
    """
    files = sorted(p for p in directory.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES)
    pieces = []
    for path in files:
        try:
            events = midi_events(path)
        # A corrupt file can fail anywhere in mido's parser, with any error.
        except Exception as error:  # noqa: BLE001
            reason = f"{type(error).__name__}: {error}".rstrip(": ")
            print(
                f"warning: skipping {path}: not a readable MIDI file ({reason})",
                file=sys.stderr,
            )
            continue
        if not any(pitch != REST for pitch, _ in events):
            print(f"warning: skipping {path}: no notes", file=sys.stderr)
            continue
        pieces.append(Piece(str(path.relative_to(directory)), events))
    if not pieces:
        found = f"{len(files)} MIDI file(s), none usable" if files else "no MIDI file"
        raise AppError(
            f"--midi-dir {directory}: {found}; expected .mid/.midi files with notes"
        )
    return tuple(pieces)


# --- splitting, augmentation and tokens ---------------------------------------


def melody_signature(events: Iterable[Event]) -> tuple:
    """The melody up to transposition: its intervals and durations."""
    signature, previous = [], None
    for pitch, duration in events:
        if pitch == REST:
            signature.append((None, duration))
            continue
        signature.append((None if previous is None else pitch - previous, duration))
        previous = pitch
    return tuple(signature)


def split_pieces(
    pieces: Sequence[Piece],
    *,
    test_fraction: float = TEST_FRACTION,
    validation_fraction: float = VALIDATION_FRACTION,
    seed: int = SPLIT_SEED,
) -> PieceSplits:
    """Split the pieces into train/validation/test, seeded.

    Pieces with the same melody up to transposition (a chorale tune Bach
    set twice) go to the same split, so the test melodies are all new.
    The fractions are of the pieces (at least one piece each); the train
    split gets the rest.

    Raises:
        AppError: when no piece is left for training.
    """
    groups: dict[tuple, list[Piece]] = {}
    for piece in pieces:
        groups.setdefault(melody_signature(piece.events), []).append(piece)
    order = np.random.default_rng(seed).permutation(len(groups))
    grouped = [list(groups.values())[i] for i in order]
    test_size = max(1, round(test_fraction * len(pieces)))
    validation_size = max(1, round(validation_fraction * len(pieces)))
    test, validation, train = [], [], []
    for group in grouped:
        if len(test) < test_size:
            test.extend(group)
        elif len(validation) < validation_size:
            validation.extend(group)
        else:
            train.extend(group)
    if not train:
        raise AppError(
            f"{len(pieces)} piece(s) (or distinct melodies) are too few to split "
            "into train, validation and test pieces: give at least 3"
        )
    return PieceSplits(tuple(train), tuple(validation), tuple(test))


def transpose(piece: Piece, semitones: int) -> Piece:
    """`piece` shifted by `semitones` (rests unchanged)."""
    events = tuple((p if p == REST else p + semitones, d) for p, d in piece.events)
    return Piece(f"{piece.name}{semitones:+d}" if semitones else piece.name, events)


def augment(
    pieces: Iterable[Piece], shifts: Sequence[int] = TRANSPOSITIONS
) -> tuple[Piece, ...]:
    """Every piece in every transposition of `shifts` (within MIDI 0-127)."""
    return tuple(
        transpose(piece, shift)
        for piece in pieces
        for shift in shifts
        if all(p == REST or 0 <= p + shift <= 127 for p, _ in piece.events)
    )


class Vocabulary:
    """Token ids of (pitch, duration) words: 0 pad, 1 start, 2 unknown, 3.. words."""

    def __init__(self, words: Sequence[Event]):
        self.words = tuple((int(p), float(d)) for p, d in words)
        self._ids = {w: i + len(SPECIAL_TOKENS) for i, w in enumerate(self.words)}

    @classmethod
    def fit(
        cls, pieces: Iterable[Piece], min_count: int = MIN_WORD_COUNT
    ) -> "Vocabulary":
        """The words seen at least `min_count` times in `pieces`, sorted."""
        counts = Counter(e for piece in pieces for e in piece.events)
        return cls(sorted(w for w, n in counts.items() if n >= min_count))

    def __len__(self) -> int:
        return len(SPECIAL_TOKENS) + len(self.words)

    def encode(self, events: Iterable[Event]) -> list[int]:
        """Token ids, `UNKNOWN` for a word not in the vocabulary."""
        return [self._ids.get((p, float(d)), UNKNOWN) for p, d in events]

    def id_of(self, event: Event) -> int | None:
        """The id of `event`'s word, or None when it is not in the vocabulary."""
        return self._ids.get((event[0], float(event[1])))

    def decode(self, tokens: Iterable[int]) -> list[Event]:
        """The events of word tokens (special tokens raise ValueError)."""
        offset = len(SPECIAL_TOKENS)
        events = []
        for token in tokens:
            if token < offset:
                raise ValueError(
                    f"token {token} is {SPECIAL_TOKENS[token]}, not a note"
                )
            events.append(self.words[token - offset])
        return events

    def to_json(self) -> str:
        """The vocabulary as JSON, for `from_json`."""
        return json.dumps({"words": [list(w) for w in self.words]})

    @classmethod
    def from_json(cls, text: str) -> "Vocabulary":
        """The vocabulary `to_json` wrote."""
        return cls([tuple(w) for w in json.loads(text)["words"]])


def token_arrays(
    pieces: Sequence[Piece], vocabulary: Vocabulary
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and next-token targets, one piece a row, int32, zero-padded.

    A piece's inputs are `<start>` and its tokens but the last; its targets
    are its tokens. Rows are as long as the longest piece.
    """
    return _rows([[i] for i in range(len(pieces))], pieces, vocabulary)


def packed_token_arrays(
    pieces: Sequence[Piece], vocabulary: Vocabulary, seed: int = SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Like `token_arrays`, but several whole pieces one after another a row.

    The pieces, in a seeded random order, fill rows as long as the longest
    piece, each going to the first row with room (first fit). Each piece
    still begins with `<start>`; the state flows on from the piece before.
    A row of short pieces instead of padding makes an epoch several times
    cheaper (chorales are 51 tokens on average, 186 at most).
    """
    length = max(len(p.events) for p in pieces)
    rows: list[list[int]] = []
    room: list[int] = []
    for index in np.random.default_rng(seed).permutation(len(pieces)):
        size = len(pieces[index].events)
        row = next((r for r, free in enumerate(room) if free >= size), None)
        if row is None:
            rows.append([])
            room.append(length)
            row = len(rows) - 1
        rows[row].append(int(index))
        room[row] -= size
    return _rows(rows, pieces, vocabulary)


def _rows(rows, pieces, vocabulary):
    """Zero-padded inputs and targets, row i holding the pieces `rows[i]`."""
    encoded = [[vocabulary.encode(pieces[i].events) for i in row] for row in rows]
    length = max(sum(len(tokens) for tokens in row) for row in encoded)
    inputs = np.full((len(rows), length), PAD, np.int32)
    targets = np.full((len(rows), length), PAD, np.int32)
    for r, row in enumerate(encoded):
        start = 0
        for tokens in row:
            end = start + len(tokens)
            targets[r, start:end] = tokens
            inputs[r, start:end] = [START, *tokens[:-1]]
            start = end
    return inputs, targets
