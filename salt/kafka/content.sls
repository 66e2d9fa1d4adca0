# The cluster's contents from pillar: SCRAM users (passwords by pillar key only), topics and
# ACLs. Applied on one broker host after the cluster is verified; idempotent.
{%- set content = salt['kafka.content_plan']() %}
kafka-content:
  test.succeed_without_changes:
    - name: "pillar asks for {{ content.users | length }} users, {{ content.topics | length }} topics, {{ content.acls | length }} ACL bindings"
{%- for user in content.users %}
kafka-user-{{ user.name }}:
  kafka_user.present:
    - name: {{ user.name }}
    - password_pillar: {{ user.password_pillar }}
{%- endfor %}
{%- for topic in content.topics %}

kafka-topic-{{ topic.name }}:
  kafka_topic.present:
    - name: {{ topic.name }}
    - partitions: {{ topic.partitions }}
    - replication_factor: {{ topic.replication_factor }}
    - config: {{ topic.config | json }}
{%- endfor %}
{%- if content.acls %}

kafka-acls:
  kafka_acl.present:
    - name: kafka:acls
    - bindings: {{ content.acls | json }}
    - require:
{%- for user in content.users %}
      - kafka-user-{{ user.name }}
{%- endfor %}
{%- for topic in content.topics %}
      - kafka-topic-{{ topic.name }}
{%- endfor %}
{%- endif %}
