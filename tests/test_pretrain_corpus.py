"""The corpus reader's worker processes end with their parent, however it ends."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A pretraining process reading a corpus with two workers that never finish their document;
# each worker writes its pid to <out>/<pid> first. With "watch", the workers take the way of
# platforms without prctl: a thread that watches the parent.
PARENT = textwrap.dedent("""
    import os, sys, time, types
    from pathlib import Path

    import probing.pretrain.corpus as corpus

    out = Path(sys.argv[1])
    if sys.argv[2] == "watch":
        corpus.sys = types.SimpleNamespace(platform="elsewhere")

    def stuck(job):
        (out / str(os.getpid())).write_text("")
        time.sleep(600)

    corpus._read_document = stuck
    for i in range(4):
        (out / f"doc{i}.txt").write_text("A sentence. Another one.")
    corpus.TextCorpus([str(out)], name="t", pattern="*.txt", gutenberg=False,
                      heldout_fraction=0.1, heldout_documents=[], workers=2).read()
""")


def alive(pid: int) -> bool:
    """Running (a zombie that nobody reaps yet counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(("how", "sig"), [("prctl", signal.SIGKILL), ("prctl", signal.SIGTERM),
                                          ("watch", signal.SIGKILL)])
def test_workers_end_with_their_parent(tmp_path, how, sig):
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path), how], env=env,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(workers := [int(p.name) for p in tmp_path.iterdir() if p.name.isdigit()]) < 2:
            assert parent.poll() is None, "the parent ended before its workers started"
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
        parent.send_signal(sig)
        parent.wait(10)
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [pid for pid in workers if alive(pid)]
        assert not left, f"workers {left} outlived their parent"
    finally:
        parent.kill()
        for pid in [int(p.name) for p in tmp_path.iterdir() if p.name.isdigit()]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_corpus_too_small_to_hold_out_says_so(tmp_path):
    from probing.pretrain.corpus import TextCorpus
    from probing.utils.errors import ProbingError

    (tmp_path / "tiny.txt").write_text("One sentence. Two of them. And three.")
    corpus = TextCorpus([str(tmp_path)], name="tiny", pattern="*.txt", gutenberg=False,
                        heldout_fraction=0.1, heldout_documents=[], workers=1)
    with pytest.raises(ProbingError, match=r"too small to hold anything out: its longest "
                                           r"document has 3 sentences.*documents of 6 or more"):
        corpus.read()


def test_pretraining_text_is_read_like_the_corpora(tmp_path):
    from probing.pretrain.corpus import TextCorpus
    from probing.utils.errors import ProbingError

    def corpus(path):
        return TextCorpus([str(path)], name="t", pattern="*.txt", gutenberg=False,
                          heldout_fraction=0.0, heldout_documents=["a"], workers=1)

    books = tmp_path / "books"
    books.mkdir()
    (books / "a.txt").write_bytes(b"\xef\xbb\xbfThe first sentence. And a second one.\n")
    (books / "c.txt").write_text("Something to train on. More of it.\n")
    assert corpus(books).read().heldout[0].sentences[0][0] == "The", "byte-order mark dropped"
    (books / "b.txt").write_bytes(b"Fine line.\nCaf\xe9 au lait.\n")
    with pytest.raises(ProbingError, match=r"b\.txt:2: byte e9 at column 4 is not UTF-8.*iconv"):
        corpus(books).read()
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(ProbingError, match="symbolic link that leads back to itself"):
        corpus(loop).files()
