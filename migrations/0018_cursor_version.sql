-- The detect and alert stages no longer hold their tenant's cursor row while they compute: they read
-- the cursor's version with their inputs, compute, and write in one transaction that first advances
-- the version from the one they read (mplp_advance_cursor). A worker whose reads another worker (or
-- an acknowledgement, which bumps the version under the row lock) overtook fails with
-- serialization_failure (40001) having written nothing, and reads again. On the embedded database the
-- writing transaction goes to the database's thread as one message, so it never holds the database
-- while the service's thread computes or is busy elsewhere (every other tenant's statements waited
-- behind those round trips); on a server it holds the row lock for its writes only.
ALTER TABLE pipeline_cursor ADD COLUMN version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION mplp_advance_cursor(p_tenant text, p_stage text, p_version bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  v bigint;
BEGIN
  INSERT INTO pipeline_cursor (tenant_id, stage) VALUES (p_tenant, p_stage) ON CONFLICT DO NOTHING;
  UPDATE pipeline_cursor SET version = version + 1
  WHERE tenant_id = p_tenant AND stage = p_stage AND version = p_version
  RETURNING version INTO v;
  IF v IS NULL THEN
    RAISE EXCEPTION 'the % cursor of tenant % moved past version %', p_stage, p_tenant, p_version USING ERRCODE = '40001';
  END IF;
  RETURN v;
END
$$;
