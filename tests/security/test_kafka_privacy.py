"""Personal data on the wire: the household topic carries it masked, with a person_ref per member; the
full data only on the opt-in topic; the Kafka security settings reach every client."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bootstrap.settings import Settings
from consumers.base import SubscriberRunner
from consumers.clients import client_config
from consumers.dibao import DibaoRosterSync, roster_on
from consumers.producer import producer_settings
from consumers.relay import Relay, RelayConfig
from domain.masking import person_ref
from service.registry import Command, Registry
from tests.kafka import conftest as kafka_suite
from tests.kafka.conftest import (
    PARTITIONS,
    SESSION_TIMEOUT_MS,
    household_events,
    run_subscriber,
    unique_group,
    wait_for,
)
from tests.kafka.workload import RECORDER, StepClock, person, person_base, setup_divisions, write_households
from tests.kafka_broker import TansuBroker

pytestmark = pytest.mark.kafka
broker = kafka_suite.broker  # the Kafka suite's broker fixture


def personal_data(registry: Registry) -> tuple[set[str], set[str]]:
    """Every ID number and name in the store's household events."""
    ids: set[str] = set()
    names: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("id_number", "head_id_number") and isinstance(item, str):
                    ids.add(item)
                elif key == "left" and isinstance(item, list):
                    ids.update(x for x in item if isinstance(x, str))
                elif key in ("name", "helper_name", "head_name") and isinstance(item, str):
                    names.add(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for _, event in household_events(registry):
        walk(event.body.model_dump(mode="json"))
    return ids, names


def refs_by_id(value: Any, found: dict[str, set[str]], masked: dict[str, str]) -> None:
    """person_ref → the masked ID numbers it stood beside (to check one ref per person)."""
    if isinstance(value, dict):
        if "person_ref" in value:
            found.setdefault(value["person_ref"], set()).add(value["id_number"])
        for ref, number in zip(value.get("left_person_refs", []), value.get("left", []), strict=True):
            found.setdefault(ref, set()).add(number)
        for item in value.values():
            refs_by_id(item, found, masked)
    elif isinstance(value, list):
        for item in value:
            refs_by_id(item, found, masked)


def test_the_household_topic_carries_no_full_id_number(tmp_path: Path, broker: TansuBroker) -> None:
    """A consumer of the real broker reads the whole household topic: no ID number, no name in any
    record; each member has a person_ref, the same for the same person in every event (a member who
    leaves is known by the ref she joined with). The opt-in topic has the full data."""
    topic, pii_topic = f"household-events-{uuid.uuid4().hex[:8]}", f"pii-{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic, PARTITIONS)
    broker.create_topic(pii_topic, PARTITIONS)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}", kafka_bootstrap=broker.bootstrap,
                        kafka_topic=topic, kafka_pii_topic=pii_topic, inline_projections=False)
    clock = StepClock()
    registry = Registry(settings, clock=clock)
    try:
        setup_divisions(registry, clock)
        write_households(registry, clock, "PV", 12)
        leaver = registry.history("H-PV-000003")[0].body.members[1].id_number  # type: ignore[attr-defined]
        clock.set(datetime.fromisoformat("2018-02-01T09:00:00+00:00"))
        registry.record(Command({"type": "MembersChanged", "effective_date": "2018-02-01", "left": [leaver],
                                 "joined": [person(person_base("PV") + 150_000, "child")]},
                                RECORDER, household_id="H-PV-000003"))
        ids, names = personal_data(registry)
        feed = household_events(registry)
        relay = Relay(settings, RelayConfig(bootstrap=broker.bootstrap, topic=topic, pii_topic=pii_topic),
                      registry=registry)
        try:
            relay.drain()
            ref_key = relay.ref_key
        finally:
            relay.close()
    finally:
        registry.close()

    records = broker.read_all(topic, timeout=30, expect=len(feed))
    assert len(records) == len(feed) and len(ids) > 20 and leaver in ids
    for record in records:
        raw = b"".join([record.key or b"", record.value or b"", *(v for _, v in record.headers)])
        text = raw.decode()
        assert not [n for n in ids if n in text], f"an ID number on {topic} at offset {record.offset}"
        assert not [n for n in names if len(n) > 1 and n in text], f"a name on {topic} at offset {record.offset}"

    items = [json.loads(r.value) for r in records]
    found: dict[str, set[str]] = {}
    for item in items:
        assert item["personal_data"] == "masked"
        refs_by_id(item["data"], found, {})
    assert set(found) == {person_ref(n, ref_key) for n in ids}  # one ref per person, every person
    assert all(len(numbers) == 1 for numbers in found.values())  # the masked number beside it never varies
    changed = next(i for i in items if i["type"] == "MembersChanged")
    proposed = next(i for i in items if i["type"] == "IdentificationProposed" and i["household_id"] == "H-PV-000003")
    assert changed["data"]["left_person_refs"] == [proposed["data"]["members"][1]["person_ref"]]

    full = broker.read_all(pii_topic, timeout=30, expect=len(feed))
    assert len(full) == len(feed)
    on_pii = b"".join(r.value for r in full).decode()
    assert all(n in on_pii for n in ids)


