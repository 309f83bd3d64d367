"""The DNS facade: names the platform team controls, in front of the brokers.

config         the `dns:` section of migration.yaml
records        what a name holds (RRsets), and how targets become records
ownership      the TXT marker beside each name we create; names without it are never touched
provider       the interface of rfc2136 (dnspython UPDATE + TSIG) and route53 (boto3 change batches)
facade         repoint / restore: every write, ownership-checked and conditional on what was read
wire           one query or update to one named server, with a short retry
verify         ask every authoritative server directly until all answer what we wrote
resolve        the client's view: bootstrap name -> bootstrap.servers, against a given server
clients_scan   find and rewrite client configs that name brokers directly
"""
