-- Statements that do not parse; the others around them are still read.
SELEC 1; -- expect
CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY,); -- expect
ALTER TABLE t ADD COLUMN IF NOT EXISTS; -- expect
SELECT 1;
UPDATE t SET WHERE id = 1; -- expect
DROP TABLE IF EXISTS; -- expect
INSERT INTO t VALUES (1; -- expect
