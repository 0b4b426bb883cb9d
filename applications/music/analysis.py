"""Generated melodies out: MIDI files, piano rolls and statistics.

The statistics compare generated melodies with the test pieces:

- pitch-class histogram distance: the total variation distance (half the
  L1 distance, 0 same, 1 disjoint) between the shares of the twelve pitch
  classes among all notes of each set;
- in-key share: the share of a melody's notes in the scale of its key,
  the key estimated from the melody itself with the Krumhansl-Kessler
  profiles (the scale of a minor key counts the raised sixth and seventh);
- mean interval: the mean absolute step in semitones between consecutive
  notes, rests skipped.
"""

from collections.abc import Sequence
from pathlib import Path

import matplotlib

# Plots go to files only; no display is needed (or present on a server).
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from applications.music.data import REST, Event  # noqa: E402

DEFAULT_TEMPO = 90.0  # quarter notes a minute
PIANO = 0  # General MIDI program: Acoustic Grand Piano
_VELOCITY = 90

# Krumhansl & Kessler (1982) key profiles, tonic first.
_MAJOR_PROFILE = (
    6.35,
    2.23,
    3.48,
    2.33,
    4.38,
    4.09,
    2.52,
    5.19,
    2.39,
    3.66,
    2.29,
    2.88,
)
_MINOR_PROFILE = (
    6.33,
    2.68,
    3.52,
    5.38,
    2.60,
    3.53,
    2.54,
    4.75,
    3.98,
    2.69,
    3.34,
    3.17,
)
_SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 9, 10, 11)}


def write_midi(events: Sequence[Event], path: Path, tempo: float = DEFAULT_TEMPO):
    """Write a melody as a one-track MIDI file, one beat a quarter note."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    piano = pretty_midi.Instrument(program=PIANO, name="melody")
    seconds_per_quarter = 60.0 / tempo
    time = 0.0
    for pitch, duration in events:
        end = time + duration * seconds_per_quarter
        if pitch != REST:
            piano.notes.append(pretty_midi.Note(_VELOCITY, pitch, time, end))
        time = end
    midi.instruments.append(piano)
    midi.write(str(path))


def plot_piano_roll(
    events: Sequence[Event], path: Path, title: str, highlight: int = 0
) -> None:
    """A piano roll: one bar a note, time in quarter notes across, pitch up.

    The first `highlight` events (a seed melody) are drawn in another colour.
    """
    figure, axis = plt.subplots(figsize=(max(6.0, 0.12 * len(events) + 2), 4))
    time = 0.0
    for index, (pitch, duration) in enumerate(events):
        if pitch != REST:
            colour = "tab:orange" if index < highlight else "tab:blue"
            axis.broken_barh([(time, duration)], (pitch - 0.4, 0.8), color=colour)
        time += duration
    pitches = [p for p, _ in events if p != REST]
    if pitches:
        axis.set_ylim(min(pitches) - 2, max(pitches) + 2)
    axis.set_xlim(0, max(time, 1.0))
    axis.set_xlabel("time (quarter notes)")
    axis.set_ylabel("MIDI pitch")
    axis.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axis.set_title(title)
    axis.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def pitch_class_shares(melodies: Sequence[Sequence[Event]]) -> np.ndarray:
    """The share of each pitch class (C first) among all the notes."""
    counts = np.zeros(12)
    for events in melodies:
        for pitch, _ in events:
            if pitch != REST:
                counts[pitch % 12] += 1
    return counts / max(counts.sum(), 1.0)


def estimate_key(events: Sequence[Event]) -> tuple[int, str]:
    """(tonic pitch class, "major" or "minor"): the best-correlated profile."""
    shares = pitch_class_shares([events])
    best = max(
        (
            np.corrcoef(shares, np.roll(profile, tonic))[0, 1],
            tonic,
            mode,
        )
        for mode, profile in (("major", _MAJOR_PROFILE), ("minor", _MINOR_PROFILE))
        for tonic in range(12)
    )
    return best[1], best[2]


def in_key_share(events: Sequence[Event]) -> float:
    """The share of notes in the scale of the melody's estimated key."""
    pitches = [p for p, _ in events if p != REST]
    if len(set(pitches)) < 2:
        return 1.0
    tonic, mode = estimate_key(events)
    scale = {(tonic + step) % 12 for step in _SCALES[mode]}
    return float(np.mean([p % 12 in scale for p in pitches]))


def mean_interval(events: Sequence[Event]) -> float:
    """The mean absolute step in semitones between consecutive notes."""
    pitches = [p for p, _ in events if p != REST]
    if len(pitches) < 2:
        return 0.0
    return float(np.mean(np.abs(np.diff(pitches))))


def melody_statistics(
    generated: Sequence[Sequence[Event]], reference: Sequence[Sequence[Event]]
) -> dict[str, float]:
    """The statistics of the module docstring, generated against reference."""
    distance = (
        0.5
        * np.abs(pitch_class_shares(generated) - pitch_class_shares(reference)).sum()
    )
    return {
        "pitch_class_histogram_distance": float(distance),
        "in_key_share": float(np.mean([in_key_share(m) for m in generated])),
        "reference_in_key_share": float(np.mean([in_key_share(m) for m in reference])),
        "mean_interval": float(np.mean([mean_interval(m) for m in generated])),
        "reference_mean_interval": float(
            np.mean([mean_interval(m) for m in reference])
        ),
    }
