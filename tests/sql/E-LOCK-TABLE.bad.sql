-- Explicit locks that block the application's writes, in any phase.
LOCK TABLE users; -- expect
LOCK TABLE users IN ACCESS EXCLUSIVE MODE; -- expect
LOCK users IN SHARE MODE NOWAIT; -- expect
lock table public.orders in exclusive mode; -- expect
LOCK TABLE app.events IN SHARE ROW EXCLUSIVE MODE; -- expect
