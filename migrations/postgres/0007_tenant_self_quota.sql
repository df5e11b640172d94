-- A tenant admin's own request quota (`PUT /v1/quota`): JSON {"rps", "burst"}, NULL for none.
-- It only lowers what the operator's (`quota`) or the instance's default allows.
ALTER TABLE tenants ADD COLUMN self_quota text;
