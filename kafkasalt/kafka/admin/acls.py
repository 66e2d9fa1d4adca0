"""ACL bindings: list, add and remove exactly the given bindings."""

from __future__ import annotations

import logging

from kafkasalt.security import acl as acl_model
from kafkasalt.common.errors import PillarErrors
from kafkasalt.kafka.admin.connection import _NO_ERROR, _TOPIC_READY_TIMEOUT_MS, KafkaAdminError, KafkaInputError

log = logging.getLogger(__name__)


class AclsMixin:
    """The ACL operations of :class:`~kafkasalt.kafka.admin.KafkaAdmin`."""

    def list_acls(self, principal=None, resource_type=None, resource_name=None):
        """ACL bindings (sorted :class:`kafkasalt.security.acl.AclBinding`), optionally only those of
        one principal, resource type and/or exact resource name (LITERAL and PREFIXED alike).
        """
        from kafka.admin import (ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
                                 ResourcePatternFilter, ResourceType)

        if principal is not None:
            principal = _normalize_principal(principal)
        kind = ResourceType.ANY
        if resource_type is not None:
            name = str(resource_type).strip().upper()
            if name not in acl_model.RESOURCE_TYPES:
                raise KafkaInputError("resource_type", f"must be one of {', '.join(acl_model.RESOURCE_TYPES)}, "
                                                       f"got {resource_type!r}")
            kind = ResourceType[name]
        if resource_name is not None and (not isinstance(resource_name, str) or not resource_name):
            raise KafkaInputError("resource_name", f"must be a non-empty string, got {resource_name!r}")
        acl_filter = ACLFilter(principal=principal, host=None, operation=ACLOperation.ANY,
                               permission_type=ACLPermissionType.ANY,
                               resource_pattern=ResourcePatternFilter(kind, resource_name, ACLResourcePatternType.ANY))
        return sorted(self._describe_acls(acl_filter))

    def _describe_acls(self, acl_filter, node_id=None):
        """Raw request: DescribeAcls on one broker (any when ``node_id`` is None) -> set of bindings."""
        from kafka.admin import ResourceType
        from kafka.protocol.admin import DescribeAclsRequest

        pattern = acl_filter.resource_pattern
        request = DescribeAclsRequest(
            min_version=3 if pattern.resource_type == ResourceType.USER else 0,
            resource_type_filter=pattern.resource_type, resource_name_filter=pattern.resource_name,
            pattern_type_filter=pattern.pattern_type, principal_filter=acl_filter.principal,
            host_filter=acl_filter.host, operation=acl_filter.operation, permission_type=acl_filter.permission_type)
        response = self._send("listing ACLs", request, node_id)
        if response.error_code != _NO_ERROR:
            raise self._protocol_error("listing ACLs", response.error_code, response.error_message)
        found, _ = self.connect()._convert_describe_acls_response_to_acls(response)
        return self._to_bindings(found)

    def _wait_for_acls(self, present=(), absent=(), timeout_ms=_TOPIC_READY_TIMEOUT_MS):
        """Brokers refresh their ACL cache when ZooKeeper notifies them: wait until every broker
        reports ``present`` and none reports ``absent``, so that the next read sees this write."""
        from kafka.admin import ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType, \
            ResourcePatternFilter, ResourceType

        present, absent = set(present), set(absent)
        principals = sorted({binding.principal for binding in present | absent})
        filters = [ACLFilter(principal=principal, host=None, operation=ACLOperation.ANY,
                             permission_type=ACLPermissionType.ANY,
                             resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))
                   for principal in principals]

        def ready(broker_id):
            seen = set()
            for acl_filter in filters:
                seen |= self._describe_acls(acl_filter, node_id=broker_id)
            return present <= seen and not absent & seen

        brokers = [broker["id"] for broker in self.describe_cluster()["brokers"]]
        pending = self._wait_for_every_broker(brokers, ready, timeout_ms)
        if pending:
            raise KafkaAdminError(f"ACL change accepted, but broker(s) {', '.join(map(str, pending))} "
                                  f"did not apply it within {timeout_ms} ms")

    def _to_bindings(self, kafka_acls):
        bindings = set()
        for item in kafka_acls:
            try:
                bindings.add(acl_model.AclBinding(
                    resource_type=item.resource_pattern.resource_type.name,
                    resource_name=item.resource_pattern.resource_name,
                    pattern_type=item.resource_pattern.pattern_type.name,
                    principal=item.principal, host=item.host, operation=item.operation.name,
                    permission=item.permission_type.name))
            except acl_model.AclError as exc:
                # Written by another tool with a form our model refuses (e.g. Group: principals).
                log.warning("ignoring ACL %s %s on %s:%s: %s", item.principal, item.operation.name,
                            item.resource_pattern.resource_type.name, item.resource_pattern.resource_name, exc)
        return bindings

    @staticmethod
    def _check_bindings(bindings):
        """A sorted, duplicate-free list of AclBinding from AclBinding objects and/or pillar-style
        entries (binding or role mappings, see :func:`kafkasalt.security.acl.parse_bindings`)."""
        if isinstance(bindings, acl_model.AclBinding):
            bindings = [bindings]
        if isinstance(bindings, (str, bytes, dict)) or not isinstance(bindings, (list, tuple, set, frozenset)):
            raise KafkaInputError("bindings", "must be a list of AclBinding objects or ACL mappings")
        ready, entries = set(), []
        for index, binding in enumerate(bindings):
            if isinstance(binding, acl_model.AclBinding):
                ready.add(binding)
            elif isinstance(binding, dict):
                entries.append((index, binding))
            else:
                raise KafkaInputError(f"bindings:{index}", f"must be an AclBinding or an ACL mapping, "
                                                           f"got {type(binding).__name__}")
        for index, entry in entries:
            try:
                ready.update(acl_model.parse_bindings([entry], key="bindings"))
            except PillarErrors as exc:
                first = exc.errors[0]
                # parse_bindings numbers entries from 0 within the one-entry list: put the real index back.
                key = first.key.replace("bindings:0", f"bindings:{index}", 1)
                raise KafkaInputError(key, first.message) from None
        return sorted(ready)

    @staticmethod
    def _kafka_acl(binding):
        from kafka.admin import (ACL, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern,
                                 ResourceType)

        return ACL(principal=binding.principal, host=binding.host, operation=ACLOperation[binding.operation],
                   permission_type=ACLPermissionType[binding.permission],
                   resource_pattern=ResourcePattern(ResourceType[binding.resource_type], binding.resource_name,
                                                    ACLResourcePatternType[binding.pattern_type]))

    def add_acls(self, bindings, dry_run=False):
        """Create the bindings that do not exist yet; returns those (sorted), empty if none.

        ``bindings``: :class:`kafkasalt.security.acl.AclBinding` objects and/or the pillar's ACL
        entries (binding mappings or role mappings such as ``{role: consumer, principal: User:app,
        topic: orders, group_prefix: app-}``).
        """
        wanted = self._check_bindings(bindings)
        if not wanted:
            return []
        existing = self._existing_bindings(wanted)
        missing = [binding for binding in wanted if binding not in existing]
        if missing and not dry_run:
            result = self._call("creating ACLs", lambda client: client.create_acls(
                [self._kafka_acl(binding) for binding in missing]))
            if result["failed"]:
                names = ", ".join(sorted({error.__name__ for error in result["failed"]}))
                raise KafkaAdminError(f"creating ACLs: {len(result['failed'])} of {len(missing)} failed ({names})")
            self._wait_for_acls(present=missing)
        return missing

    def _existing_bindings(self, bindings):
        """The bindings that exist now for the principals of ``bindings`` (one list per principal)."""
        existing = set()
        for principal in sorted({binding.principal for binding in bindings}):
            existing.update(self.list_acls(principal=principal))
        return existing

    def remove_acls(self, bindings, dry_run=False):
        """Delete exactly these bindings (every filter field concrete, so nothing wider can match).
        Returns the bindings that existed and were removed, sorted. ``bindings`` as for
        :meth:`add_acls`.
        """
        from kafka.admin import ACLFilter, ResourcePatternFilter

        wanted = self._check_bindings(bindings)
        if not wanted:
            return []
        existing = self._existing_bindings(wanted)
        present = [binding for binding in wanted if binding in existing]
        if not present or dry_run:
            return present
        filters = []
        for binding in present:
            concrete = self._kafka_acl(binding)
            filters.append(ACLFilter(principal=concrete.principal, host=concrete.host, operation=concrete.operation,
                                     permission_type=concrete.permission_type,
                                     resource_pattern=ResourcePatternFilter(
                                         concrete.resource_pattern.resource_type,
                                         concrete.resource_pattern.resource_name,
                                         concrete.resource_pattern.pattern_type)))
        results = self._call("deleting ACLs", lambda client: client.delete_acls(filters))
        removed = set()
        for _, matched, error in results:
            if error.errno not in (None, _NO_ERROR):
                raise KafkaAdminError(f"deleting ACLs: {error.__name__}")
            removed.update(self._to_bindings(matched))
        unexpected = removed - set(present)
        if unexpected:  # cannot happen with fully concrete filters; say so loudly if it ever does
            raise KafkaAdminError(f"deleting ACLs removed bindings that were not asked for: "
                                  f"{', '.join(str(b) for b in sorted(unexpected))}")
        self._wait_for_acls(absent=removed)
        return sorted(removed)


def _normalize_principal(principal):
    try:
        return acl_model._principal(principal)  # the ACL model's own rule: User:<name>
    except acl_model.AclError as exc:
        raise KafkaInputError("principal", exc.message) from None
