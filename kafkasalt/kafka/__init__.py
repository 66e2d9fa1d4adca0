"""Kafka 3.9 in ZooKeeper mode: the cluster model, pillar validation, the files a broker host
needs, dynamic-config rules, SCRAM users in ZooKeeper, reassignment planning and the admin
client (:mod:`kafkasalt.kafka.admin`). Pure Python: no Salt; only the admin client and
:mod:`.zk_users` (through a given kazoo client) talk to a cluster.

=====================  =============================================================
:mod:`.model`          install layout, pillar ``DEFAULTS``, :class:`~.model.ClusterModel`
:mod:`.validate`       the ``kafka:`` pillar checks that build the model
:mod:`.topic_configs`  Kafka 3.9's topic configs (``data/kafka/topic_configs_3.9.yml``) applied
:mod:`.render`         server.properties, JAAS, client config, service units, log4j, JMX exporter
:mod:`.hostplan`       one broker host: heap, log.dirs, threads, files, service unit
:mod:`.roll`           the broker roll as gated engine steps
:mod:`.dynamic_config` Kafka 3.9's dynamic update modes and the restart/live change plan
:mod:`.zk_users`       SCRAM users written straight into ZooKeeper
:mod:`.reassign`       new replica lists for a replication-factor change
:mod:`.admin`          topics, configs, ACLs, SCRAM, groups, reassignments, health
=====================  =============================================================

Design decisions worth knowing:

* Brokers authenticate to each other with SCRAM over the inter-broker listener (which must be
  SASL_SSL, or SASL_PLAINTEXT when insecure listeners are explicitly allowed); ``super.users`` is
  the admin user plus the inter-broker user; the ACL authorizer denies what no ACL allows.
* TLS uses PEM files: ``/etc/kafka/tls/keystore.pem`` (unencrypted PKCS#8 key + certificate
  chain, mode 0600; Kafka 3.9 loads it without any ``ssl.*password``; the key must be PKCS#8
  "BEGIN PRIVATE KEY" - a PKCS#1 "BEGIN RSA PRIVATE KEY" fails to load) and
  ``/etc/kafka/tls/truststore.pem`` (CA certificates). Hostname verification stays on
  (``ssl.endpoint.identification.algorithm=https``): broker certificates carry the broker address
  as SAN. ``tls.client_auth`` is also set per SASL_SSL listener
  (``listener.name.<l>.ssl.client.auth``) because Kafka ignores the broker-wide key on SASL_SSL
  listeners (KIP-684).
* ZooKeeper chroot: ``zookeeper.connect`` ends with ``/kafka/<cluster_name>`` unless
  ``kafka:zookeeper_chroot`` says otherwise (``"/"`` = no chroot). Several clusters can share one
  ensemble, and Kafka's znodes stay out of the ensemble's root. Kafka creates the chroot path at
  first start; tools that write znodes directly (SCRAM bootstrap) must use
  :meth:`.model.ClusterModel.zookeeper_connect` / :attr:`.model.ClusterModel.zookeeper_chroot`.
* Passwords are :class:`~kafkasalt.common.secret.Secret` objects: their repr/str never shows the
  value, and no error message here contains one.
"""
