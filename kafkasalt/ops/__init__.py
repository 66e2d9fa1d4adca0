"""Operations: hardware facts, sizing, the ``kafka_host`` settings, services, the restart gates
and the gated-step engine."""
