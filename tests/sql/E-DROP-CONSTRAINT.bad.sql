-- ctx: tx=0
ALTER TABLE users DROP CONSTRAINT IF EXISTS users_email_key; -- expect
ALTER TABLE app.orders DROP CONSTRAINT IF EXISTS fk1; -- expect
alter table "Users" drop constraint if exists "C1"; -- expect
ALTER TABLE users DROP CONSTRAINT IF EXISTS c2 CASCADE; -- expect
ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_pkey; -- expect
