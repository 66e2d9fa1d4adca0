# One Kafka broker: install, configure, run. `salt-run state.orchestrate kafka.deploy` applies
# it one broker at a time and verifies each before the next.
include:
  - kafka_host
  - kafka.install
  # The formula's own ZooKeeper client files (TLS), for the SCRAM and ACL checks it runs here.
  - zookeeper.tls
  - kafka.config
  - kafka.service
