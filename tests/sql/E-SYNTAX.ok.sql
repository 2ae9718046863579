SELECT 1;
CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY);
ALTER TABLE t ADD COLUMN IF NOT EXISTS a int;
UPDATE t SET a = 1 WHERE id = 1;
SELECT 'a;b' AS "x;y", $$ ; $$ AS z;
/* a ; comment */ SELECT 2;
