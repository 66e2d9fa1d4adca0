"""Operations: hardware facts, sizing, services, the restart gates and the gated-step engine."""
