-- ctx: tx=0
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS a uuid DEFAULT gen_random_uuid(); -- expect
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS b double precision DEFAULT random(); -- expect
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS c timestamptz DEFAULT clock_timestamp(); -- expect
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS d bigint DEFAULT nextval('s'); -- expect
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS e bigserial; -- expect
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS f serial; -- expect
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS g smallserial; -- expect
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS h bigint GENERATED ALWAYS AS IDENTITY; -- expect
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS i int GENERATED ALWAYS AS (a_len * 2) STORED; -- expect
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS j text DEFAULT md5(random()::text); -- expect
