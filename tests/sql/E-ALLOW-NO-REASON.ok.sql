-- ctx: tx=0
-- excon:allow E-DROP-COLUMN column unused since v2.1, checked in logs
ALTER TABLE users DROP COLUMN IF EXISTS a;
ALTER TABLE users DROP COLUMN IF EXISTS b; -- excon:allow E-DROP-COLUMN unused
/* excon:allow E-DROP-TABLE replaced by new_c */
DROP TABLE IF EXISTS c;
-- excon:allowed is not a directive
DROP TABLE IF EXISTS d; -- excon:allow E-DROP-TABLE,W-NOT-IDEMPOTENT staging only
-- excon:allow E-UNBATCHED-UPDATE table has 12 rows
UPDATE users SET a = 1;