def test_person_ref_keys_are_stable_and_never_a_constant(tmp_path: Path, broker: TansuBroker) -> None:
    """The key is the same for every relay of a store (so is each ref), differs between stores, and
    follows the cipher key or POVREG_PERSON_REF_KEY when they are set."""
    def key_of(url: str, **more: Any) -> bytes:
        settings = Settings(database_url=url, kafka_bootstrap=broker.bootstrap, **more)
        relay = Relay(settings, RelayConfig(bootstrap=broker.bootstrap))
        try:
            return relay.ref_key
        finally:
            relay.close()

    first, second = (f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db"))
    assert key_of(first) == key_of(first) != key_of(second)  # derived from each store's own key file
    plain, other_plain = (f"sqlite:///{tmp_path / name}" for name in ("p.db", "q.db"))  # kept in plaintext
    assert key_of(plain, cipher_key="none") == key_of(plain, cipher_key="none") != key_of(other_plain,
                                                                                        cipher_key="none")
    cipher = base64.b64encode(b"c" * 32).decode()
    encrypted = f"sqlite:///{tmp_path / 'enc.db'}"
    assert key_of(encrypted, cipher_key=cipher) == key_of(encrypted, cipher_key=cipher) != key_of(first)
    assert key_of(encrypted, cipher_key=cipher) != base64.b64decode(cipher)  # derived, not the cipher key itself
    chosen = base64.b64encode(b"r" * 32).decode()
    assert key_of(first, person_ref_key=chosen) == b"r" * 32


def test_dibao_links_people_by_person_ref_and_keeps_no_id_number(store_url: str, tmp_path: Path,
                                                                 broker: TansuBroker) -> None:
    """Civil affairs' subscriber on the masked topic: its roster is right, and its copy of the events
    holds person_refs, never an ID number."""
    topic = f"household-events-{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic, PARTITIONS)
    broker.create_topic(f"{topic}.dlq", 1)
    settings = Settings(database_url=store_url, kafka_bootstrap=broker.bootstrap, kafka_topic=topic,
                        inline_projections=False)
    clock = StepClock()
    registry = Registry(settings, clock=clock)
    try:
        setup_divisions(registry, clock)
        write_households(registry, clock, "DB", 9)
        ids, _ = personal_data(registry)
        relay = Relay(settings, RelayConfig(bootstrap=broker.bootstrap, topic=topic), registry=registry)
        try:
            relay.drain()
        finally:
            relay.close()
        expected = len(household_events(registry))
    finally:
        registry.close()

    civil = Settings(database_url=f"sqlite:///{tmp_path / 'civil.db'}", kafka_bootstrap=broker.bootstrap,
                     kafka_topic=topic)
    runner = SubscriberRunner(DibaoRosterSync(), civil, group=unique_group("dibao"),
                              session_timeout_ms=SESSION_TIMEOUT_MS)
    background = run_subscriber(runner)
    try:
        wait_for(lambda: runner.stats.applied_total >= expected, 60, "the dibao subscriber to apply every event")
    finally:
        background.stop()
        runner.close()
    from persistence.db import Database

    db = Database(civil)
    try:
        assert runner.stats.dead_letters_total == 0
        rows = roster_on(db, datetime(2014, 6, 30).date(), "")
        # dibao from the start: every third household, and those a later correction made dibao (i % 5 == 1)
        assert {r["household_id"] for r in rows} == {f"H-DB-{i:06d}" for i in (0, 1, 3, 6)}
        stored = " ".join(str(v) for row in db.query("SELECT * FROM dibao_household_events") for v in row)
        assert "person_ref" in stored and not [n for n in ids if n in stored]
    finally:
        db.close()


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


SECURE = {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-512",
          "kafka_sasl_username": "relay", "kafka_sasl_password": "s3cret"}


def test_security_settings_reach_every_client(tmp_path: Path) -> None:
    """The relay's producer, each subscriber's consumer and dead-letter producer: TLS, SASL, the CA."""
    cafile = tmp_path / "ca.pem"
    cafile.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = Settings(database_url=f"sqlite:///{tmp_path / 's.db'}", kafka_bootstrap="k1:9093, k2:9093",
                        kafka_ssl_cafile=str(cafile), **SECURE)
    expected = {"bootstrap_servers": ["k1:9093", "k2:9093"], "security_protocol": "SASL_SSL",
                "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "relay", "sasl_plain_password": "s3cret",
                "ssl_cafile": str(cafile)}
    assert client_config(settings) == expected
    runner = SubscriberRunner(DibaoRosterSync(), settings)
    try:
        for config in (producer_settings(settings), runner.consumer_settings(), runner.dead_letter_settings()):
            assert {k: config[k] for k in expected} == expected
    finally:
        runner.close()
    plain = Settings(database_url=settings.database_url, kafka_bootstrap="k1:9092")
    assert client_config(plain) == {"bootstrap_servers": ["k1:9092"], "security_protocol": "PLAINTEXT"}
