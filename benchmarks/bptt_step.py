"""BPTTModel against Keras's own recurrent layers: speed and memory.

1. Training throughput (sequences a second) of full BPTT with BPTTModel
   (SimpleRNNCell, LSTMCell) at T = 50, 100, 200, against keras.layers
   SimpleRNN / LSTM in a Sequential model, trained with `fit` on the same
   data in the same process, same compile settings, the models taking turns
   round after round. Prints the median over the rounds of the ratio
   BPTTModel / Keras within a round (target: >= 0.9), and its range.
2. Peak resident memory of one training epoch of truncated BPTT(k2; k1) as T
   grows with k2 fixed, next to full BPTT: each point runs in a fresh
   subprocess, so `ru_maxrss` is that configuration's own peak.

    python benchmarks/bptt_step.py            # both parts
    python benchmarks/bptt_step.py --quick    # fewer, shorter runs
    python benchmarks/bptt_step.py --part speed --jit-compile false
    python benchmarks/bptt_step.py --part speed --clock process   # shared machine
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def make_data(steps, features, outputs, count, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, steps, features)).astype("float32")
    y = rng.normal(size=(count, steps, outputs)).astype("float32")
    return x, y


def build(kind, cell_name, units, steps, features, gradient="autodiff", k=None):
    import keras

    import keras_bp

    if kind == "keras":
        layer = {"simple_rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM}
        return keras.Sequential(
            [
                keras.Input((steps, features)),
                layer[cell_name](units, return_sequences=True),
                keras.layers.Dense(1),
            ]
        )
    cell = {"simple_rnn": keras.layers.SimpleRNNCell, "lstm": keras.layers.LSTMCell}
    return keras_bp.BPTTModel(
        cell[cell_name](units), keras.layers.Dense(1), k1=k, k2=k, gradient=gradient
    )


CLOCKS = {"wall": time.perf_counter, "process": time.process_time}


def throughputs(models, x, y, batch_size, epochs, jit_compile, repeats, clock):
    """Sequences/second of each model in each of `repeats` rounds.

    In a round every model trains once, in an order that rotates from round
    to round, so that a slow spell of a shared machine falls on all of them
    alike and a round's ratios compare runs made side by side. `clock` is a
    key of CLOCKS: wall-clock seconds, or the CPU seconds of this process
    (all its threads), which other processes on the machine hardly change.

    Returns:
        One list per round, of the models' rates in the given order.
    """
    import keras

    for model in models:
        model.compile(keras.optimizers.SGD(0.01), "mse", jit_compile=jit_compile)
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)  # compile
    rounds = []
    for round_index in range(repeats):
        rates = [0.0] * len(models)
        shift = round_index % len(models)
        for index in [*range(shift, len(models)), *range(shift)]:
            start = CLOCKS[clock]()
            models[index].fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
            rates[index] = len(x) * epochs / (CLOCKS[clock]() - start)
        rounds.append(rates)
    return rounds


def speed(args):
    import keras
    import numpy as np

    unit = "seq/s" if args.clock == "wall" else "seq/cpu-s"
    print(f"load average {os.getloadavg()[0]:.2f}; clock: {args.clock}", flush=True)
    rows = []
    for cell_name in ("simple_rnn", "lstm"):
        for steps in args.steps:
            x, y = make_data(steps, args.features, 1, args.sequences)
            variants = [("keras", "autodiff"), ("bptt", "autodiff")]
            if cell_name == "simple_rnn":
                variants.append(("bptt", "explicit"))
            models = []
            for kind, gradient in variants:
                keras.utils.set_random_seed(0)
                models.append(
                    build(kind, cell_name, args.units, steps, args.features, gradient)
                )
            rates = np.array(
                throughputs(
                    models,
                    x,
                    y,
                    args.batch_size,
                    args.epochs,
                    args.jit_compile,
                    args.repeats,
                    args.clock,
                )
            )
            reference = np.median(rates[:, 0])
            for index, (_, gradient) in enumerate(variants[1:], start=1):
                ratios = rates[:, index] / rates[:, 0]
                rate = np.median(rates[:, index])
                rows.append((cell_name, steps, gradient, reference, ratios))
                print(
                    f"{cell_name:10s} T={steps:4d} {gradient:9s} keras "
                    f"{reference:7.0f} {unit}  BPTTModel {rate:7.0f}"
                    f" {unit}  ratio median {np.median(ratios):5.2f} "
                    f"(rounds {ratios.min():.2f}-{ratios.max():.2f})",
                    flush=True,
                )
    print(f"load average {os.getloadavg()[0]:.2f}", flush=True)
    return rows


def probe(args):
    """One memory measurement, run in its own process: prints JSON."""
    import keras

    x, y = make_data(args.probe_steps, args.features, 1, args.batch_size)
    k = None if args.probe_k == 0 else args.probe_k
    model = build("bptt", args.probe_cell, args.memory_units, None, args.features, k=k)
    model.compile(keras.optimizers.SGD(0.01), "mse", jit_compile=args.jit_compile)
    model.fit(x[:, :8], y[:, :8], batch_size=args.batch_size, verbose=0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_mb": after / 1024, "growth_mb": (after - before) / 1024}))


def memory(args):
    rows = []
    for k in (args.k2, 0):
        for steps in args.memory_steps:
            command = [
                sys.executable,
                __file__,
                "--probe-steps",
                str(steps),
                "--probe-k",
                str(k),
                "--probe-cell",
                "lstm",
                "--memory-units",
                str(args.memory_units),
                "--batch-size",
                str(args.batch_size),
                "--features",
                str(args.features),
                "--jit-compile",
                str(args.jit_compile).lower(),
            ]
            output = subprocess.run(command, capture_output=True, text=True, check=True)
            measured = json.loads(output.stdout.strip().splitlines()[-1])
            label = f"truncated k1=k2={k}" if k else "full BPTT"
            rows.append((label, steps, measured["peak_mb"], measured["growth_mb"]))
            print(
                f"{label:20s} T={steps:5d} peak RSS {measured['peak_mb']:7.0f} MB  "
                f"growth in the timed epoch {measured['growth_mb']:7.0f} MB",
                flush=True,
            )
    return rows


def boolean(text):
    if text.lower() not in ("true", "false", "auto"):
        raise argparse.ArgumentTypeError(f"expected true, false or auto, got {text!r}")
    return {"true": True, "false": False}.get(text.lower(), "auto")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("speed", "memory", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--steps", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--sequences", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9, help="rounds")
    parser.add_argument("--jit-compile", type=boolean, default="auto")
    parser.add_argument(
        "--clock",
        choices=list(CLOCKS),
        default="wall",
        help="wall: sequences a wall-clock second; process: a CPU second of "
        "this process (steadier on a shared machine)",
    )
    parser.add_argument("--k2", type=int, default=50, help="truncation k1 = k2")
    parser.add_argument("--memory-units", type=int, default=256)
    parser.add_argument(
        "--memory-steps", type=int, nargs="+", default=[250, 1000, 4000]
    )
    parser.add_argument("--probe-steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--probe-k", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--probe-cell", default="lstm", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe_steps is not None:
        probe(args)
        return
    if args.quick:
        args.sequences, args.repeats, args.epochs = 256, 1, 1
        args.memory_steps = [200, 800]
    if args.part in ("speed", "both"):
        speed(args)
    if args.part in ("memory", "both"):
        memory(args)


if __name__ == "__main__":
    main()
