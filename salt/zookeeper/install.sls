{%- set zk = salt['zookeeper_ensemble.host_plan']() %}
zookeeper-user:
  user.present:
    - name: {{ zk.user }}
    - system: True
    - home: {{ zk.data_dir }}
    - createhome: False
    - shell: /usr/sbin/nologin

{%- if zk.install == 'package' %}
{#- The OS packages (Debian's zookeeper and what the AdminServer and logging need). Only the
    jars are used: the formula's own zoo.cfg, java.args and service run them. #}
zookeeper-release:
  pkg.installed:
    - pkgs: {{ zk.packages | json }}
    - refresh: True
{%- else %}
zookeeper-release:
  archive.extracted:
    - name: {{ zk.install_root }}
    - source: {{ zk.source }}
    - source_hash: {{ zk.source_hash }}
    - enforce_toplevel: True
    - if_missing: {{ zk.install_dir }}
    - user: root
    - group: root
{%- endif %}

zookeeper-dirs:
  file.directory:
    - names:
      - {{ zk.data_dir }}
      - {{ zk.data_log_dir }}
      - {{ zk.log_dir }}
    - user: {{ zk.user }}
    - group: {{ zk.user }}
    - mode: '0750'
    - makedirs: True
    - require:
      - user: zookeeper-user
