"""The read models' tables, declared once for SQLite and PostgreSQL.

Each projection owns a set of tables. Live tables have their plain names;
a rebuild fills the same tables under the suffix ``_new`` and swaps them in by
renaming, in one transaction (:mod:`projections.rebuild`). Index names
carry a random token so that a rebuilt table's indexes never collide with the
live table's.

``proj_tracking`` is shared and never swapped: one row per projection (its
last applied notification position) plus one per running rebuild.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from persistence.db import Tx
from projections.encoding import OPEN_US

#: abstract column type → (SQLite, PostgreSQL)
TYPES = {
    "text": ("TEXT", "TEXT"),
    # Division codes are compared as byte strings (prefix ranges), whatever the locale.
    "code": ("TEXT", 'TEXT COLLATE "C"'),
    "int": ("INTEGER", "INTEGER"),
    "bigint": ("INTEGER", "BIGINT"),
    "blob": ("BLOB", "BYTEA"),
}
#: abstract column type → the PostgreSQL type a binary COPY sends
BINARY = {"text": "text", "code": "text", "int": "int4", "bigint": "int8", "blob": "bytea"}


@dataclass(frozen=True)
class Index:
    columns: str
    where: str | None = None
    #: Needed while a rebuild fills the table (its lookups use it); the others are
    #: built after the bulk load, which is cheaper than maintaining them row by row.
    building: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]
    primary_key: str
    indexes: tuple[Index, ...] = ()
    #: PostgreSQL: a rebuild from empty tables adds the primary key after its bulk load
    #: (:meth:`create_indexes`), because nothing looks rows up by it meanwhile. A key over
    #: household ids takes its inserts at random places: at N = 100,000 its index outgrew
    #: the server's buffer cache (955,923 pages read back from the OS in one rebuild).
    key_after_load: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)

    def insert(self, tx: Tx, rows: Sequence[Sequence[Any]], suffix: str = "") -> None:
        """Rows (all columns, in order) into the table (or its ``suffix`` twin), in bulk."""
        tx.insert(self.name + suffix, self.column_names, rows, [BINARY[t] for _, t in self.columns])

    @property
    def lookup_columns(self) -> tuple[str, ...]:
        """The columns a rebuild looks rows up by while it fills the table: its primary
        key's and those of the indexes it builds with."""
        keys = [self.primary_key, *(i.columns for i in self.indexes if i.building)]
        return tuple(dict.fromkeys(c.strip() for k in keys for c in k.split(",")))

    def create(self, tx: Tx, suffix: str = "", building: bool = False) -> None:
        """The table and its indexes; ``building``: only those a rebuild needs while
        it fills the table (:meth:`create_indexes` adds the others)."""
        name = self.name + suffix
        pg = tx.dialect == "postgres"
        cols = ", ".join(f"{c} {TYPES[t][1 if pg else 0]}" for c, t in self.columns)
        key = "" if building and pg and self.key_after_load else f", PRIMARY KEY ({self.primary_key})"
        tx.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols}{key})")
        self._create_indexes(tx, suffix, lambda index: index.building or not building)

    def create_indexes(self, tx: Tx, suffix: str = "") -> None:
        """The indexes :meth:`create` left out when ``building`` (those still missing)."""
        name = self.name + suffix
        if self.key_after_load and tx.dialect == "postgres" and not tx.has_primary_key(name):
            tx.execute(f"ALTER TABLE {name} ADD PRIMARY KEY ({self.primary_key})")
        self._create_indexes(tx, suffix, lambda index: not index.building)

    def _create_indexes(self, tx: Tx, suffix: str, wanted: Callable[[Index], bool]) -> None:
        name = self.name + suffix
        token = secrets.token_hex(3)
        existing = tx.index_names(name) if self.indexes else []
        for i, index in enumerate(self.indexes):
            if wanted(index) and not any(n.startswith(f"ix_{self.name}_{i}_") for n in existing):
                where = f" WHERE {index.where}" if index.where else ""
                tx.execute(f"CREATE INDEX IF NOT EXISTS ix_{self.name}_{i}_{token} ON {name} ({index.columns}){where}")


