# Before the first broker starts (applied on one ZooKeeper member): Kafka's chroot znode owned by
# the brokers' ZooKeeper user, and the SCRAM super user and inter-broker user written straight
# into ZooKeeper — a broker authenticating its peers with SCRAM cannot start without them.
{%- set kafka = salt['kafka.bootstrap_plan']() %}
kafka-zookeeper-chroot:
  zookeeper_znode.present:
    - name: {{ kafka.chroot }}
    - acl: {{ kafka.chroot_acl | json }}

{%- for user in kafka.bootstrap_users %}
kafka-scram-user-{{ user.name }}:
  kafka_user.present:
    - name: {{ user.name }}
    - password_pillar: {{ user.password_pillar }}
    - mechanism: {{ kafka.sasl_mechanism }}
    - via: zookeeper
    - require:
      - zookeeper_znode: kafka-zookeeper-chroot
{%- endfor %}
