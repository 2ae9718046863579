-- A plain file runs in one transaction unless it manages its own.
CREATE INDEX CONCURRENTLY IF NOT EXISTS i1 ON accounts (email); -- expect
DROP INDEX CONCURRENTLY IF EXISTS i2; -- expect
REINDEX INDEX CONCURRENTLY i3; -- expect
VACUUM accounts; -- expect
ALTER TABLE measurements DETACH PARTITION m2020 CONCURRENTLY; -- expect
