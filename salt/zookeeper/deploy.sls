# salt-run state.orchestrate zookeeper.deploy
# Validate on the master, converge every member (never restarting), wait for quorum, secure the
# root znode, then roll pending restarts one member at a time: followers first, leader last.
{%- set plan = salt['saltutil.runner']('zookeeper_ensemble.plan') %}
{%- if not plan.get('result') %}
zookeeper-pillar-invalid:
  test.fail_without_changes:
    - name: {{ plan.get('Error', 'zookeeper pillar could not be validated') | yaml_encode }}
    - failhard: True
{%- else %}
zookeeper-members:
  salt.state:
    - tgt: {{ plan.members | join(',') }}
    - tgt_type: list
    - sls: zookeeper
    - failhard: True

zookeeper-quorum:
  kafka_orchestrate.runner:
    - name: zookeeper_ensemble.wait_healthy
    - require:
      - zookeeper-members

zookeeper-secure:
  salt.state:
    - tgt: {{ plan.members[0] }}
    - sls: zookeeper.secure
    - require:
      - zookeeper-quorum

zookeeper-roll:
  kafka_orchestrate.runner:
    - name: zookeeper_ensemble.roll
    - plans: True
    - require:
      - zookeeper-secure
{%- endif %}
