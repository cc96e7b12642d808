"""Test helpers shared across the suite (fault proxy, …)."""
