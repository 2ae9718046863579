-- ctx: tx=0
CREATE TABLE a (id bigint PRIMARY KEY); -- expect
CREATE INDEX CONCURRENTLY i ON users (a); -- expect
ALTER TABLE users ADD COLUMN b int; -- expect
DROP TABLE a; -- expect
DROP INDEX CONCURRENTLY i; -- expect
ALTER TABLE users DROP COLUMN b; -- expect
CREATE SCHEMA app; -- expect
CREATE SEQUENCE s; -- expect
