-- TimescaleDB gives a continuous aggregate's materialisation an index (column, bucket) per GROUP BY
-- column: the usage aggregates, grouped by 9 columns, had 9 indexes each, and every refresh wrote its
-- rows into all of them. Every reader (src/query/genaiUsage.ts, src/alerting/budgets.ts) selects one
-- tenant's buckets, which (tenant_id, bucket) serves; the other 7 (model, agent, tool, service_name,
-- user_id, conversation, kind) only cost the refresh (~0.8 µs per GenAI span, bench/genaiStages.ts).
DO $$
DECLARE
  ix record;
BEGIN
  FOR ix IN
    SELECT format('%I.%I', i.schemaname, i.indexname) AS name
    FROM _timescaledb_catalog.continuous_agg c
    JOIN _timescaledb_catalog.hypertable h ON h.id = c.mat_hypertable_id
    JOIN pg_indexes i ON i.schemaname = h.schema_name AND i.tablename = h.table_name
    WHERE c.user_view_name IN ('genai_usage_1m', 'genai_usage_1h') AND i.indexdef !~ '\((tenant_id, )?bucket DESC\)$'
  LOOP
    EXECUTE 'DROP INDEX ' || ix.name;
  END LOOP;
END
$$;
