{#- ZooKeeper TLS files, when zookeeper:tls:enabled: the cluster CA and the formula's own client
    keystore on every minion that talks to the ensemble (members and brokers), the member
    keystore (quorum and the TLS client port) on members. Keys come from the kafka_pki
    ext_pillar and are written through a template, so they never appear in state output. #}
{%- set tls = salt['zookeeper_ensemble.tls_plan']() %}
{%- if tls.enabled %}
zookeeper-tls-dir:
  file.directory:
    - name: {{ tls.dir }}
    - user: root
    - group: root
    - mode: '0755'
    - makedirs: True

zookeeper-tls-ca:
  file.managed:
    - name: {{ tls.dir }}/ca.pem
    - contents: {{ salt['zookeeper_ensemble.render']('tls/ca.pem') | yaml_encode }}
    - mode: '0644'
    - require:
      - file: zookeeper-tls-dir

{%- set keystores = [('client.pem', 'root')] + ([('member.pem', tls.user)] if tls.member else []) %}
{%- for name, owner in keystores %}

zookeeper-tls-{{ name }}:
  file.managed:
    - name: {{ tls.dir }}/{{ name }}
    - source: salt://kafka/files/rendered.jinja
    - template: jinja
    - context:
        renderer: zookeeper_ensemble.render
        name: tls/{{ name }}
    - show_changes: False
    - user: {{ owner }}
    - mode: '0600'
    - require:
      - file: zookeeper-tls-dir
{%- endfor %}
{%- endif %}
