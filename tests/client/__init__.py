"""Tests of the Python live client (server/client) and the fault proxy."""
