"""What the ZooKeeper, Kafka and security code share: pillar errors and the validation collector,
secrets, quoting for the files the formula writes, polling, private file writes and the per-job
cache of the execution modules."""
