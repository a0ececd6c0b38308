"""Raw text for pretraining, one reader for every objective: files -> documents -> sentences ->
words.

Each file is one document (a book, for Project Gutenberg). A document's text is cut into
paragraphs at blank lines, since hard-wrapped lines run on but a heading never runs into the
next paragraph; paragraphs are split into sentences by NLTK's Punkt, trained without
supervision on the document itself (Kiss & Strunk 2006), so that the abbreviations of that text
("Mr.", "St.") do not end sentences; sentences are split into words by NLTK's Treebank-style
word tokenizer, whose words are cut from the text as written (quotes are not rewritten).

The held-out text is chosen deterministically: whole documents named in `heldout_documents`,
and from every other document the last `heldout_fraction` of its sentences, so that held-out
text is contiguous and next-sentence pairs can be drawn from it too.
"""

import ctypes
import functools
import hashlib
import logging
import math
import os
import re
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from tqdm import tqdm

from probing.utils.errors import ProbingError
from probing.utils.text_files import read_text, unreadable

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
GUTENBERG_START = re.compile(r"^\*\*\*\s*START OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK.*$",
                             re.MULTILINE | re.IGNORECASE)
GUTENBERG_END = re.compile(r"^\*\*\*\s*END OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK.*$",
                           re.MULTILINE | re.IGNORECASE)
# The closing line many books have just above the END marker, wrapped or not.
GUTENBERG_TRAILER = re.compile(
    r"^[ \t]*End of (?:the |this )?Project Gutenberg(?:(?!\n\s*\n).)*\s*\Z",
    re.MULTILINE | re.IGNORECASE | re.DOTALL)
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


PR_SET_PDEATHSIG = 1  # prctl(2) option: the signal a process gets when its parent ends


