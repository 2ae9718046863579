-- ctx: tx=0
ALTER TABLE users RENAME TO people; -- expect
ALTER TABLE app.orders RENAME TO purchases; -- expect
ALTER TABLE IF EXISTS accounts RENAME TO customers; -- expect
alter table "Items" rename to items; -- expect
ALTER TABLE public.logs RENAME TO events; -- expect
