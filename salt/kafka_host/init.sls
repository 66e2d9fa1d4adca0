# Host tuning shared by ZooKeeper members and brokers (seed list: swappiness, dirty ratios,
# max_map_count from the partition estimate, socket buffers, backlogs, nofile). Values come from
# kafka.host_tuning (sized from the kafka_hardware grain); pillar kafka_host:kernel_tuning overrides.
{%- set tuning = salt['kafka.host_tuning']() %}
kafka-host-sysctl:
  file.managed:
    - name: /etc/sysctl.d/60-kafka.conf
    - contents: {{ tuning.sysctl_conf | yaml_encode }}
    - mode: '0644'
{%- if tuning.apply_live %}
  cmd.run:
    - name: sysctl -p /etc/sysctl.d/60-kafka.conf
    - onchanges:
      - file: kafka-host-sysctl
{%- endif %}

kafka-host-limits:
  file.managed:
    - name: /etc/security/limits.d/60-kafka.conf
    - contents: {{ tuning.limits_conf | yaml_encode }}
    - mode: '0644'