TRACKING = Table(
    "proj_tracking",
    (("name", "text"), ("position", "bigint"), ("updated_us", "bigint")),
    "name",
)

#: One row per projection, ``<name>/<layout>``: its tables keep personal data sealed
#: (projections.sealing) and hold what that layout of it writes.
SEALED = Table("proj_sealed", (("name", "text"),), "name")

EVENTS = Table(
    "proj_events",
    (
        ("household_id", "text"),
        ("version", "int"),
        ("position", "bigint"),
        ("event_id", "text"),
        ("type", "text"),
        ("effective_date", "text"),
        ("recorded_us", "bigint"),
        ("actor", "bigint"),  # who recorded it: proj_actors
        ("body", "text"),
    ),
    "household_id, version",
    (Index("position"),),
    key_after_load=True,
)

#: Who recorded household events (a few actors record most of them), each once: ``actor`` is
#: the keyed digest of ``recorded_by``, the actor's JSON (projections.sealing).
ACTORS = Table("proj_actors", (("actor", "bigint"), ("recorded_by", "text")), "actor")

#: ``proj_events`` rows with their actors, as :func:`projections.households.decode_event_row` reads them.
EVENT_COLUMNS = "e.household_id, e.version, e.event_id, e.type, e.recorded_us, a.recorded_by, e.body"


def events_with_actors(suffix: str = "") -> str:
    """``proj_events`` (as ``e``) with the actor of each row (``a``), for a ``FROM`` clause."""
    return f"{EVENTS.name}{suffix} e JOIN {ACTORS.name}{suffix} a ON a.actor = e.actor"

CARDS = Table(
    "proj_cards",
    (
        ("household_id", "text"),
        ("valid_from", "code"),
        ("known_from", "bigint"),
        ("known_to", "bigint"),
        # The card's own values (projections.cards); its members, measures and helpers are
        # parts (proj_card_parts), stored once per household and named here by their ids.
        ("card", "text"),
        ("members", "bigint"),
        ("measures", "bigint"),
        ("helpers", "bigint"),
    ),
    # "As of D, known at K": the latest valid_from <= D among this household's rows known at K.
    "household_id, valid_from, known_from",
)

#: The members, measures and helpers that card rows show, each once per household: a new
#: measure or helper stores one part, not the card of every later day again.
CARD_PARTS = Table(
    "proj_card_parts",
    (("household_id", "text"), ("part", "bigint"), ("content", "text")),
    "household_id, part",
)

TIMELINE = Table(
    "proj_timeline",
    (
        ("household_id", "text"),
        ("valid_from", "code"),
        ("valid_to", "code"),
        ("known_from", "bigint"),
        ("known_to", "bigint"),
        ("status", "text"),
        ("division_code", "code"),
        ("attribute", "text"),
        ("main_cause", "text"),
        ("persons", "int"),
        ("exit_pathway", "text"),
        ("head_name", "text"),
        ("head_id_number", "text"),
        # The interval before this one (NULL for a household's first): the adjustment
        # report's flows are then read row by row, without a self-join.
        ("prev_status", "text"),
        ("prev_division_code", "code"),
        ("prev_attribute", "text"),
        ("prev_main_cause", "text"),
        ("prev_persons", "int"),
    ),
    "household_id, known_from, valid_from",
    (
        Index("division_code, valid_from"),
        # Most questions are "as now known": a smaller index for them.
        Index("division_code, valid_from, valid_to", where=f"known_to = {OPEN_US}"),
    ),
)

# Households whose findings must be derived (domain.findings): those with an event
# recorded before another in valid time, or a correction or retraction, since
# ``known_from``. Every other household was judged event by event as recorded and has
# none, so the findings queries fold only these.
REVIEWS = Table(
    "proj_reviews",
    (("household_id", "text"), ("known_from", "bigint")),
    "household_id",
)

