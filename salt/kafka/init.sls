# One Kafka broker: install, configure, run. `salt-run state.orchestrate kafka.deploy` applies
# it one broker at a time and verifies each before the next.
include:
  - kafka_host
  - kafka.install
  - kafka.config
  - kafka.service
