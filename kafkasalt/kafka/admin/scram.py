"""SCRAM users through AlterUserScramCredentials (sent to the controller)."""

from __future__ import annotations

from kafkasalt.security import scram
from kafkasalt.kafka.admin.connection import _NO_ERROR, KafkaInputError


class ScramMixin:
    """The SCRAM user operations of :class:`~kafkasalt.kafka.admin.KafkaAdmin`."""

    def list_scram_users(self):
        """``{user: {mechanism: {"iterations": n}}}`` for every user holding a SCRAM credential."""
        described = self._call("listing SCRAM users", lambda client: client.describe_user_scram_credentials())
        users = {}
        for user, info in described.items():
            if info.get("error"):
                continue
            credentials = {_mechanism_name(item["mechanism"]): {"iterations": item["iterations"]}
                           for item in info["credential_infos"]}
            if credentials:
                users[user] = dict(sorted(credentials.items()))
        return dict(sorted(users.items()))

    def _scram_user(self, name):
        return self.list_scram_users().get(name, {})

    def upsert_scram_user(self, name, password, mechanism="SCRAM-SHA-512", iterations=scram.DEFAULT_ITERATIONS,
                          dry_run=False):
        """Create or overwrite ``name``'s SCRAM credential (AlterUserScramCredentials).

        The broker never reveals stored keys, so through this API a credential cannot be compared
        with ``password``: every call writes a fresh salt (use :mod:`kafkasalt.kafka.zk_users` when a
        no-op check matters). Returns ``{"user", "mechanism", "iterations", "created"}``.
        """
        from kafka.admin import UserScramCredentialUpsertion

        try:
            scram.validate_username(name, "name")
            mechanism = scram.normalize_mechanism(mechanism)
            scram.validate_iterations(iterations)
        except ValueError as exc:
            argument, _, problem = str(exc).partition(" ")
            raise KafkaInputError(argument, problem) from None
        if not isinstance(password, str) or not password:
            raise KafkaInputError("password", "must be a non-empty string")  # never echo it
        created = mechanism not in self._scram_user(name)
        if not dry_run:
            upsertion = UserScramCredentialUpsertion(name, mechanism, password, iterations=iterations,
                                                     salt=scram.kafka_style_salt())
            self._alter_scram(f"storing the SCRAM credential of user '{name}'", [], [upsertion])
        return {"user": name, "mechanism": mechanism, "iterations": iterations, "created": created}

    def _alter_scram(self, what, deletions, upsertions):
        """Raw request: AlterUserScramCredentials, to the controller (ZooKeeper-mode brokers answer
        NOT_CONTROLLER otherwise, which kafka-python 3.0.12 reports as success)."""
        from kafka.protocol.admin import AlterUserScramCredentialsRequest

        request = AlterUserScramCredentialsRequest(
            deletions=[(item.user, int(item.mechanism)) for item in deletions],
            upsertions=[(item.user, int(item.mechanism), item.iterations, item.salt, item.salted_password)
                        for item in upsertions])
        response = self._send_to_controller(what, request,
                                            lambda reply: [result.error_code for result in reply.results])
        for result in response.results:
            if result.error_code != _NO_ERROR:
                raise self._protocol_error(what, result.error_code, result.error_message)

    def delete_scram_user(self, name, mechanism=None, dry_run=False):
        """Delete ``name``'s credential for ``mechanism`` (all mechanisms when None).

        Returns the sorted list of mechanisms removed (empty when there was nothing to delete).
        """
        from kafka.admin import UserScramCredentialDeletion

        try:
            scram.validate_username(name, "name")
            wanted = [scram.normalize_mechanism(mechanism)] if mechanism is not None else None
        except ValueError as exc:
            argument, _, problem = str(exc).partition(" ")
            raise KafkaInputError(argument, problem) from None
        present = self._scram_user(name)
        mechanisms = sorted(m for m in (wanted or present) if m in present)
        if mechanisms and not dry_run:
            self._alter_scram(f"deleting the SCRAM credential of user '{name}'",
                              [UserScramCredentialDeletion(name, m) for m in mechanisms], [])
        return mechanisms


def _mechanism_name(mechanism):
    """kafka-python's ScramMechanism enum -> Kafka's spelling (SCRAM-SHA-512)."""
    return mechanism.name.replace("_", "-")
