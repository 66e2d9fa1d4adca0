# salt-run state.orchestrate kafka.deploy
# Bare hosts to a running, secure cluster: validate everything on the master first (a bad pillar
# changes nothing), ZooKeeper ensemble, SCRAM bootstrap, then the brokers: all at once on bare
# hosts (nothing to lose) or when every broker runs (the state never restarts one), otherwise one
# at a time, each registered before the next starts; then a cluster check, pending restarts
# rolled safely through the step engine, the pillar's topics, users and ACLs, and the layout:
# drained brokers emptied and retired, new brokers given their share of partitions.
{%- set kafka_plan = salt['kafka_orchestrate.runner']('kafka.plan') %}
{%- if not kafka_plan.get('result') %}
kafka-pillar-invalid:
  test.fail_without_changes:
    - name: {{ kafka_plan.get('Error', 'kafka pillar could not be validated') | yaml_encode }}
    - failhard: True
{%- else %}
include:
  - zookeeper.deploy

kafka-bootstrap:
  salt.state:
    - tgt: {{ kafka_plan.zookeeper_members[0] }}
    - sls: kafka.bootstrap
    - failhard: True
    {#- The whole ZooKeeper orchestration, whichever states it rendered: when its plan refuses
        the pillar it renders only zookeeper-pillar-invalid, whose message must reach the
        operator (a requisite on one of its normal states would not even compile). #}
    - require:
      - sls: zookeeper.deploy
{%- set chain = namespace(previous='kafka-bootstrap') %}
{%- if kafka_plan.converge in ('first_start', 'all_running') %}

{#- Bare hosts (no broker ever ran: nothing to lose), or every broker running (the state
    never restarts one): one state run converges them all, then each must be registered.
    Starting a broker beside running ones goes one at a time (below). #}
kafka-brokers:
  salt.state:
    - tgt: {{ kafka_plan.brokers | join(',') }}
    - tgt_type: list
    - sls: kafka
    - failhard: True
    - require:
      - kafka-bootstrap
{%- set chain.previous = 'kafka-brokers' %}
{%- for minion in kafka_plan.brokers %}

kafka-broker-{{ minion }}-registered:
  kafka_orchestrate.runner:
    - name: kafka.wait_broker
    - broker_id: {{ kafka_plan.broker_ids[minion] }}
    - failhard: True
    - require:
      - {{ chain.previous }}
{%- if kafka_plan.converge == 'all_running' %}
    - onchanges:
      - kafka-brokers
{%- endif %}
{%- set chain.previous = 'kafka-broker-' ~ minion ~ '-registered' %}
{%- endfor %}
{%- else %}
{%- for minion in kafka_plan.brokers %}

kafka-broker-{{ minion }}:
  salt.state:
    - tgt: {{ minion }}
    - sls: kafka
    - failhard: True
    - require:
      - {{ chain.previous }}

{#- Only when the broker's state changed something (a broker left alone was already
    registered; kafka-cluster-verified checks every broker at the end anyway). #}
kafka-broker-{{ minion }}-registered:
  kafka_orchestrate.runner:
    - name: kafka.wait_broker
    - broker_id: {{ kafka_plan.broker_ids[minion] }}
    - failhard: True
    - onchanges:
      - kafka-broker-{{ minion }}
{%- set chain.previous = 'kafka-broker-' ~ minion ~ '-registered' %}
{%- endfor %}
{%- endif %}

kafka-cluster-verified:
  kafka_orchestrate.runner:
    - name: kafka.verify_cluster
    - failhard: True
    - require:
      - {{ chain.previous }}

kafka-dynamic-config:
  kafka_orchestrate.runner:
    - name: kafka.apply_config
    - plans: True
    - failhard: True
    - require:
      - kafka-cluster-verified

{#- JBOD: replicas leave log directories kafka:log_dirs no longer lists before the roll drops
    them (no replica is lost or fetched again over the network). #}
kafka-disks-evacuate:
  kafka_orchestrate.runner:
    - name: kafka.balance_disks
    - evacuate_only: True
    - plans: True
    - failhard: True
    - require:
      - kafka-dynamic-config

kafka-rolling-restart:
  kafka_orchestrate.runner:
    - name: kafka.rolling_restart
    - plans: True
    - failhard: True
    - require:
      - kafka-disks-evacuate

{#- After the roll: every broker's replicas evened out over the directories it now runs with. #}
kafka-disks:
  kafka_orchestrate.runner:
    - name: kafka.balance_disks
    - plans: True
    - failhard: True
    - require:
      - kafka-rolling-restart

kafka-content:
  salt.state:
    - tgt: {{ kafka_plan.brokers[0] }}
    - sls: kafka.content
    - require:
      - kafka-disks

{#- The layout kafka:brokers asks for: brokers marked drain are emptied and retired, a broker
    added to the pillar gets its share of partitions (kafka:rebalance:on_scale). #}
kafka-scale:
  kafka_orchestrate.runner:
    - name: kafka.scale
    - plans: True
    - failhard: True
    - require:
      - kafka-content
{%- endif %}
