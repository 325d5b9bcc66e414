"""confluent-kafka (librdkafka) client for the wire tests. Run with /usr/bin/python3 -u.

  create   BROKER TOPIC PARTITIONS            AdminClient.create_topics; prints "created TOPIC"
  produce  BROKER TOPIC TAG FIRST COUNT       acks=all; records FIRST..FIRST+COUNT-1 (see common.py); prints
                                              "acked P O I" per delivery report, then "produced N"; COUNT -1 =
                                              until SIGTERM/SIGKILL. Exit 1 on any delivery error.
  dump     BROKER TOPIC PARTITIONS            no group: every record of every partition from the beginning to the end,
                                              one JSON line each {p, o, key, value (hex or null), headers [[k, hex]],
                                              ts, tstype}, then "end N"
  consume  BROKER TOPIC GROUP                 a group member: prints "assigned P,P|-" on every assignment and, after
                                              committing each consumed batch synchronously, "m P O KEY" per record;
                                              SIGTERM: close (leave the group), print "closed", exit 0.
"""
import json
import sys

from common import ProduceTally, Stopper, fmt_partitions, headers_for, key_for, out, record_indexes, value_for
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

BASE = {"socket.timeout.ms": 10000, "socket.connection.setup.timeout.ms": 5000}


def create(broker, topic, partitions):
    admin = AdminClient({"bootstrap.servers": broker, **BASE})
    futures = admin.create_topics([NewTopic(topic, num_partitions=int(partitions), replication_factor=1)], operation_timeout=10)
    for name, fut in futures.items():
        fut.result(timeout=15)
        out("created %s" % name)


def produce(broker, topic, tag, first, count):
    first, count = int(first), int(count)
    tally = ProduceTally()

    def delivered(err, msg, i):
        if err is not None:
            tally.failed(i, err)
        else:
            tally.ok(msg.partition(), msg.offset(), i)

    p = Producer({"bootstrap.servers": broker, "acks": "all", "linger.ms": 2, "message.timeout.ms": 20000, **BASE})
    for i in record_indexes(first, count, Stopper()):
        while True:
            try:
                p.produce(topic, value_for(tag, i), key_for(i), headers=headers_for(tag, i),
                          on_delivery=lambda err, msg, i=i: delivered(err, msg, i))
                break
            except BufferError:
                p.poll(0.05)
        p.poll(0)
        if count < 0 and (i + 1) % 50 == 0:
            p.poll(0.005)
    tally.finish(p.flush(30))


def dump(broker, topic, partitions):
    c = Consumer({"bootstrap.servers": broker, "group.id": "dump-unused", "enable.auto.commit": False,
                  "enable.partition.eof": True, **BASE})
    parts = list(range(int(partitions)))
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    at_end = set()
    n = 0
    while len(at_end) < len(parts):
        m = c.poll(5)
        if m is None:
            raise SystemExit("no record or end of partition within 5 s")
        if m.error() is not None:
            if m.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(m.partition())
                continue
            raise SystemExit("consume error %s" % m.error())
        tstype, ts = m.timestamp()
        hx = lambda b: None if b is None else b.hex()
        out(json.dumps({"p": m.partition(), "o": m.offset(), "key": hx(m.key()), "value": hx(m.value()),
                        "headers": [[k, hx(v)] for k, v in (m.headers() or [])], "ts": ts, "tstype": tstype}))
        n += 1
    c.close()
    out("end %d" % n)


def consume(broker, topic, group):
    stopper = Stopper()
    c = Consumer({
        "bootstrap.servers": broker,
        "group.id": group,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 300,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "fetch.wait.max.ms": 100,
        "topic.metadata.refresh.interval.ms": 2000,
        **BASE,
    })

    def on_assign(consumer, parts):
        out("assigned %s" % fmt_partitions(tp.partition for tp in parts))

    def on_revoke(consumer, parts):
        out("revoked %s" % fmt_partitions(tp.partition for tp in parts))

    c.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    while not stopper.stopped:
        msgs = c.consume(num_messages=500, timeout=0.1)
        good = []
        for m in msgs:
            if m.error() is None:
                good.append(m)
            elif m.error().code() != KafkaError._PARTITION_EOF:
                out("consume-error %s" % m.error())
        if not good:
            continue
        last = {}
        for m in good:
            last[m.partition()] = m.offset()
        c.commit(offsets=[TopicPartition(topic, p, o + 1) for p, o in last.items()], asynchronous=False)
        for m in good:
            out("m %d %d %s" % (m.partition(), m.offset(), m.key().decode()))
    c.close()
    out("closed")


def main(argv):
    mode, args = argv[0], argv[1:]
    if mode == "create":
        create(*args)
    elif mode == "produce":
        produce(*args)
    elif mode == "dump":
        dump(*args)
    elif mode == "consume":
        consume(*args)
    else:
        raise SystemExit("unknown mode %s" % mode)


if __name__ == "__main__":
    main(sys.argv[1:])
