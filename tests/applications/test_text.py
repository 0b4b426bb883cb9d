"""applications.text: loaders, split, sparse embedding gradients, CLI, errors."""

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from applications.common.cli import AppError
from applications.common.optimizers import OPTIMIZERS
from applications.text import data
from applications.text.__main__ import main


def write_yaml(path: Path, conversations) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"conversations": conversations}), "utf-8")


def write_texts(root: Path, classes: dict[str, list[str]]) -> Path:
    for name, texts in classes.items():
        (root / name).mkdir(parents=True)
        for i, text in enumerate(texts):
            (root / name / f"{i}.txt").write_text(text, "utf-8")
    return root


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    return err


# --- loaders ------------------------------------------------------------------


def test_language_loader_on_real_files_matches_a_plain_reading(tmp_path):
    real = data.corpus_root()
    for language in ("english", "spanish", "italian"):
        (tmp_path / language).mkdir()
        shutil.copy(real / language / "greetings.yml", tmp_path / language)
    corpus = data.load_language(tmp_path, min_utterances=1)
    # Independent reading: every string of every conversation, per language.
    per_language = {}
    for language in ("english", "spanish", "italian"):
        content = yaml.safe_load((tmp_path / language / "greetings.yml").read_text())
        per_language[language] = {
            u.strip() for c in content["conversations"] for u in c if u.strip()
        }
    owners = Counter(u for texts in per_language.values() for u in texts)
    expected = {
        (u, language)
        for language, texts in per_language.items()
        for u in texts
        if owners[u] == 1
    }
    got = {(t, corpus.class_names[y]) for t, y in zip(corpus.texts, corpus.labels)}
    assert got == expected
    assert len(corpus.texts) == len(got)  # no duplicates


def test_language_loader_drops_shared_texts_duplicates_and_small_languages(tmp_path):
    write_yaml(tmp_path / "aa" / "x.yml", [["hi", "same"], ["hi", "one"], ["two"]])
    write_yaml(tmp_path / "bb" / "y.yml", [["same", "uno"], ["dos", "tres"]])
    write_yaml(tmp_path / "cc" / "z.yml", [["solo"]])
    corpus = data.load_language(tmp_path, min_utterances=2)
    assert corpus.class_names == ("aa", "bb")
    pairs = sorted(
        (t, corpus.class_names[y]) for t, y in zip(corpus.texts, corpus.labels)
    )
    assert pairs == [
        ("dos", "bb"),
        ("hi", "aa"),
        ("one", "aa"),
        ("tres", "bb"),
        ("two", "aa"),
        ("uno", "bb"),
    ]


@pytest.fixture(scope="module")
def language_corpus():
    return data.load_language()


def test_default_language_task_has_fifteen_languages(language_corpus):
    corpus = language_corpus
    assert len(corpus.class_names) == 15
    assert "chinese" in corpus.class_names and "french" not in corpus.class_names
    assert len(set(corpus.texts)) == len(corpus.texts) > 12_000


def test_topic_loader_joins_conversations_and_keeps_big_topics(tmp_path):
    real = data.corpus_root() / "english"
    (tmp_path / "english").mkdir()
    for topic in ("ai", "food"):
        shutil.copy(real / f"{topic}.yml", tmp_path / "english")
    corpus = data.load_topic(tmp_path, min_conversations=18)
    food = yaml.safe_load((real / "food.yml").read_text())["conversations"]
    # food.yml has 17 conversations: below the threshold.
    assert len(food) == 17 and corpus.class_names == ("ai",)
    first = yaml.safe_load((real / "ai.yml").read_text())["conversations"][0]
    assert "\n".join(u.strip() for u in first) in set(corpus.texts)


def test_directory_loader(tmp_path):
    write_texts(tmp_path, {"pos": ["good", "great"], "neg": ["bad"]})
    corpus = data.load_directory(tmp_path)
    assert corpus.class_names == ("neg", "pos")
    assert sorted(zip(corpus.texts, corpus.labels)) == [
        ("bad", 0),
        ("good", 1),
        ("great", 1),
    ]


def test_split_is_stratified_disjoint_and_fixed(language_corpus):
    corpus = language_corpus
    splits = data.split(corpus)
    parts = (splits.train, splits.validation, splits.test)
    sets = [set(texts) for texts, _ in parts]
    assert sum(map(len, sets)) == len(corpus.texts)
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    total = np.bincount(corpus.labels)
    for (_, labels), fraction in zip(parts, (0.7, 0.1, 0.2)):
        counts = np.bincount(labels, minlength=len(total))
        assert np.all(np.abs(counts - fraction * total) <= 1.5)
    again = data.split(corpus)
    assert list(again.test[0]) == list(splits.test[0])


# --- sparse embedding gradients -------------------------------------------------


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_embedding_rows_of_unseen_tokens_stay_put_with_each_optimizer(name):
    import keras
    import tensorflow as tf

    from applications.text import model

    keras.utils.set_random_seed(0)
    network = model.build_recurrent("gru", 12, 3, units=4, embedding_dim=3)
    # Eager: two steps of a tiny model cost less than tracing them.
    network.compile(
        OPTIMIZERS[name].build(), "sparse_categorical_crossentropy", run_eagerly=True
    )
    ids = np.array([[1, 2, 3, 0], [4, 2, 0, 0]])
    labels = np.array([0, 2])
    network.build(ids.shape)
    table = network.embedding.embeddings
    with tf.GradientTape() as tape:
        loss = keras.losses.sparse_categorical_crossentropy(labels, network(ids))
    gradient = tape.gradient(loss, table)
    assert isinstance(gradient, tf.IndexedSlices)
    before = table.numpy()
    for _ in range(2):
        network.train_on_batch(ids, labels)
    changed = np.any(table.numpy() != before, axis=1)
    np.testing.assert_array_equal(np.flatnonzero(changed), [1, 2, 3, 4])


