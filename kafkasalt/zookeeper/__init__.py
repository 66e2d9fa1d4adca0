"""The ZooKeeper ensemble: pillar model and validation, the files it runs from, status parsing and
health, quorum TLS switching, membership changes, and the client that talks to a member.
Pure Python: no Salt; only :mod:`~kafkasalt.zookeeper.client` opens connections.

The Salt states and execution modules call into this package; everything that decides *what*
ZooKeeper should look like (zoo.cfg, JAAS, the service command line) or *whether* something is
safe (ensemble health, roll order, membership changes) lives here so it can be unit-tested.

=====================  =============================================================
:mod:`.model`          constants, pillar defaults, :class:`~.model.EnsembleModel`
:mod:`.validate`       the ``zookeeper:`` pillar checks that build the model
:mod:`.render`         zoo.cfg, myid, JAAS, java.args, systemd unit, supervisord program
:mod:`.status`         ``srvr``/``mntr`` parsing, ensemble health, roll order
:mod:`.tls`            the rolls that switch quorum TLS on for a running ensemble
:mod:`.roll`           the ensemble roll and the TLS switch phases as gated engine steps
:mod:`.membership_rules`  which membership changes are safe, and their steps on paper
:mod:`.membership`     what runs now, the plan from it, and the gated execution
:mod:`.hostplan`       one member's host: paths, files (and which need a restart), service unit
:mod:`.client`         four-letter words and SASL/TLS kazoo sessions
=====================  =============================================================

Design decisions worth knowing
------------------------------
* Secrets. Passwords never appear in zoo.cfg, argv, the environment, reprs or error messages.
  They live only in ``/etc/zookeeper/jaas.conf`` (mode 0600). The operator's super user is a
  SASL login (``user_super`` in the JAAS ``Server`` section plus ``superUser=super`` in zoo.cfg),
  not ``-Dzookeeper.DigestAuthenticationProvider.superDigest``: in 3.8 the AdminServer's
  ``/commands/system_properties`` endpoint (no authentication before 3.9) prints every JVM
  system property, so a digest passed as a property -- even through a ``java @argfile``, which
  only hides it from ``ps`` -- would be readable by anyone who can reach the admin port.
  ``render.render_java_args(..., with_super_digest=True)`` remains for operators who explicitly
  want the digest scheme, with that caveat.
* The service runs ``java @/etc/zookeeper/java.args``. Every JVM option (heap, classpath,
  JAAS path) lives in that file, so the systemd unit and the supervisord program do not change
  with heap or version: such a change only touches java.args and is applied by the gated
  rolling restart, never by ``systemctl daemon-reload`` or ``supervisorctl update`` on their own.
* Client authentication is enforced: 3.7+ uses ``enforce.auth.enabled/enforce.auth.schemes``,
  3.6 the older equivalent ``sessionRequireClientSASLAuth``. 3.5 has neither, so it is refused.
* ``server.N=address:quorum:election`` without the ``;client`` suffix: the client endpoint is
  given once by ``clientPortAddress``/``clientPort`` (the suffix is for dynamic configs and 3.8
  cross-checks it against ``clientPort``, which only adds a way to disagree).
* ``reconfigEnabled=false``: the ensemble is static, so ZooKeeper never rewrites zoo.cfg behind
  Salt's back. Membership changes follow
  :func:`~kafkasalt.zookeeper.membership_rules.membership_change_plan`.
"""
