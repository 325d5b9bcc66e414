"""Shared by the python client scripts of the wire tests: record content and line output.

Record i (of a run tagged TAG) has key b"k<i>", value b"<TAG>:v<i>:" followed by a filler derived from i, and the
headers ("i", b"<i>") and ("src", b"<TAG>"), so the parent can check every field of every record it reads back.
Every line goes to stdout at once (the parent awaits lines, it does not sleep).
"""
import signal
import sys


def key_for(i):
    return b"k%d" % i


def value_for(tag, i):
    head = b"%s:v%d:" % (tag.encode(), i)
    filler = bytes(((i * 31 + j * 7 + 13) & 0xFF) for j in range(i % 40))
    return head + filler


def headers_for(tag, i):
    return [("i", b"%d" % i), ("src", tag.encode())]


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Stopper:
    """Set once SIGTERM or SIGINT arrived: the scripts' loops end, close their client cleanly and exit 0."""

    def __init__(self):
        self.stopped = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)

    def _stop(self, *_):
        self.stopped = True


def fmt_partitions(parts):
    parts = sorted(parts)
    return ",".join(str(p) for p in parts) if parts else "-"


class ProduceTally:
    """The produce mode's bookkeeping, the same for every client: one line per delivery report, then a total."""

    def __init__(self):
        self.errors = []
        self.acked = 0

    def ok(self, partition, offset, i):
        self.acked += 1
        out("acked %d %d %d" % (partition, offset, i))

    def failed(self, i, err):
        self.errors.append(err)
        out("error %d %s" % (i, err))

    def finish(self, unsent=0):
        out("produced %d" % self.acked)
        sys.exit(1 if self.errors or unsent else 0)


def record_indexes(first, count, stopper):
    """first, first+1, ... up to first+count-1 (forever when count < 0), until a stop signal arrives."""
    i = first
    while (count < 0 or i < first + count) and not stopper.stopped:
        yield i
        i += 1
