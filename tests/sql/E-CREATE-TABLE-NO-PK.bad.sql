CREATE TABLE IF NOT EXISTS a (id bigint, name text); -- expect
CREATE TABLE IF NOT EXISTS app.b (id bigint UNIQUE); -- expect
create table if not exists "C" (x int); -- expect
CREATE TABLE IF NOT EXISTS d AS SELECT 1 AS x; -- expect
CREATE TABLE IF NOT EXISTS e (LIKE a INCLUDING DEFAULTS); -- expect
CREATE UNLOGGED TABLE IF NOT EXISTS f (x int); -- expect
