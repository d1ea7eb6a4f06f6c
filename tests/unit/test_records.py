"""The durable records (chat/records), against SQLite and a real PostgreSQL."""

import threading
from datetime import datetime, timedelta

import pytest
import sqlalchemy
from flask import Flask

from chat import records
from chat.errors import SignalingError
from chat.extensions import db
from chat.records import registry
from chat.records.registry import LINK_TTL

KEEP = timedelta(days=90)
T0 = datetime(2026, 12, 1, 12, 0, 0)


def make_app(url: str, instance: str) -> Flask:
    app = Flask("chat", instance_path=instance)
    app.config["DATABASE_URL"] = url
    records.init_app(app)
    return app


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'records.sqlite3'}"
    server = request.getfixturevalue("postgres_server")
    engine = sqlalchemy.create_engine(server.url)
    with engine.begin() as connection:  # a fresh schema for every test
        connection.execute(sqlalchemy.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return server.url


@pytest.fixture
def app(database_url, tmp_path):
    app = make_app(database_url, str(tmp_path))
    records.upgrade(app)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def refused(code, fn, *args, **kwargs):
    with pytest.raises(SignalingError) as info:
        fn(*args, **kwargs)
    assert info.value.code == code


def test_the_migrations_make_the_models_tables(app):
    tables = set(sqlalchemy.inspect(db.engine).get_table_names())
    assert {"registrations", "devices", "device_links", "calls", "alembic_version"} <= tables


def test_without_database_url_the_records_are_a_sqlite_file_in_the_instance_folder(tmp_path):
    app = make_app(None, str(tmp_path / "instance"))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'instance' / 'videocall.sqlite3'}"
    records.upgrade(app)
    with app.app_context():
        registry.register("alice", "Firefox", KEEP, now=T0)
        db.session.remove()
        db.engine.dispose()
    assert (tmp_path / "instance" / "videocall.sqlite3").exists()
    again = make_app(None, str(tmp_path / "instance"))  # a restart: the name is still hers
    with again.app_context():
        assert registry.is_kept("alice", KEEP, now=T0)
        db.engine.dispose()


def test_a_registered_name_signs_its_device_in_and_nobody_else_gets_it(app):
    registered, key = registry.register("alice", "Firefox on Linux", KEEP, now=T0)
    assert registry.sign_in(key, KEEP, now=T0 + timedelta(days=3)) == registered
    assert registered.name == "alice"
    refused("name_taken", registry.register, "alice", "another browser", KEEP, now=T0 + timedelta(days=3))
    assert registry.sign_in("forged-key", KEEP, now=T0) is None
    assert registry.sign_in(None, KEEP, now=T0) is None
    assert [d.label for d in registry.devices("alice")] == ["Firefox on Linux"]


def test_the_database_keeps_digests_not_keys(app):
    _, key = registry.register("alice", "Firefox", KEEP, now=T0)
    stored = db.session.scalar(sqlalchemy.text("SELECT key_digest FROM devices"))
    assert stored == registry.digest(key) and key not in stored


def test_a_name_unused_for_the_keep_period_lapses(app):
    _, key = registry.register("alice", "Firefox", KEEP, now=T0)
    later = T0 + KEEP - timedelta(days=1)
    assert registry.sign_in(key, KEEP, now=later).name == "alice"  # a use: kept from here on
    assert registry.is_kept("alice", KEEP, now=later + KEEP - timedelta(minutes=1))
    owner = registry.sign_in(key, KEEP, now=later).owner
    lapsed = later + KEEP + timedelta(minutes=1)
    assert not registry.is_kept("alice", KEEP, now=lapsed)
    assert registry.sign_in(key, KEEP, now=lapsed) is None
    _, new_key = registry.register("alice", "Chromium", KEEP, now=lapsed)  # free again, for someone else
    assert registry.sign_in(new_key, KEEP, now=lapsed).owner != owner  # not the old holder's
    assert [d.label for d in registry.devices("alice")] == ["Chromium"]
    assert registry.sign_in(key, KEEP, now=lapsed) is None