# --- end to end ------------------------------------------------------------------


def tiny_classes():
    rng = np.random.default_rng(0)
    words = {"ab": "abab ba aab", "xy": "xyx yy xxy"}
    return {
        name: [" ".join(rng.permutation(w.split())) + f" {i}" for i in range(12)]
        for name, w in words.items()
    }


@pytest.mark.parametrize("kind", ["gru", "bow"])
def test_train_then_predict(tmp_path, capsys, kind):
    folder = write_texts(tmp_path / "texts", tiny_classes())
    out = tmp_path / "run"
    argv = ["--dir", str(folder), "--model", kind, "--epochs", "2"]
    argv += ["--units", "4", "--embedding-dim", "4", "--verbose", "0"]
    argv += ["--output", str(out), "--cache-dir", str(tmp_path / "cache")]
    if kind == "gru":
        argv += ["--truncate", "3"]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.sum() == metrics["examples"]["test"]
    # Keras's evaluate and the confusion matrix are two routes to one number.
    assert metrics["test_accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    splits = data.split(data.load_directory(folder))
    commonest = Counter(splits.train[1]).most_common(1)[0][0]
    majority = np.mean(splits.test[1] == commonest)
    assert metrics["baselines"]["majority_class_accuracy"] == pytest.approx(majority)
    assert ("bow" in metrics["baselines"]) == (kind == "gru")
    for name in ("learning_curve.png", "confusion_matrix.png", "model.keras"):
        assert (out / name).is_file()
    capsys.readouterr()
    assert main(["predict", "--model", str(out), "abab ba", "xyx yy"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    for line in lines:
        label, probability, _ = line.split("\t")
        assert label in ("ab", "xy") and 0.5 <= float(probability) <= 1


# --- bad input ---------------------------------------------------------------------


def test_empty_directory(tmp_path, capsys):
    (tmp_path / "t").mkdir()
    assert main(["--dir", str(tmp_path / "t"), "--output", str(tmp_path / "o")]) == 1
    assert "holds no class folders" in one_line_error(capsys)


def test_one_class_only(tmp_path, capsys):
    write_texts(tmp_path / "t", {"only": ["a", "b", "c"]})
    assert main(["--dir", str(tmp_path / "t"), "--output", str(tmp_path / "o")]) == 1
    assert "one class folder only (only)" in one_line_error(capsys)


def test_empty_class_folder(tmp_path, capsys):
    write_texts(tmp_path / "t", {"a": ["x", "y", "z"]})
    (tmp_path / "t" / "b").mkdir()
    assert main(["--dir", str(tmp_path / "t"), "--output", str(tmp_path / "o")]) == 1
    assert "b holds no files" in one_line_error(capsys)


def test_non_utf8_file_is_named(tmp_path, capsys):
    write_texts(tmp_path / "t", {"a": ["x", "y", "z"], "b": ["u", "v", "w"]})
    (tmp_path / "t" / "b" / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    assert main(["--dir", str(tmp_path / "t"), "--output", str(tmp_path / "o")]) == 1
    assert "latin1.txt is not UTF-8" in one_line_error(capsys)


def test_unreadable_file_is_named(tmp_path, capsys, monkeypatch):
    write_texts(tmp_path / "t", {"a": ["x", "y", "z"], "b": ["u", "v", "w"]})
    original = Path.read_text

    def read_text(self, *args, **kwargs):
        if self.name == "1.txt" and self.parent.name == "b":
            raise PermissionError(13, "Permission denied")
        return original(self, *args, **kwargs)

    # Permission bits do not stop root, so the failure is simulated.
    monkeypatch.setattr(Path, "read_text", read_text)
    assert main(["--dir", str(tmp_path / "t"), "--output", str(tmp_path / "o")]) == 1
    assert "b/1.txt: Permission denied" in one_line_error(capsys)


def test_class_too_small_to_split():
    corpus = data.Corpus.from_pairs([("a", "x"), ("b", "x"), ("c", "x"), ("d", "y")])
    with pytest.raises(AppError, match="class 'y' has 1 text"):
        data.split(corpus)


def test_imdb_absent_gives_one_line(tmp_path):
    # A real process: the exit status and stderr exactly as a user sees them.
    result = subprocess.run(
        [sys.executable, "-m", "applications.text", "--dataset", "imdb"]
        + ["--data-dir", str(tmp_path), "--output", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "no prepared IMDB reviews in" in result.stderr
    assert "tfds build imdb_reviews" in result.stderr


def test_predict_without_a_model(tmp_path, capsys):
    assert main(["predict", "--model", str(tmp_path), "hello"]) == 1
    assert "holds no model.keras" in one_line_error(capsys)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--truncate", "0"], "argument --truncate: expected a positive integer"),
        (["--task", "sentiment"], "argument --task: invalid choice"),
        (["--dir", "/no/such/folder"], "no such directory"),
        (["--model", "cnn"], "argument --model: invalid choice"),
    ],
)
def test_bad_flags(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in one_line_error(capsys)


def test_predict_needs_text(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--model", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "TEXT" in one_line_error(capsys)
