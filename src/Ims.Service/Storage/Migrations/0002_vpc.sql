-- VPC slice: what the v1 subnet API echoes back and 0001 did not keep.

-- The IPv4 Neutron subnet behind a VPC subnet: terraform stores it as ipv4_subnet_id and ports name it in fixed_ips.
ALTER TABLE subnets ADD COLUMN neutron_subnet_id TEXT NOT NULL DEFAULT '';
-- The full DNS server list ("dnsList"); primary_dns and secondary_dns are its first two entries.
ALTER TABLE subnets ADD COLUMN dns_list TEXT NOT NULL DEFAULT '[]';
-- JSON array of {opt_name, opt_value}: addresstime, ntp, domainname, ipv6_addresstime.
ALTER TABLE subnets ADD COLUMN extra_dhcp_opts TEXT NOT NULL DEFAULT '[]';

CREATE INDEX vpcs_project_name ON vpcs (project_id, name);
