{%- set kafka = salt['kafka.host_plan']() %}
kafka-config-dirs:
  file.directory:
    - names:
      - {{ kafka.config_dir }}
      - {{ kafka.tls_dir }}
    - user: root
    - group: {{ kafka.user }}
    - mode: '0750'

{#- Plain configuration: the diff is shown in state changes. #}
{%- for name in kafka.plain_files %}
kafka-{{ name }}:
  file.managed:
    - name: {{ kafka.config_dir }}/{{ name }}
    - contents: {{ salt['kafka.render'](name) | yaml_encode }}
    - user: root
    - group: {{ kafka.user }}
    - mode: '0640'
    - require:
      - file: kafka-config-dirs
{%- endfor %}

{#- Secrets (JAAS, private keys, admin client.properties): rendered at apply time, never shown. #}
{%- for name in kafka.secret_files %}
kafka-{{ name }}:
  file.managed:
    - name: {{ kafka.config_dir }}/{{ name }}
    - source: salt://kafka/files/rendered.jinja
    - template: jinja
    - context:
        renderer: kafka.render
        name: {{ name }}
    - show_changes: False
    - user: {{ kafka.user }}
    - group: {{ kafka.user }}
    - mode: '0600'
    - require:
      - file: kafka-config-dirs
{%- endfor %}
