"""Test-bed tooling: artifact builder and the three-host Salt lab."""
