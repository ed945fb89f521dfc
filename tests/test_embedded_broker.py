"""The embedded broker (kombu's SQLAlchemy transport on an SQLite file), for real: messages go
through whole, and beat's prune drops only what was delivered."""

import sqlite3

from kombu import Connection

from portal.celery import embedded_broker_file, prune_embedded_broker


def test_the_broker_file_is_read_from_the_url():
    assert embedded_broker_file("sqla+sqlite:////srv/var/broker.sqlite3") == "/srv/var/broker.sqlite3"
    assert embedded_broker_file("sqla+sqlite:///var/broker.sqlite3") == "var/broker.sqlite3"
    assert embedded_broker_file("redis://127.0.0.1:6379/0") is None
    assert embedded_broker_file("sqla+postgresql://db/broker") is None


def test_prune_drops_delivered_messages_and_keeps_waiting_ones(tmp_path):
    url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    with Connection(url) as conn:
        queue = conn.SimpleQueue("celery")
        for i in range(3):
            queue.put({"n": i})
        delivered = queue.get(timeout=2)
        delivered.ack()
        assert delivered.payload == {"n": 0}

        assert prune_embedded_broker(url) == 1

        with sqlite3.connect(tmp_path / "broker.sqlite3") as db:
            assert db.execute("SELECT count(*) FROM kombu_message WHERE visible").fetchone() == (2,)
        assert [queue.get(timeout=2).payload for _ in range(2)] == [{"n": 1}, {"n": 2}]
        queue.close()


def test_prune_of_another_broker_does_nothing():
    assert prune_embedded_broker("redis://127.0.0.1:6379/0") == 0
