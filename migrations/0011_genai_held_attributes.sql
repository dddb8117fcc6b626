-- A GenAI span's recognised attributes (gen_ai.*, OpenInference's) were stored twice: in the attributes
-- jsonb and in the genai_* columns of 0009 (~7 µs of insert per GenAI span, bench/genaiStages.ts). An
-- attribute whose value its column holds exactly now leaves the jsonb, and bit i of genai_held says that
-- key i of src/ingest/genai/heldAttributes.ts was sent; readers put it back from the column
-- (spanAttributesSql there). NULL: nothing held (every plain span, and every span stored before).
ALTER TABLE spans ADD COLUMN genai_held integer;
