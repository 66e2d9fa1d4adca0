# salt-run state.orchestrate zookeeper.deploy
# Validate on the master, carry out a membership change step by step when pillar adds or
# removes members, converge every member (never restarting), wait for quorum, secure the root
# znode, then roll pending restarts one member at a time: followers first, leader last.
{%- set plan = salt['kafka_orchestrate.runner']('zookeeper_ensemble.plan') %}
{%- if not plan.get('result') %}
zookeeper-pillar-invalid:
  test.fail_without_changes:
    - name: {{ plan.get('Error', 'zookeeper pillar could not be validated') | yaml_encode }}
    - failhard: True
{%- else %}
{%- if plan.membership_change %}

{#- Members added or removed: one member at a time, keeping quorum (never every member's
    server list at once, which could let two halves elect two leaders). #}
zookeeper-membership:
  kafka_orchestrate.runner:
    - name: zookeeper_ensemble.change_membership
    - plans: True
    - failhard: True
{%- endif %}

{%- if plan.quorum_tls_switch %}

{#- Quorum TLS switched on for a running ensemble: two rolls through port unification first, so
    members with and without TLS keep talking; the final roll is zookeeper-roll below. #}
zookeeper-quorum-tls:
  kafka_orchestrate.runner:
    - name: zookeeper_ensemble.switch_quorum_tls
    - plans: True
    - failhard: True
{%- endif %}

zookeeper-members:
  salt.state:
    - tgt: {{ plan.members | join(',') }}
    - tgt_type: list
    - sls: zookeeper
    - failhard: True
{%- if plan.membership_change or plan.quorum_tls_switch %}
    - require:
      - {{ 'zookeeper-membership' if plan.membership_change else 'zookeeper-quorum-tls' }}
{%- endif %}

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
