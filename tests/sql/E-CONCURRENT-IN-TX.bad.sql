-- ctx: assume-tx=1 (lint.assume_in_transaction): one transaction unless the file manages its own.
CREATE INDEX CONCURRENTLY IF NOT EXISTS i1 ON accounts (email); -- expect
DROP INDEX CONCURRENTLY IF EXISTS i2; -- expect
REINDEX INDEX CONCURRENTLY i3; -- expect
VACUUM accounts; -- expect
ALTER TABLE measurements DETACH PARTITION m2020 CONCURRENTLY; -- expect
