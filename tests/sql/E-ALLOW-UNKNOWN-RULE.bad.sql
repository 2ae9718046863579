-- ctx: tx=0
-- excon:allow E-DROP-COLUM typo in the id -- expect
ALTER TABLE users DROP COLUMN IF EXISTS a;
-- excon:allow e-drop-column ids are case-sensitive -- expect
ALTER TABLE users DROP COLUMN IF EXISTS b;
-- excon:allow E-DROP-TABLE,E-NOPE one good one bad -- expect
DROP TABLE IF EXISTS c;
SELECT 1; -- excon:allow DROP-COLUMN reason -- expect
/* excon:allow X reason */ SELECT 2; -- expect
