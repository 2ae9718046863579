-- ctx: tx=0
ALTER TABLE users RENAME COLUMN name TO full_name; -- expect
ALTER TABLE users RENAME name TO full_name; -- expect
ALTER TABLE app.orders RENAME COLUMN total TO amount; -- expect
ALTER TABLE IF EXISTS users RENAME COLUMN email TO mail; -- expect
alter table "Users" rename column "Name" to name; -- expect
