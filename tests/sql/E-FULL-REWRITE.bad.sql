-- ctx: tx=0
VACUUM FULL users; -- expect
VACUUM (FULL, ANALYZE) app.orders; -- expect
CLUSTER users USING users_pkey; -- expect
ALTER TABLE users SET TABLESPACE fast; -- expect
ALTER TABLE users SET UNLOGGED; -- expect
ALTER TABLE users SET LOGGED; -- expect
