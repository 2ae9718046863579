-- ctx: tx=0
/* expect */ -- excon:allow E-DROP-COLUMN
ALTER TABLE users DROP COLUMN IF EXISTS a;
ALTER TABLE users DROP COLUMN IF EXISTS b; /* expect */ -- excon:allow E-DROP-COLUMN
/* excon:allow E-DROP-TABLE */ -- expect
DROP TABLE IF EXISTS c;
/* expect */ -- excon:allow
DROP TABLE IF EXISTS d;
/* expect */ --excon:allow E-UNBATCHED-UPDATE
UPDATE users SET a = 1;
