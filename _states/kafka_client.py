"""An application's access to Kafka in one state — the analog of Charmed Kafka's data-integrator:
a SCRAM user, its topic, role ACLs (producer / consumer / admin) with a consumer-group prefix,
and a 0600 client.properties on the minion the state runs on.
"""

from salt.exceptions import CommandExecutionError, SaltInvocationError

__virtualname__ = "kafka_client"


def __virtual__():
    if "kafka.write_client_properties" not in __salt__:
        return (False, "kafka_client: the kafka execution module is not available")
    return __virtualname__


def present(name, password_pillar, topic, roles=("producer", "consumer"), group_prefix=None,
            partitions=None, replication_factor=None, topic_config=None, path=None, owner="root"):
    """
    Give application user ``name`` access to ``topic``.

    roles
        Any of ``producer``, ``consumer``, ``admin``.
    group_prefix
        Consumer groups the user may use (PREFIXED); defaults to ``<name>-``.
    partitions
        When given, the topic is created/grown (with ``replication_factor`` and ``topic_config``).
    path
        client.properties to write (default ``/etc/kafka/clients/<name>.properties``).

    .. code-block:: yaml

        orders-app:
          kafka_client.present:
            - password_pillar: kafka:users:orders-app:password
            - topic: orders
            - partitions: 6
            - roles: [producer, consumer]
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    path = path or f"/etc/kafka/clients/{name}.properties"
    group_prefix = group_prefix or f"{name}-"
    roles = [roles] if isinstance(roles, str) else list(roles)
    unknown = sorted(set(roles) - {"producer", "consumer", "admin"})
    if unknown or not roles:
        ret.update(result=False, comment=f"roles: must be a non-empty list of producer, consumer, admin; got {roles}")
        return ret
    steps = [("user", lambda: __states__["kafka_user.present"](name, password_pillar=password_pillar))]
    if partitions is not None:
        steps.append(("topic", lambda: __states__["kafka_topic.present"](
            topic, partitions=partitions, replication_factor=replication_factor, config=topic_config or {})))
    bindings = [{"role": role, "principal": f"User:{name}", "topic": topic, "group_prefix": group_prefix} for role in roles]
    steps.append(("acls", lambda: __states__["kafka_acl.present"](f"User:{name}", bindings=bindings)))
    comments = []
    for label, step in steps:
        result = step()
        if result["changes"]:
            ret["changes"][label] = result["changes"]
        comments.append(result["comment"])
        if result["result"] is False:
            ret.update(result=False, comment="; ".join(comments))
            return ret
        if result["result"] is None:
            ret["result"] = None
    try:
        written = __salt__["kafka.write_client_properties"](path, name, password_pillar, owner=owner,
                                                            dry_run=bool(__opts__["test"]))
    except (CommandExecutionError, SaltInvocationError) as exc:
        ret.update(result=False, comment="; ".join(comments + [str(exc)]))
        return ret
    if written["changed"]:
        ret["changes"]["files"] = {f: "written (0600, content hidden)" for f in written["changed"]}
        if __opts__["test"]:
            ret["result"] = None
    comments.append(f"client properties at {path}")
    ret["comment"] = "; ".join(comments)
    return ret
