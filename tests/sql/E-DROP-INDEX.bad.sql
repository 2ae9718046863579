-- ctx: tx=0
DROP INDEX CONCURRENTLY IF EXISTS users_email; -- expect
DROP INDEX CONCURRENTLY IF EXISTS app.orders_total; -- expect
drop index concurrently if exists "Idx"; -- expect
DROP INDEX IF EXISTS a_idx; -- expect
DROP INDEX CONCURRENTLY IF EXISTS public.b_idx; -- expect
