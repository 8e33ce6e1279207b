-- The provisioning log records the extensions of a resource's lifetime
-- (POST infra/v1/resources/:id/extend) beside provisions, deprovisions and reaps.
ALTER TABLE infra_provisionings DROP CONSTRAINT IF EXISTS infra_provisionings_operation_check;
ALTER TABLE infra_provisionings ADD CONSTRAINT infra_provisionings_operation_check
	CHECK (operation IN ('provision', 'deprovision', 'reap', 'extend'));
