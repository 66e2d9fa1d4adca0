"""Security material the models and the admin client share: the cluster CA and its certificates
(:mod:`.pki`, kept on the master by :mod:`.pki_store`), SCRAM credentials as Kafka stores them
(:mod:`.scram`) and the ACL model (:mod:`.acl`)."""