def test_a_device_link_adds_a_device_once(app):
    _, laptop_key = registry.register("alice", "Laptop", KEEP, now=T0)
    token = registry.create_link("alice", now=T0)
    identity, phone_key = registry.redeem_link(token, "Phone", KEEP, now=T0 + timedelta(minutes=5))
    phone, laptop = registry.sign_in(phone_key, KEEP, now=T0), registry.sign_in(laptop_key, KEEP, now=T0)
    assert identity == phone
    assert phone.name == laptop.name == "alice"
    assert phone.owner == laptop.owner and phone.device_id != laptop.device_id  # one holder, two devices
    assert registry.redeem_link(token, "Thief", KEEP, now=T0 + timedelta(minutes=6)) is None  # used
    assert [d.label for d in registry.devices("alice")] == ["Laptop", "Phone"]


def test_an_expired_or_forged_device_link_is_refused(app):
    registry.register("alice", "Laptop", KEEP, now=T0)
    token = registry.create_link("alice", now=T0)
    assert registry.redeem_link(token, "Late", KEEP, now=T0 + LINK_TTL + timedelta(seconds=1)) is None
    assert registry.redeem_link("forged", "Forger", KEEP, now=T0) is None
    assert registry.redeem_link(12, "Forger", KEEP, now=T0) is None
    assert len(registry.devices("alice")) == 1


def test_a_removed_device_is_signed_out_and_the_others_stay(app):
    _, laptop = registry.register("alice", "Laptop", KEEP, now=T0)
    _, phone = registry.redeem_link(registry.create_link("alice", now=T0), "Phone", KEEP, now=T0)
    phone_id = [d.id for d in registry.devices("alice") if d.label == "Phone"][0]
    assert not registry.remove_device("bob", phone_id)  # not bob's
    assert not registry.remove_device("alice", "1")
    assert registry.remove_device("alice", phone_id)
    assert registry.sign_in(phone, KEEP, now=T0) is None
    assert registry.sign_in(laptop, KEEP, now=T0).name == "alice"


def test_giving_a_name_up_deletes_its_devices_links_and_calls(app):
    _, key = registry.register("alice", "Laptop", KEEP, now=T0)
    token = registry.create_link("alice", now=T0)
    registry.register("bob", "Phone", KEEP, now=T0)
    registry.record_call("bob", "alice", "missed", started_at=T0)
    registry.record_call("bob", "carol", "answered", started_at=T0, answered_at=T0, ended_at=T0)
    registry.give_up("alice")
    assert not registry.is_kept("alice", KEEP, now=T0)
    assert registry.sign_in(key, KEEP, now=T0) is None
    assert registry.redeem_link(token, "Phone", KEEP, now=T0) is None
    assert [c.callee for c in registry.history("bob")] == ["carol"]
    registry.register("alice", "Someone else", KEEP, now=T0)
    assert registry.unseen_missed("alice") == []


def test_missed_calls_are_shown_once_and_the_history_keeps_the_last_fifty(app):
    registry.register("alice", "Laptop", KEEP, now=T0)
    for minute in range(55):
        outcome = "missed" if minute % 10 == 0 else "answered"
        registry.record_call("bob", "alice", outcome, started_at=T0 + timedelta(minutes=minute))
    history = registry.history("alice")
    assert len(history) == 50
    assert history[0].started_at == T0 + timedelta(minutes=54)  # newest first
    missed = registry.unseen_missed("alice")
    assert [c.started_at for c in missed] == [T0 + timedelta(minutes=m) for m in (0, 10, 20, 30, 40, 50)]
    assert registry.unseen_missed("bob") == []  # he was the caller
    registry.mark_seen("alice", now=T0 + timedelta(hours=1))
    assert registry.unseen_missed("alice") == []


def _register_at_once(apps, name):
    """Each app registers `name` for a browser of its own, released together; the results."""
    start = threading.Barrier(len(apps))
    results = []

    def register(app, label):
        with app.app_context():
            start.wait()
            try:
                results.append(registry.register(name, label, KEEP, now=T0))
            except SignalingError as err:
                results.append(err.code)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=register, args=(app, f"browser {i}")) for i, app in enumerate(apps)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    return results


def test_two_registrations_of_one_free_name_at_once_one_wins(database_url, tmp_path):
    """Two apps (as two processes would have) on one database."""
    apps = [make_app(database_url, str(tmp_path)) for _ in range(2)]
    records.upgrade(apps[0])
    for round_ in range(5):
        results = _register_at_once(apps, f"name{round_}")
        assert sorted(r == "name_taken" for r in results) == [False, True], results
        with apps[0].app_context():
            assert len(registry.devices(f"name{round_}")) == 1
    for app in apps:
        with app.app_context():
            db.engine.dispose()
