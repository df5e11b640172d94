-- A tenant's own request quota (`grantd tenant quota`): JSON {"rps", "burst"}, NULL for none.
ALTER TABLE tenants ADD COLUMN quota TEXT;
