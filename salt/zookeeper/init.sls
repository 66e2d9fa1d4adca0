# One ZooKeeper ensemble member: install, configure, run. Apply to the members only;
# `salt-run state.orchestrate zookeeper.deploy` does that and rolls restarts safely.
include:
  - kafka_host
  - zookeeper.install
  - zookeeper.tls
  - zookeeper.config
  - zookeeper.service
