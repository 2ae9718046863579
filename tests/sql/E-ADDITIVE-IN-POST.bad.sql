-- ctx: phase=expand stage=post kind=sql tx=1
ALTER TABLE users ADD COLUMN IF NOT EXISTS a int; -- expect
CREATE TABLE IF NOT EXISTS b (id bigint PRIMARY KEY); -- expect
CREATE INDEX IF NOT EXISTS c ON users (a); -- expect
ALTER TABLE app.orders ADD IF NOT EXISTS d text; -- expect
CREATE TABLE IF NOT EXISTS e AS SELECT 1 AS id; -- expect
