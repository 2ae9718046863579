-- ctx: tx=0
DROP TRIGGER IF EXISTS sync_name ON users; -- expect
DROP TRIGGER IF EXISTS t1 ON app.orders; -- expect
drop trigger if exists "T2" on "Users"; -- expect
DROP TRIGGER IF EXISTS t3 ON orders CASCADE; -- expect
DROP TRIGGER IF EXISTS audit ON public.accounts; -- expect
