"""povreg: an event-sourced registry of poor households (建档立卡动态管理)."""

__version__ = "0.1.0"
