"""Pure-Python core of the Kafka/ZooKeeper Salt extension.

The Salt loader modules (``_modules``, ``_states``, ``_runners``, ``_grains``, ``_pillar``) stay
thin: the models, validation, rendered files, health rules, plans and clients live here, by
concern, so that unit tests (and the loader modules) import them directly:

* :mod:`kafkasalt.common`     pillar errors and validation, secrets, quoting, polling, file writes
* :mod:`kafkasalt.zookeeper`  the ensemble: model, validation, files, status, TLS switch, membership
* :mod:`kafkasalt.kafka`      the brokers: model, validation, files, dynamic config, the admin client
* :mod:`kafkasalt.security`   the cluster CA and its store, SCRAM credentials, the ACL model
* :mod:`kafkasalt.ops`        hardware facts, sizing, services, restart gates, the gated-step engine

No module imports Salt when it is imported: :mod:`kafkasalt.saltglue` (the runners' minion calls
and events) imports it inside its functions, and :mod:`kafkasalt.loader` is the ``salt.loader``
entry point of a pip install.
"""

__version__ = "0.1.0"
