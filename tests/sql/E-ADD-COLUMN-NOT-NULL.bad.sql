-- ctx: tx=0
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS a int NOT NULL; -- expect
ALTER TABLE app.orders ADD COLUMN IF NOT EXISTS b text NOT NULL; -- expect
ALTER TABLE users ADD IF NOT EXISTS c boolean NOT NULL; -- expect
ALTER TABLE users ADD COLUMN IF NOT EXISTS d timestamptz NOT NULL, ADD COLUMN IF NOT EXISTS e int; -- expect
ALTER TABLE "Users" ADD COLUMN IF NOT EXISTS f uuid NOT NULL; -- expect
