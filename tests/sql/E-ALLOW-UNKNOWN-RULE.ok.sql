-- ctx: tx=0
-- excon:allow E-DROP-COLUMN unused
ALTER TABLE users DROP COLUMN IF EXISTS a;
-- excon:allow W-NOT-IDEMPOTENT run once by hand
CREATE SCHEMA app;
-- excon:allow E-DROP-TABLE,E-MULTI-TABLE-LOCK both tables unused
DROP TABLE IF EXISTS c, d;
-- excon:allow E-SYNTAX, E-UNBATCHED-DELETE a space ends the id list
DELETE FROM e;
-- excon:allow E-UNBATCHED-DELETE small table
DELETE FROM f;
