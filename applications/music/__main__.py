"""Train a melody model with truncated BPTT, or generate melodies with one.

    python -m applications.music                       # LSTM on Bach chorales
    python -m applications.music --cell gru --k1 16 --k2 32
    python -m applications.music --midi-dir DIR        # your own MIDI files
    python -m applications.music generate --model runs/music --length 64 \\
        --temperature 0.8 --seed-notes C5:1 D5:1 E5:2

Training: the soprano lines of the Bach chorales (or the melodies of
`--midi-dir`) become (pitch, duration) tokens, split by piece; the training
pieces are transposed by -3..+3 semitones (`--no-augment` turns that off);
a `keras_bp.BPTTModel` learns to predict the next token with truncated
BPTT(k2; k1) across whole pieces. The output directory gets metrics.json
(test negative log-likelihood per token and perplexity, beside unigram,
bigram and interpolated trigram models fitted on the same training pieces;
statistics of sampled melodies against the test pieces), learning_curve.png,
model.keras, vocabulary.json and a sampled melody (sample.mid, sample.png).

Generation: `generate` continues the seed notes (or starts afresh) and
writes a MIDI file and its piano roll.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from applications.common import cli
from applications.music import data

PROG = "python -m applications.music"
DEFAULT_EPOCHS = 15
DEFAULT_OPTIMIZER = "adam"
# Adam's own 0.001 needs about twice the epochs for the same test NLL.
DEFAULT_ADAM_LEARNING_RATE = 0.003
VOCABULARY_FILE = "vocabulary.json"
SAMPLE_STEM = "sample"
# The sampled melodies whose statistics metrics.json reports.
STATISTICS_SAMPLES = 32
STATISTICS_LENGTH = 64
# The keys of model.CELLS, named here so that parsing needs no Keras.
CELLS = ("lstm", "gru")


def build_parser() -> argparse.ArgumentParser:
    """The shared flags plus the model, truncation and data flags."""
    parser = cli.build_parser(
        PROG,
        "Train a melody model with truncated BPTT (or, with `generate --help`, "
        "generate melodies with a trained one).",
        default_epochs=DEFAULT_EPOCHS,
        default_output="runs/music",
    )
    # Adam, not full-batch Rprop: one update a window of a mini-batch of
    # pieces is what reaches the target within minutes (README's table).
    parser.set_defaults(optimizer=DEFAULT_OPTIMIZER)
    parser.epilog = (
        "Without --learning-rate, adam uses "
        f"{DEFAULT_ADAM_LEARNING_RATE:g} here, the other optimizers their own."
    )
    parser.add_argument("--cell", choices=CELLS, default="lstm", help="the cell")
    parser.add_argument(
        "--units", type=cli.positive_int, default=128, help="units of the cell"
    )
    parser.add_argument(
        "--embedding-size",
        type=cli.positive_int,
        default=32,
        help="size of the token embedding",
    )
    parser.add_argument(
        "--dropout",
        type=_fraction,
        default=0.0,
        help="dropout on the cell's inputs, in [0, 1)",
    )
    parser.add_argument(
        "--k1",
        type=cli.positive_int,
        default=32,
        help="truncated BPTT: tokens between two updates",
    )
    parser.add_argument(
        "--k2",
        type=cli.positive_int,
        default=32,
        help="truncated BPTT: tokens the gradient flows back (>= k1)",
    )
    parser.add_argument(
        "--midi-dir",
        type=cli.existing_dir,
        default=None,
        metavar="PATH",
        help="train on the melodies (highest voice) of the MIDI files here "
        "instead of the Bach chorales",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=data.DEFAULT_CACHE_DIR,
        metavar="DIR",
        help="where the parsed chorales are cached",
    )
    parser.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="transpose each training piece by -3..+3 semitones",
    )
    return parser


def build_generate_parser() -> argparse.ArgumentParser:
    """The flags of `generate`."""
    parser = cli.build_model_parser(
        f"{PROG} generate",
        "Continue seed notes with a trained melody model; write a MIDI file and "
        "a piano-roll PNG.",
        "a training run's output directory (model.keras, vocabulary.json)",
    )
    parser.add_argument(
        "--length", type=cli.positive_int, default=64, help="notes to generate"
    )
    parser.add_argument(
        "--temperature",
        type=cli.positive_float,
        default=1.0,
        help="below 1: safer choices; above 1: more surprising ones",
    )
    parser.add_argument(
        "--seed-notes",
        type=_note,
        nargs="*",
        default=[],
        metavar="NOTE:DURATION",
        help="the melody to continue, e.g. C5:1 D5:0.5 R:1 (durations in "
        "quarter notes, R a rest)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the sampling")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="FILE",
        help="the MIDI file to write (the PNG goes beside it); "
        "default: DIR/generated.mid",
    )
    return parser


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def _note(text: str) -> data.Event:
    try:
        return data.parse_note(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the pipeline on `argv` (default: `sys.argv[1:]`); the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["generate"]:
        parser = build_generate_parser()
        args = parser.parse_args(argv[1:])
        return cli.run_app(PROG, lambda: _generate(parser, args))
    parser = build_parser()
    args = cli.parse_args(parser, argv)
    if args.k2 < args.k1:
        parser.error(f"--k2 ({args.k2}) must be >= --k1 ({args.k1})")
    if args.learning_rate is None and args.optimizer == "adam":
        args.learning_rate = DEFAULT_ADAM_LEARNING_RATE
    return cli.run_app(PROG, lambda: _train(args))


# --- training ------------------------------------------------------------------


def _train(args: argparse.Namespace) -> None:
    if args.midi_dir is not None:
        pieces, source = data.load_midi_dir(args.midi_dir), str(args.midi_dir)
    else:
        pieces, source = data.load_chorales(args.cache_dir), "bach_chorales"
    splits = data.split_pieces(pieces)
    train_pieces = data.augment(splits.train) if args.augment else splits.train
    vocabulary = data.Vocabulary.fit(train_pieces)
    # TensorFlow starts only once the arguments and the data are known good.
    from applications.common.data import Splits
    from applications.common.report import write_metrics
    from applications.common.training import fit_and_report
    from applications.music import model

    arrays = Splits(
        train=data.packed_token_arrays(train_pieces, vocabulary),
        validation=data.token_arrays(splits.validation, vocabulary),
        test=data.token_arrays(splits.test, vocabulary),
    )
    built = []

    def build_model():
        built.append(
            model.build(
                args.cell,
                len(vocabulary),
                units=args.units,
                embedding_size=args.embedding_size,
                k1=args.k1,
                k2=args.k2,
                dropout=args.dropout,
            )
        )
        return built[-1]

    about = {
        "task": "music",
        "data": source,
        "cell": args.cell,
        "units": args.units,
        "k1": args.k1,
        "k2": args.k2,
        "augment": args.augment,
    }
    result = fit_and_report(
        args,
        arrays,
        build_model,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        about=about,
    )
    (args.output / VOCABULARY_FILE).write_text(vocabulary.to_json())
    result.update(_evaluate(built[-1], vocabulary, splits, train_pieces, arrays))
    result["generated"] = _sample_statistics(built[-1], vocabulary, splits, args)
    write_metrics(args.output / "metrics.json", result)
    _print_summary(result, args)


def _evaluate(network, vocabulary, splits, train_pieces, arrays) -> dict:
    """Test NLL per token of the network and of the n-gram models."""
    import numpy as np

    from applications.music import model, ngrams

    log_likelihoods = model.token_log_likelihoods(network, *arrays.test)
    nll = -float(np.mean(log_likelihoods))
    encoded = {
        name: [vocabulary.encode(p.events) for p in pieces]
        for name, pieces in (
            ("train", train_pieces),
            ("unaugmented", splits.train),
            ("validation", splits.validation),
            ("test", splits.test),
        )
    }
    # Both the augmented and the plain training pieces are tried: the
    # network is compared with the better n-gram model of each order.
    baselines = {}
    for order, name in ((1, "unigram"), (2, "bigram"), (3, "trigram")):
        candidates = []
        for fitted_on in ("train", "unaugmented"):
            ngram = ngrams.InterpolatedNGram(order, len(vocabulary) - 2)
            ngram.fit(encoded[fitted_on], encoded["validation"])
            value = -float(np.mean(ngram.log_likelihoods(encoded["test"])))
            candidates.append(
                {
                    "nll_per_token": value,
                    "perplexity": float(np.exp(value)),
                    "lambdas": ngram.lambdas,
                    "fitted_on": "augmented" if fitted_on == "train" else "plain",
                }
            )
        baselines[name] = min(candidates, key=lambda c: c["nll_per_token"])
    test_tokens = np.concatenate([np.asarray(t) for t in encoded["test"]])
    return {
        "test_nll_per_token": nll,
        "test_perplexity": float(np.exp(nll)),
        "baselines": baselines,
        "nll_ratio_to_bigram": nll / baselines["bigram"]["nll_per_token"],
        "beats_trigram": nll < baselines["trigram"]["nll_per_token"],
        "test_tokens": int(test_tokens.size),
        "test_unknown_share": float(np.mean(test_tokens == data.UNKNOWN)),
        "vocabulary_size": len(vocabulary),
        "pieces": {
            "train": len(splits.train),
            "train_augmented": len(train_pieces),
            "validation": len(splits.validation),
            "test": len(splits.test),
        },
    }


def _sample_statistics(network, vocabulary, splits, args) -> dict:
    """Sample melodies from scratch; their statistics against the test pieces."""
    import numpy as np

    from applications.music import analysis, model

    tokens = model.sample(
        network,
        [[data.START]] * STATISTICS_SAMPLES,
        STATISTICS_LENGTH,
        temperature=1.0,
        rng=np.random.default_rng(args.seed),
    )
    melodies = [vocabulary.decode(row) for row in tokens]
    analysis.write_midi(melodies[0], args.output / f"{SAMPLE_STEM}.mid")
    analysis.plot_piano_roll(
        melodies[0], args.output / f"{SAMPLE_STEM}.png", title="a sampled melody"
    )
    statistics = analysis.melody_statistics(melodies, [p.events for p in splits.test])
    return {
        "samples": STATISTICS_SAMPLES,
        "length": STATISTICS_LENGTH,
        "temperature": 1.0,
        **statistics,
    }


def _print_summary(result: dict, args: argparse.Namespace) -> None:
    baselines = result["baselines"]
    print(
        f"test NLL {result['test_nll_per_token']:.3f} nats/token (perplexity "
        f"{result['test_perplexity']:.1f}); unigram "
        f"{baselines['unigram']['nll_per_token']:.3f}, bigram "
        f"{baselines['bigram']['nll_per_token']:.3f}, trigram "
        f"{baselines['trigram']['nll_per_token']:.3f}; "
        f"{result['nll_ratio_to_bigram']:.2f}x bigram after {args.epochs} epochs "
        f"({result['fit_seconds']:.0f} s training); report in {args.output}"
    )


# --- generation ------------------------------------------------------------------


def _generate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    vocabulary_path = args.model / VOCABULARY_FILE
    model_path = args.model / "model.keras"
    for path in (vocabulary_path, model_path):
        if not path.is_file():
            raise cli.AppError(
                f"--model {args.model}: no {path.name}; expected the output "
                f"directory of a training run (`{PROG} --output DIR`)"
            )
    vocabulary = data.Vocabulary.from_json(vocabulary_path.read_text())
    seed_tokens = []
    for event in args.seed_notes:
        token = vocabulary.id_of(event)
        if token is None:
            known = sorted({d for _, d in vocabulary.words})
            parser.error(
                f"argument --seed-notes: {data.format_event(event)} is not a "
                "(pitch, duration) the model knows; its durations: "
                f"{', '.join(f'{d:g}' for d in known)}"
            )
        seed_tokens.append(token)
    output = args.output or args.model / "generated.mid"
    output.parent.mkdir(parents=True, exist_ok=True)
    import keras
    import numpy as np

    import keras_bp  # noqa: F401  (registers BPTTModel for loading)
    from applications.music import analysis, model

    network = keras.saving.load_model(model_path, compile=False)
    tokens = model.sample(
        network,
        [[data.START, *seed_tokens]],
        args.length,
        temperature=args.temperature,
        rng=np.random.default_rng(args.seed),
    )[0]
    seed = list(args.seed_notes)
    melody = seed + vocabulary.decode(tokens)
    analysis.write_midi(melody, output)
    image = output.with_suffix(".png")
    analysis.plot_piano_roll(
        melody,
        image,
        title=f"{len(seed)} seed + {args.length} generated notes, "
        f"temperature {args.temperature:g}",
        highlight=len(seed),
    )
    print(" ".join(data.format_event(e) for e in melody))
    print(
        f"in-key share {analysis.in_key_share(melody):.2f}, mean interval "
        f"{analysis.mean_interval(melody):.2f} semitones; wrote {output} and {image}"
    )


if __name__ == "__main__":
    sys.exit(main())
