"""A synthetic county (2014–2021): households, their histories and late recordings, for demos, tests and benchmarks."""
