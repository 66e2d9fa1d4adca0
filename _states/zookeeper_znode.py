"""Znodes and their ACLs, managed as the ZooKeeper super user (SASL)."""

from salt.exceptions import CommandExecutionError

__virtualname__ = "zookeeper_znode"


def __virtual__():
    if "zookeeper_ensemble.znode_ensure" not in __salt__:
        return (False, "zookeeper_znode: the zookeeper_ensemble execution module is not available")
    return __virtualname__


def present(name, acl, data=None):
    """
    Ensure the znode ``name`` exists with exactly ``acl`` (and ``data`` when given).

    .. code-block:: yaml

        zookeeper-root-acl:
          zookeeper_znode.present:
            - name: /
            - acl: ['sasl:super:cdrwa', 'world:anyone:r']
    """
    ret = {"name": name, "changes": {}, "result": True, "comment": ""}
    try:
        diff = __salt__["zookeeper_ensemble.znode_ensure"](name, acl, data=data, dry_run=True)
        if not diff:
            ret["comment"] = f"znode {name} is as wanted"
            return ret
        if __opts__["test"]:
            ret.update(result=None, changes=diff, comment=f"znode {name} would be updated")
            return ret
        ret["changes"] = __salt__["zookeeper_ensemble.znode_ensure"](name, acl, data=data)
        ret["comment"] = f"znode {name} updated"
    except CommandExecutionError as exc:
        if __opts__["test"]:
            # Bare hosts under test=True: the ensemble does not run yet, so everything is to do.
            ret.update(result=None, changes={"created": name, "acl": {"new": sorted(acl)}},
                       comment=f"znode {name} would be created (ensemble not reachable: {exc})")
        else:
            ret.update(result=False, comment=str(exc))
    return ret
