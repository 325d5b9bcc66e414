"""confluent-kafka (librdkafka) client for bench/wire.ts. Run with /usr/bin/python3; prints one JSON line.

  produce BROKER TOPIC N ACKS       N 100-byte values (no key), linger.ms 5, batch.size 1 MiB; errors only in
                                    delivery reports; timed from the first produce() to the end of flush()
  consume BROKER TOPIC N            a consumer assigned partition 0 from the beginning, timed until N records
                                    (and the time to the first record: connection, metadata, first fetch)
  rtt BROKER TOPIC N                acks=1, linger.ms 0: produce one record, flush, N times after 200 warm-ups;
                                    per-call latency in microseconds

Every line reports the process's own CPU time (getrusage: user + system, every thread) next to the wall time, and
produce/consume the CPU seconds of each thread (/proc/self/task: the Python loop is the main thread, librdkafka's
are rdk:*), so a client-bound run shows which thread is at or near 100 %.
"""
import json
import os
import resource
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

VALUE = bytes((i * 7 + 3) & 0xFF for i in range(100))


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


TICK = os.sysconf("SC_CLK_TCK")


def threads():
    """CPU seconds per thread name (the Python loop is the main thread; librdkafka's are rdk:*), from /proc."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open("/proc/self/task/%s/stat" % tid) as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / TICK
    return out


def delta(after, before):
    return {k: round(v - before.get(k, 0), 3) for k, v in after.items() if v - before.get(k, 0) > 0.005}


def report(**fields):
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def produce(broker, topic, n, acks):
    n = int(n)
    errors = [0]

    def failed(err, msg):
        if err is not None:
            errors[0] += 1

    p = Producer({
        "bootstrap.servers": broker,
        "acks": acks,
        "linger.ms": 5,
        "batch.size": 1048576,
        "queue.buffering.max.messages": 1000000,
        "queue.buffering.max.kbytes": 1048576,
        "delivery.report.only.error": True,
        "on_delivery": failed,
        "compression.type": "none",
    })
    p.list_topics(topic, timeout=10)
    th0, c0, t0 = threads(), cpu(), time.perf_counter()
    produce_ = p.produce
    for _ in range(n):
        try:
            produce_(topic, VALUE)
        except BufferError:
            p.poll(0.001)
            produce_(topic, VALUE)
    left = p.flush(120)
    t1, c1, th1 = time.perf_counter(), cpu(), threads()
    report(mode="produce", acks=acks, n=n, seconds=t1 - t0, cpu_seconds=c1 - c0, errors=errors[0], undelivered=left,
           threads=delta(th1, th0))


def consume(broker, topic, n):
    n = int(n)
    c = Consumer({
        "bootstrap.servers": broker,
        "group.id": "bench-unused",
        "enable.auto.commit": False,
        "fetch.wait.max.ms": 10,
        "queued.min.messages": 1000000,
    })
    # Metadata first: an assign() before the partition's leader is known waits for librdkafka's 500 ms offset
    # query retry.
    c.list_topics(topic, timeout=10)
    th0, c0, t0 = threads(), cpu(), time.perf_counter()
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    got = 0
    value_bytes = 0
    first = None
    while got < n:
        msgs = c.consume(num_messages=10000, timeout=5)
        if not msgs:
            break
        if first is None:
            first = time.perf_counter()
        for m in msgs:
            if m.error() is None:
                got += 1
                value_bytes += len(m.value())
            elif m.error().code() != KafkaError._PARTITION_EOF:
                raise SystemExit("consume error %s" % m.error())
    t1, c1, th1 = time.perf_counter(), cpu(), threads()
    c.close()
    report(mode="consume", n=got, value_bytes=value_bytes, seconds=t1 - t0, cpu_seconds=c1 - c0,
           first_record_seconds=(first or t1) - t0,
           threads=delta(th1, th0))


def rtt(broker, topic, n):
    n = int(n)
    p = Producer({"bootstrap.servers": broker, "acks": 1, "linger.ms": 0, "socket.nagle.disable": True})
    p.list_topics(topic, timeout=10)
    samples = []
    c0 = cpu()
    t_start = time.perf_counter()
    for k in range(n + 200):
        t0 = time.perf_counter()
        p.produce(topic, VALUE)
        p.flush(10)
        if k >= 200:
            samples.append((time.perf_counter() - t0) * 1e6)
    wall = time.perf_counter() - t_start
    report(mode="rtt", n=n, samples_us=samples, seconds=wall, cpu_seconds=cpu() - c0)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    {"produce": produce, "consume": consume, "rtt": rtt}[mode](*args)
