-- A port's allowed address pairs (a JSON array of {"ip_address","mac_address"}), which VPC's port update sets:
-- terraform's huaweicloud_compute_instance turns a NIC's source/destination check off with the pair 1.1.1.1/0.
ALTER TABLE ports ADD COLUMN allowed_address_pairs TEXT NOT NULL DEFAULT '[]';
