{%- set zk = salt['zookeeper_ensemble.host_plan']() %}
zookeeper-config-dir:
  file.directory:
    - name: {{ zk.config_dir }}
    - user: root
    - group: {{ zk.user }}
    - mode: '0750'

zookeeper-zoo-cfg:
  file.managed:
    - name: {{ zk.config_dir }}/zoo.cfg
    - contents: {{ salt['zookeeper_ensemble.render']('zoo.cfg') | yaml_encode }}
    - user: root
    - group: {{ zk.user }}
    - mode: '0640'
    - require:
      - file: zookeeper-config-dir

zookeeper-myid:
  file.managed:
    - name: {{ zk.data_dir }}/myid
    - contents: {{ salt['zookeeper_ensemble.render']('myid') | yaml_encode }}
    - user: {{ zk.user }}
    - group: {{ zk.user }}
    - mode: '0640'

{%- for secret_file in ('jaas.conf', 'java.args') %}
zookeeper-{{ secret_file }}:
  file.managed:
    - name: {{ zk.config_dir }}/{{ secret_file }}
    - source: salt://kafka/files/rendered.jinja
    - template: jinja
    - context:
        renderer: zookeeper_ensemble.render
        name: {{ secret_file }}
    - show_changes: False
    - user: {{ zk.user }}
    - group: {{ zk.user }}
    - mode: '0600'
    - require:
      - file: zookeeper-config-dir
{%- endfor %}