def end_with_parent(parent: int) -> None:
    """Initializer of a reader worker: end it when the parent process `parent` ends, however
    that ends (SIGKILL included), instead of leaving an orphan holding its memory. On Linux the
    kernel sends SIGKILL (prctl PR_SET_PDEATHSIG); elsewhere, or where that fails, a thread
    watches the parent's pid."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0:
                if os.getppid() != parent:  # it ended before prctl took effect
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _watch_parent(parent: int, every: float = 0.5) -> None:
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


@dataclass
class Document:
    name: str
    sentences: list[list[str]]


@dataclass
class CorpusSplits:
    train: list[Document]
    heldout: list[Document]


# The fields of CorpusSplits: the text a model trains on, and the text it is evaluated on.
# (Not the train/dev/test splits of an annotated probing task, `probing.tasks.base.SPLITS`.)
CORPUS_SPLITS = ("train", "heldout")


class TextCorpus:
    """Plain UTF-8 text files, given as files or folders (`pattern` picks files in folders).

    `gutenberg` keeps only the text between the Project Gutenberg START and END marker lines,
    dropping the header and the licence. `workers` processes read documents in parallel.
    """

    def __init__(self, paths: list[str], name: str, pattern: str, gutenberg: bool,
                 heldout_fraction: float, heldout_documents: list[str] | tuple[str, ...],
                 workers: int) -> None:
        if not 0 <= heldout_fraction < 1:
            raise ProbingError(f"text.heldout_fraction must be in [0, 1); got {heldout_fraction}")
        self.paths = [Path(p).expanduser() for p in paths]
        self.name = name
        self.pattern = pattern
        self.gutenberg = gutenberg
        self.heldout_fraction = float(heldout_fraction)  # 0 and 0.0: one cache key
        self.heldout_documents = list(heldout_documents)
        self.workers = workers

    def files(self) -> list[Path]:
        """The corpus files in a fixed order; their stems name the documents."""
        if not self.paths:
            raise ProbingError("text.paths is empty: give the text files or folders to read")
        files: list[Path] = []
        for path in self.paths:
            if path.is_dir():
                found = sorted(p for p in path.glob(self.pattern) if p.is_file())
                if not found:
                    raise ProbingError(f"corpus folder {path} holds no files matching "
                                       f"{self.pattern!r}; check text.paths and text.pattern")
                files.extend(found)
            elif path.is_file():
                files.append(path)
            elif path.is_symlink():  # a loop or a dangling link: say which, not "not found"
                try:
                    path.stat()
                except OSError as e:
                    raise unreadable(path, "a text file or folder", e) from None
            else:
                raise ProbingError(f"corpus path not found: {path}; set text.paths (or "
                                   "PROBING_DATA_DIR for the shared corpora)")
        stems: dict[str, Path] = {}
        for file in files:
            if file.stem in stems:
                raise ProbingError(f"two corpus files would both be document {file.stem!r}: "
                                   f"{stems[file.stem]} and {file}; rename one of them")
            stems[file.stem] = file
        missing = set(self.heldout_documents) - set(stems)
        if missing:
            raise ProbingError(f"text.heldout_documents names {sorted(missing)}, which are not "
                               f"documents of this corpus (documents are file names without "
                               f"their extension, e.g. {next(iter(stems))!r})")
        return files

    def fingerprint(self) -> str:
        """Hash of the files' bytes and of everything that decides how they are read: what a
        cache built from this corpus is keyed by, without reading the corpus again."""
        digest = hashlib.sha256()
        settings = (FORMAT_VERSION, metadata.version("nltk"), self.gutenberg,
                    self.heldout_fraction, sorted(self.heldout_documents))
        digest.update(repr(settings).encode())
        for file in self.files():
            digest.update(file.stem.encode())
            digest.update(hashlib.sha256(file.read_bytes()).digest())
        return digest.hexdigest()

    def read(self) -> CorpusSplits:
        files = self.files()
        jobs = [(file, self.gutenberg) for file in files]
        progress = dict(total=len(files), desc=f"reading {self.name}", unit="doc")
        if self.workers > 1 and len(files) > 1:
            with ProcessPoolExecutor(min(self.workers, len(files)), initializer=end_with_parent,
                                     initargs=(os.getpid(),)) as pool:
                documents = list(tqdm(pool.map(_read_document, jobs), **progress))
        else:
            documents = list(tqdm(map(_read_document, jobs), **progress))
        splits = self._split(documents)
        log.info("corpus %s: %d documents; train %d sentences, %d words; held out %d sentences, "
                 "%d words", self.name, len(documents), *_sizes(splits.train),
                 *_sizes(splits.heldout))
        return splits

    def _split(self, documents: list[Document]) -> CorpusSplits:
        splits = CorpusSplits([], [])
        for doc in documents:
            if doc.name in self.heldout_documents:
                splits.heldout.append(doc)
                continue
            n_heldout = round(len(doc.sentences) * self.heldout_fraction)
            cut = len(doc.sentences) - n_heldout
            if cut == 0:
                raise ProbingError(f"document {doc.name} has {len(doc.sentences)} sentences, too "
                                   f"few to hold out {self.heldout_fraction:.0%} of them and "
                                   "train on the rest; lower text.heldout_fraction")
            splits.train.append(Document(doc.name, doc.sentences[:cut]))
            if n_heldout:
                splits.heldout.append(Document(doc.name, doc.sentences[cut:]))
        if not splits.train:
            raise ProbingError(f"corpus {self.name}: every document is held out; leave some "
                               "out of text.heldout_documents to train on")
        if not splits.heldout:
            raise ProbingError(self._nothing_held_out(splits.train))
        return splits


    def _nothing_held_out(self, train: list[Document]) -> str:
        if self.heldout_fraction == 0:
            return (f"corpus {self.name}: no held-out text to evaluate on; set "
                    "text.heldout_fraction > 0 or name text.heldout_documents")
        longest = max(len(doc.sentences) for doc in train)
        needed = math.floor(0.5 / self.heldout_fraction) + 1  # round() of n x fraction >= 1
        return (f"corpus {self.name} is too small to hold anything out: its longest document has "
                f"{longest} sentences, and text.heldout_fraction={self.heldout_fraction} holds "
                f"out a sentence only from documents of {needed} or more; give more text, raise "
                "text.heldout_fraction or name text.heldout_documents")


def _read_document(job: tuple[Path, bool]) -> Document:
    path, gutenberg = job
    text = read_text(path, "a UTF-8 text file of the corpus")
    if gutenberg:
        text = strip_gutenberg(text, path)
    sentences = split_sentences(text)
    if not sentences:
        where = " between its Project Gutenberg markers" if gutenberg else ""
        raise ProbingError(f"{path} holds no text{where}; remove it from the corpus")
    return Document(path.stem, sentences)


def strip_gutenberg(text: str, source: Path | str = "text") -> str:
    """The book between the `*** START OF ... ***` and `*** END OF ... ***` marker lines, less
    the "End of the Project Gutenberg EBook of ..." line that often closes it."""
    start, end = GUTENBERG_START.search(text), GUTENBERG_END.search(text)
    if start is None or end is None or end.start() < start.end():
        raise ProbingError(f"{source}: no Project Gutenberg START/END marker lines ('*** START OF "
                           "THE PROJECT GUTENBERG EBOOK ... ***'); for other text set "
                           "text.gutenberg=false")
    return GUTENBERG_TRAILER.sub("", text[start.end():end.start()])


def split_sentences(text: str) -> list[list[str]]:
    """Paragraphs at blank lines, sentences by Punkt trained on this text, then words."""
    # Imported here: importing nltk takes seconds (it loads scipy), and a run that finds its
    # corpus cached never needs it.
    from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTrainer

    paragraphs = [" ".join(p.split()) for p in PARAGRAPH_BREAK.split(text)]
    paragraphs = [p for p in paragraphs if p]
    trainer = PunktTrainer()
    trainer.train("\n\n".join(paragraphs), finalize=True)
    punkt = PunktSentenceTokenizer(trainer.get_params())
    return [words for paragraph in paragraphs for sentence in punkt.tokenize(paragraph)
            if (words := split_words(sentence))]


def split_words(sentence: str) -> list[str]:
    return [sentence[start:end] for start, end in _word_tokenizer().span_tokenize(sentence)]


@functools.cache
def _word_tokenizer():
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


def _sizes(documents: list[Document]) -> tuple[int, int]:
    sentences = [s for doc in documents for s in doc.sentences]
    return len(sentences), sum(len(s) for s in sentences)
