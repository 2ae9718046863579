-- ctx: tx=0
DROP INDEX IF EXISTS i1; -- expect
DROP INDEX IF EXISTS app.i2; -- expect
drop index if exists i3 cascade; -- expect
DROP INDEX IF EXISTS "I4"; -- expect
DROP INDEX IF EXISTS i5, i6; -- expect
