"""Labelled texts: the chatterbot corpus (default), IMDB reviews, or a folder.

Every loader returns a `Corpus`: the texts, their int32 class indices and
the class names; `split` cuts it into stratified train/validation/test
`Splits` of NumPy arrays (texts as `str` objects, labels as int32).

- `--task language` (default): which language of the chatterbot corpus an
  utterance is written in. Duplicates are removed, so are texts that appear
  under two languages (they cannot be told apart) and languages with fewer
  than `MIN_LANGUAGE_UTTERANCES` utterances: 12,676 utterances in 15
  languages.
- `--task topic`: the topic (file name) of an English conversation, for the
  topics with at least `MIN_TOPIC_CONVERSATIONS` conversations; a
  conversation is its utterances joined by newlines. Imbalanced: half of
  all conversations are tech support.
- `--dataset imdb`: IMDB movie reviews (positive or negative) prepared by
  tensorflow-datasets in `--data-dir`; its own test set is kept.
- `--dir PATH`: one sub-folder per class of text files, the layout of
  `keras.utils.text_dataset_from_directory`.

PyYAML, scikit-learn and tensorflow-datasets are imported where they are
used: the command line imports this module to parse its flags.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from applications.common.cli import AppError
from applications.common.data import Splits, stratified_holdout, stratified_split

TASKS = ("language", "topic")
DATASETS = ("chatterbot", "imdb")
MIN_LANGUAGE_UTTERANCES = 200
MIN_TOPIC_CONVERSATIONS = 15
# The split is part of the data set's definition, not of a run: every seed,
# model and optimizer is measured on the same test texts.
SPLIT_SEED = 0
TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.1
IMDB_VALIDATION_SIZE = 5_000
IMDB_CLASSES = ("negative", "positive")


@dataclass(frozen=True)
class Corpus:
    """Texts with their class indices into `class_names`."""

    texts: np.ndarray  # object array of str
    labels: np.ndarray  # int32
    class_names: tuple[str, ...]

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> "Corpus":
        """A corpus from `(text, class name)` pairs; classes sorted by name."""
        pairs = list(pairs)
        class_names = tuple(sorted({name for _, name in pairs}))
        index = {name: i for i, name in enumerate(class_names)}
        texts = np.empty(len(pairs), dtype=object)
        texts[:] = [text for text, _ in pairs]
        labels = np.array([index[name] for _, name in pairs], dtype=np.int32)
        return cls(texts, labels, class_names)


def corpus_root() -> Path:
    """The data folder of the installed chatterbot-corpus package."""
    try:
        import chatterbot_corpus
    except ImportError:
        raise AppError(
            "the chatterbot corpus is not installed: pip install chatterbot-corpus"
        ) from None
    return Path(chatterbot_corpus.__file__).parent / "data"


def _read_yaml(path: Path) -> dict:
    try:
        import yaml
    except ImportError:
        raise AppError(
            "reading the chatterbot corpus needs PyYAML: pip install PyYAML"
        ) from None
    # The C loader parses the corpus ten times faster when PyYAML has it.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with path.open(encoding="utf-8") as file:
            content = yaml.load(file, Loader=loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise AppError(f"cannot read {path}: {error}") from None
    return content if isinstance(content, dict) else {}


def _conversations(path: Path) -> list[list[str]]:
    """The conversations of one corpus file, each a list of utterances."""
    conversations = _read_yaml(path).get("conversations") or []
    return [
        [u.strip() for u in conversation if isinstance(u, str) and u.strip()]
        for conversation in conversations
        if isinstance(conversation, list)
    ]


def load_language(
    root: Path | None = None, min_utterances: int = MIN_LANGUAGE_UTTERANCES
) -> Corpus:
    """Utterances labelled with their language (the corpus's folder names)."""
    root = corpus_root() if root is None else root
    languages: dict[str, set[str]] = {}
    for path in sorted(root.glob("*/*.yml")):
        utterances = languages.setdefault(path.parent.name, set())
        for conversation in _conversations(path):
            utterances.update(conversation)
    seen: dict[str, int] = {}
    for utterances in languages.values():
        for text in utterances:
            seen[text] = seen.get(text, 0) + 1
    unique = {
        language: sorted(text for text in utterances if seen[text] == 1)
        for language, utterances in languages.items()
    }
    return Corpus.from_pairs(
        (text, language)
        for language, texts in unique.items()
        if len(texts) >= min_utterances
        for text in texts
    )


def load_topic(
    root: Path | None = None, min_conversations: int = MIN_TOPIC_CONVERSATIONS
) -> Corpus:
    """English conversations labelled with their topic (the file name)."""
    root = corpus_root() if root is None else root
    pairs = []
    for path in sorted((root / "english").glob("*.yml")):
        texts = sorted({"\n".join(c) for c in _conversations(path) if c})
        if len(texts) >= min_conversations:
            pairs.extend((text, path.stem) for text in texts)
    return Corpus.from_pairs(pairs)


def load_directory(path: Path) -> Corpus:
    """One sub-folder per class, each holding UTF-8 text files.

    Raises:
        AppError: for no class folder, a single class, an empty class folder,
            or a file that cannot be read or is not UTF-8 (naming it).
    """
    classes = sorted(p for p in path.iterdir() if p.is_dir())
    if not classes:
        raise AppError(
            f"{path} holds no class folders: expected one sub-folder per class, "
            "each with text files"
        )
    if len(classes) < 2:
        raise AppError(
            f"{path} holds one class folder only ({classes[0].name}): "
            "a classifier needs at least two"
        )
    pairs = []
    for folder in classes:
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        if not files:
            raise AppError(f"class folder {folder} holds no files")
        for file in files:
            try:
                text = file.read_text(encoding="utf-8")
            except UnicodeDecodeError as error:
                raise AppError(f"{file} is not UTF-8 text: {error.reason}") from None
            except OSError as error:
                raise AppError(
                    f"cannot read {file}: {error.strerror or error}"
                ) from None
            pairs.append((text, folder.name))
    return Corpus.from_pairs(pairs)


def load_imdb(data_dir: Path | None) -> Splits:
    """IMDB reviews (0 negative, 1 positive), never downloading them.

    The validation set is a stratified part of the training set; the test
    set is IMDB's own.

    Raises:
        AppError: when `data_dir` holds no prepared `imdb_reviews`.
    """
    from applications.common import tfds

    train, test = tfds.load_train_test("imdb_reviews", "IMDB reviews", data_dir)
    train, validation = stratified_holdout(
        *_decoded(train), IMDB_VALIDATION_SIZE, SPLIT_SEED
    )
    return Splits(train=train, validation=validation, test=_decoded(test))


def _decoded(texts_and_labels):
    texts, labels = texts_and_labels
    decoded = np.empty(len(texts), dtype=object)
    decoded[:] = [text.decode("utf-8") for text in texts]
    return decoded, labels.astype(np.int32)


def split(
    corpus: Corpus,
    *,
    test_fraction: float = TEST_FRACTION,
    validation_fraction: float = VALIDATION_FRACTION,
    seed: int = SPLIT_SEED,
) -> Splits:
    """Stratified train/validation/test splits; fractions of the whole corpus.

    Raises:
        AppError: when a class has too few texts to appear in every split.
    """
    counts = np.bincount(corpus.labels, minlength=len(corpus.class_names))
    smallest = int(counts.argmin())
    if counts[smallest] < 3:
        raise AppError(
            f"class {corpus.class_names[smallest]!r} has {counts[smallest]} "
            "text(s): each class needs at least 3, one for each of the train, "
            "validation and test sets"
        )
    total = len(corpus.texts)
    # Every split gets at least one text of every class.
    classes = len(corpus.class_names)
    test_size = max(round(test_fraction * total), classes)
    validation_size = max(round(validation_fraction * total), classes)
    return stratified_split(
        corpus.texts,
        corpus.labels,
        test_size=test_size,
        validation_size=validation_size,
        seed=seed,
    )


def load(
    task: str,
    dataset: str = "chatterbot",
    data_dir: Path | None = None,
    directory: Path | None = None,
) -> tuple[Splits, tuple[str, ...]]:
    """The splits and class names of a data set.

    `directory` (a folder per class) wins over `dataset`; `task` chooses
    what is predicted on the chatterbot corpus.
    """
    if directory is not None:
        corpus = load_directory(directory)
    elif dataset == "imdb":
        return load_imdb(data_dir), IMDB_CLASSES
    elif dataset != "chatterbot":
        raise ValueError(
            f"dataset must be one of {', '.join(DATASETS)}, got {dataset!r}"
        )
    elif task == "language":
        corpus = load_language()
    elif task == "topic":
        corpus = load_topic()
    else:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    return split(corpus), corpus.class_names
