# Znode ACLs so that only authenticated principals can write (on top of enforce.auth.enabled,
# which already refuses unauthenticated sessions). Applied on one member.
zookeeper-root-acl:
  zookeeper_znode.present:
    - name: /
    - acl:
      - 'sasl:super:cdrwa'
      - 'world:anyone:r'
