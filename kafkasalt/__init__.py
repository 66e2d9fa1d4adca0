"""Pure-Python core of the Kafka/ZooKeeper Salt extension.

Nothing in this package imports Salt: the models, validation, sizing, SCRAM
math, ACL model, PKI and restart gating live here so that unit tests (and
Salt's loader modules, which stay thin) can import them directly.
"""

__version__ = "0.1.0"