# The flow log and its checkpoints (:mod:`projections.flows`): county-level
# counts, incidence and the adjustment report as sums over row starts.
FLOWS = Table(
    "proj_flows",
    (
        ("moment", "bigint"),  # when the row start became believed (+) or stopped being (−)
        ("position", "bigint"),  # the event's notification position
        ("n", "int"),  # the entry's number among that event's entries
        ("day", "int"),  # the row's valid_from, as a proleptic ordinal (date.toordinal)
        ("flow_class", "bigint"),
        ("households", "int"),
        ("persons", "int"),
        ("prev_persons", "int"),
    ),
    "moment, position, n",
    (Index("day, moment, flow_class, households, persons, prev_persons"),),
)

FLOW_CLASSES = Table(
    "proj_flow_classes",
    (
        ("flow_class", "bigint"),
        ("division_code", "code"),  # the county (6 digits)
        ("prev_division_code", "code"),
        ("status", "text"),
        ("prev_status", "text"),
        ("attribute", "text"),
        ("prev_attribute", "text"),
        ("main_cause", "text"),
        ("prev_main_cause", "text"),
        ("exit_pathway", "text"),  # of an exit (status exited) only
        ("persons_sign", "int"),
    ),
    "flow_class",
)

FLOW_MARKS = Table(
    "proj_flow_marks",
    (("mark", "int"), ("moment", "bigint"), ("bounds", "blob")),
    "mark",
)

FLOW_SUMS = Table(
    "proj_flow_sums",
    (("mark", "int"), ("chunk", "int"), ("flow_class", "bigint"), ("sums", "blob")),
    "mark, chunk, flow_class",
)

DIVISIONS = Table(
    "proj_divisions",
    (
        ("code", "code"),
        ("position", "bigint"),
        ("name", "text"),
        ("rural_population", "bigint"),
        ("effective_date", "text"),
        ("recorded_us", "bigint"),
    ),
    "code, position",
)

POLICIES = Table(
    "proj_policies",
    (("position", "bigint"), ("recorded_us", "bigint"), ("version", "text")),
    "position",
)

CHAIN = Table(
    "proj_chain",
    (
        ("position", "bigint"),
        ("originator_id", "text"),
        ("originator_version", "bigint"),
        # Digests as bytes (projections.integrity.to_bytes): 32 where their hex takes 64.
        ("raw_hash", "blob"),
        ("event_hash", "blob"),
        ("chain", "blob"),
    ),
    "position",
)

AUDIT = Table(
    "proj_audit",
    (
        ("position", "bigint"),
        ("household_id", "text"),
        ("version", "int"),
        ("event_id", "text"),
        ("type", "text"),
        ("effective_date", "text"),
        # recorded_at as the trail shows it is moment_text(recorded_us), and the event's
        # hash is its chain row's: neither is stored twice.
        ("recorded_us", "bigint"),
        ("actor", "bigint"),  # who recorded it: proj_audit_actors (NULL for reference data)
        ("division_code", "code"),
        ("reason", "text"),
        ("evidence", "text"),
        ("data", "text"),
        ("changes", "text"),
        ("household_chain", "blob"),
    ),
    "position",
    # A rebuild reads a household's trail to describe its corrections. The division index
    # serves the division trail's reference data, the rows without a household.
    (Index("household_id, version", building=True), Index("actor, position"),
     Index("division_code, position", where="household_id IS NULL")),
)

#: The actors of the audit trail, each once: ``actor`` is the keyed digest of (name, role,
#: division); ``label`` the name, sealed; ``name_ref`` its keyed hash (projections.sealing),
#: which the trail of one actor is looked up by.
AUDIT_ACTORS = Table(
    "proj_audit_actors",
    (("actor", "bigint"), ("name_ref", "text"), ("label", "text"), ("role", "text"), ("division", "text")),
    "actor",
    (Index("name_ref"),),
)

#: An audit row's actor, as the trail shows it (``u`` of :func:`audit_with_actors`).
ACTOR_COLUMNS = "u.label, u.role, u.division"


def audit_with_actors(suffix: str = "") -> str:
    """``proj_audit`` (as ``a``) with the actor of each row (``u``; NULLs for reference data)."""
    return f"{AUDIT.name}{suffix} a LEFT JOIN {AUDIT_ACTORS.name}{suffix} u ON u.actor = a.actor"
