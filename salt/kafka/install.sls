{%- set kafka = salt['kafka.host_plan']() %}
kafka-user:
  user.present:
    - name: {{ kafka.user }}
    - system: True
    - home: /var/lib/kafka
    - createhome: False
    - shell: /usr/sbin/nologin

kafka-release:
  archive.extracted:
    - name: {{ kafka.install_root }}
    - source: {{ kafka.source }}
    - source_hash: {{ kafka.source_hash }}
    - enforce_toplevel: True
    - if_missing: {{ kafka.install_dir }}
    - user: root
    - group: root

kafka-dirs:
  file.directory:
    - names:
{%- for log_dir in kafka.log_dirs %}
      - {{ log_dir }}
{%- endfor %}
      - {{ kafka.log_dir }}
    - user: {{ kafka.user }}
    - group: {{ kafka.user }}
    - mode: '0750'
    - makedirs: True
    - require:
      - user: kafka-user
{%- if kafka.jmx.enabled %}

kafka-jmx-exporter:
  file.managed:
    - name: {{ kafka.jmx.path }}
    - source: {{ kafka.jmx.source }}
    - source_hash: {{ kafka.jmx.source_hash }}
    - mode: '0644'
    - makedirs: True
{%- endif %}
