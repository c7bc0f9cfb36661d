"""Fuzzers for the network-facing parsers (run briefly in the default tests)."""
