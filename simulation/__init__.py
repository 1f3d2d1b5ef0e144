"""A synthetic county (2014–2021): households, their histories and late recordings, for demos,
tests and benchmarks.

- :mod:`simulation.county` — :class:`Simulation`, the generator, composed of its parts:
  :mod:`~simulation.census` (divisions, households, exit years), :mod:`~simulation.plan` (one
  household's events), :mod:`~simulation.schedule` (recording moments, corrections, retractions);
- :mod:`simulation.people` (members, ID numbers, causes), :mod:`simulation.tables` (names,
  places, shares), :mod:`simulation.constants` (the county, the period, moments);
- :mod:`simulation.stream` — what it produces (divisions and recordings) and its JSON Lines form;
- :mod:`simulation.loader` — recording a stream through the registry at its simulated moments.
"""

from simulation.constants import COUNTY_CODE, EXIT_TARGETS, FIRST_DAY, LATE_DAYS
from simulation.county import Simulation
from simulation.loader import LoadReport, SimClock, load, put_divisions
from simulation.stream import DivisionSpec, Recording, read_jsonl, tally, write_jsonl
from simulation.tables import SimulationShares

__all__ = [
    "COUNTY_CODE",
    "EXIT_TARGETS",
    "FIRST_DAY",
    "LATE_DAYS",
    "DivisionSpec",
    "LoadReport",
    "Recording",
    "SimClock",
    "Simulation",
    "SimulationShares",
    "load",
    "put_divisions",
    "read_jsonl",
    "tally",
    "write_jsonl",
]
