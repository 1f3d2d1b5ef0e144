"""One place that wires the registry: settings read and validated from the environment."""
