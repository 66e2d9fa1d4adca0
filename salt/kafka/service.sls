{#- Started when not running, never restarted here: static config changes are rolled one
    broker at a time by the orchestration, gated on replica health. #}
{%- set kafka = salt['kafka.host_plan']() %}
kafka-unit:
  file.managed:
{%- if kafka.service_manager == 'systemd' %}
    - name: /etc/systemd/system/{{ kafka.service }}.service
    - contents: {{ salt['kafka.render']('systemd') | yaml_encode }}
{%- else %}
    - name: /etc/supervisor/conf.d/{{ kafka.service }}.conf
    - contents: {{ salt['kafka.render']('supervisord') | yaml_encode }}
{%- endif %}
    - mode: '0644'

kafka-service:
  kafka_service.running:
    - name: {{ kafka.service }}
    - manager: {{ kafka.service_manager }}
    - require:
      - file: kafka-unit
      - archive: kafka-release
      - file: kafka-dirs
{%- for name in kafka.plain_files + kafka.secret_files %}
      - file: kafka-{{ name }}
{%- endfor %}
{%- if kafka.jmx.enabled %}
      - file: kafka-jmx-exporter
{%- endif %}

{#- A renewed certificate or a changed CA bundle is loaded by the running broker, without a
    restart (the key and trust stores are not restart files). #}
kafka-tls-loaded:
  kafka_service.tls_loaded:
    - name: {{ kafka.service }}
    - require:
      - kafka_service: kafka-service

{#- What the broker started with: later pillar changes are classified against it (dynamic keys
    applied live, static ones rolled). #}
kafka-started-config:
  module.run:
    - kafka.snapshot_started_config: []
    - onchanges:
      - kafka_service: kafka-service
