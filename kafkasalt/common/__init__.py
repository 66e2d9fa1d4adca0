"""What the ZooKeeper, Kafka and security code share: pillar errors, secrets, validation,
quoting for the files the formula writes, polling, private file writes."""
