{#- The service is started when it is not running, never restarted here: a config change is
    rolled one member at a time by `zookeeper.deploy` (followers first, leader last). #}
{%- set zk = salt['zookeeper_ensemble.host_plan']() %}
zookeeper-unit:
  file.managed:
{%- if zk.service_manager == 'systemd' %}
    - name: /etc/systemd/system/{{ zk.service }}.service
    - contents: {{ salt['zookeeper_ensemble.render']('systemd') | yaml_encode }}
{%- else %}
    - name: /etc/supervisor/conf.d/{{ zk.service }}.conf
    - contents: {{ salt['zookeeper_ensemble.render']('supervisord') | yaml_encode }}
{%- endif %}
    - mode: '0644'

zookeeper-service:
  kafka_service.running:
    - name: {{ zk.service }}
    - manager: {{ zk.service_manager }}
    - require:
      - file: zookeeper-unit
      - file: zookeeper-zoo-cfg
      - file: zookeeper-myid
      - file: zookeeper-jaas.conf
      - file: zookeeper-java.args
      - file: zookeeper-dirs
      - zookeeper-release
