-- ctx: phase=expand stage=pre kind=sql tx=1
ALTER TABLE users ADD COLUMN IF NOT EXISTS a int;
CREATE TABLE IF NOT EXISTS b (id bigint PRIMARY KEY);
CREATE INDEX IF NOT EXISTS c ON b (id);
ALTER TABLE app.orders ADD IF NOT EXISTS d text;
UPDATE users SET a = 1 WHERE id < 10;
