-- ctx: tx=0
ALTER TABLE users DROP COLUMN IF EXISTS name; -- expect
ALTER TABLE users DROP IF EXISTS email; -- expect
ALTER TABLE app.orders DROP COLUMN IF EXISTS total CASCADE; -- expect
alter table "Users" drop column if exists "Name"; -- expect
ALTER TABLE users ADD COLUMN IF NOT EXISTS a int, DROP COLUMN IF EXISTS b; -- expect
