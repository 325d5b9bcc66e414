"""kafka-python client for the wire tests. Run with /usr/bin/python3 -u. Same modes and lines as confluent_client.py:

  create   BROKER TOPIC PARTITIONS
  produce  BROKER TOPIC TAG FIRST COUNT       acks=all; "acked P O I" per record, then "produced N"
  consume  BROKER TOPIC GROUP                 "assigned P,P|-", "m P O KEY" after each synchronous commit; SIGTERM:
                                              close (leaves the group), "closed", exit 0
"""
import sys

from common import ProduceTally, Stopper, fmt_partitions, headers_for, key_for, out, record_indexes, value_for
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, OffsetAndMetadata
from kafka.admin import KafkaAdminClient, NewTopic


def create(broker, topic, partitions):
    admin = KafkaAdminClient(bootstrap_servers=broker, request_timeout_ms=10000)
    admin.create_topics([NewTopic(topic, num_partitions=int(partitions), replication_factor=1)], timeout_ms=10000)
    admin.close()
    out("created %s" % topic)


def produce(broker, topic, tag, first, count):
    first, count = int(first), int(count)
    tally = ProduceTally()
    p = KafkaProducer(bootstrap_servers=broker, acks="all", linger_ms=2, request_timeout_ms=10000, retries=0)
    for i in record_indexes(first, count, Stopper()):
        fut = p.send(topic, key=key_for(i), value=value_for(tag, i), headers=headers_for(tag, i))
        fut.add_callback(lambda md, i=i: tally.ok(md.partition, md.offset, i))
        fut.add_errback(lambda exc, i=i: tally.failed(i, repr(exc)))
        if count < 0 and (i + 1) % 50 == 0:
            p.flush(10)
    p.flush(30)
    p.close(10)
    tally.finish()


class Listener(ConsumerRebalanceListener):
    def on_partitions_revoked(self, revoked):
        out("revoked %s" % fmt_partitions(tp.partition for tp in revoked))

    def on_partitions_assigned(self, assigned):
        out("assigned %s" % fmt_partitions(tp.partition for tp in assigned))


def consume(broker, topic, group):
    stopper = Stopper()
    c = KafkaConsumer(
        bootstrap_servers=broker,
        group_id=group,
        session_timeout_ms=6000,
        heartbeat_interval_ms=300,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
        request_timeout_ms=10000,
        metadata_max_age_ms=2000,
    )
    c.subscribe([topic], listener=Listener())
    while not stopper.stopped:
        batches = c.poll(timeout_ms=100)
        if not batches:
            continue
        c.commit({tp: OffsetAndMetadata(recs[-1].offset + 1, None) for tp, recs in batches.items()})
        for tp, recs in batches.items():
            for r in recs:
                out("m %d %d %s" % (tp.partition, r.offset, r.key.decode()))
    c.close()
    out("closed")


def main(argv):
    mode, args = argv[0], argv[1:]
    if mode == "create":
        create(*args)
    elif mode == "produce":
        produce(*args)
    elif mode == "consume":
        consume(*args)
    else:
        raise SystemExit("unknown mode %s" % mode)


if __name__ == "__main__":
    main(sys.argv[1:])
